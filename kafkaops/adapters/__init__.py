"""The only modules that talk to the outside: processes, Java, ZooKeeper, Kafka, PostgreSQL, files."""
