"""Kafka Connect (distributed mode) with Debezium's PostgreSQL connector: install, workers, the CDC connector."""
