"""The files kafkaops writes for a single-node local pipeline: configs and the logging setup.

Data lives under KAFKAOPS_HOME/data, never under /tmp (which many systems empty on reboot).
"""

from __future__ import annotations

from pathlib import Path

from kafkaops.adapters.javaprops import write_properties

# One log file per service: kafkaops passes -Dkafka.logs.dir=<its own folder> to each JVM.
LOG4J_PROPERTIES = """\
# Written by kafkaops: each service logs to ${kafka.logs.dir}/server.log (its own folder).
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=${kafka.logs.dir}/server.log
log4j.appender.file.MaxFileSize=20MB
log4j.appender.file.MaxBackupIndex=5
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.kafka.controller=INFO
log4j.logger.state.change.logger=WARN
log4j.logger.org.apache.zookeeper=INFO
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
"""


def zookeeper_config(data_dir: Path, port: int = 2181) -> dict[str, str]:
    return {
        "dataDir": str(data_dir),
        "clientPort": str(port),
        "clientPortAddress": "127.0.0.1",
        "maxClientCnxns": "0",
        "admin.enableServer": "false",
        "4lw.commands.whitelist": "srvr,ruok,mntr",
    }


def server_config(log_dir: Path, port: int = 9092, zk_port: int = 2181) -> dict[str, str]:
    return {
        "broker.id": "0",
        "listeners": f"PLAINTEXT://localhost:{port}",
        "advertised.listeners": f"PLAINTEXT://localhost:{port}",
        "log.dirs": str(log_dir),
        "num.partitions": "1",
        "zookeeper.connect": f"localhost:{zk_port}",
        "zookeeper.connection.timeout.ms": "18000",
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "log.retention.hours": "168",
        # Topics are created on purpose (kafkaops up / topics create): a misspelt name fails loudly.
        "auto.create.topics.enable": "false",
    }


def write_local_configs(config_dir: Path, data_dir: Path, *, zk_port: int = 2181, broker_port: int = 9092) -> None:
    write_properties(
        config_dir / "zookeeper.properties",
        zookeeper_config(data_dir / "zookeeper", zk_port),
        header="ZooKeeper for a single-node local pipeline, written by kafkaops install",
    )
    write_properties(
        config_dir / "server.properties",
        server_config(data_dir / "kafka-logs", broker_port, zk_port),
        header="Kafka broker (ZooKeeper mode) for a single-node local pipeline, written by kafkaops install",
    )
    (config_dir / "log4j.properties").write_text(LOG4J_PROPERTIES, encoding="utf-8")


def ensure_log4j(path: Path) -> Path:
    """kafkaops's own logging config (used for every service it starts), written when missing or changed."""
    if not path.is_file() or path.read_text(encoding="utf-8") != LOG4J_PROPERTIES:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(LOG4J_PROPERTIES, encoding="utf-8")
    return path
