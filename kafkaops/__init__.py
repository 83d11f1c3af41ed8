"""kafkaops: a local Kafka pipeline (ZooKeeper, broker, topic, PostgreSQL producer) run by one command."""

__version__ = "0.1.0"
