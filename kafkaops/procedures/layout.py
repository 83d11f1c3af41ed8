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


# --------------------------------------------------------------------------------------------
# KRaft (Kafka 4.x): log4j2 (4.x ignores -Dlog4j.configuration) and the node configs.

LOG4J2_YAML = """\
# Written by kafkaops: each service logs to ${sys:kafka.logs.dir}/server.log (its own folder).
Configuration:
  name: kafkaops
  Appenders:
    RollingFile:
      name: file
      fileName: "${sys:kafka.logs.dir}/server.log"
      filePattern: "${sys:kafka.logs.dir}/server.log.%i"
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
      SizeBasedTriggeringPolicy:
        size: 20MB
      DefaultRolloverStrategy:
        max: 5
  Loggers:
    Root:
      level: INFO
      AppenderRef:
        - ref: file
    Logger:
      - name: kafka.request.logger
        level: WARN
      - name: state.change.logger
        level: WARN
"""

KRAFT_NODE_ID = 1
SPLIT_CONTROLLER_ID = 1
SPLIT_BROKER_ID = 2


def _kraft_common(log_dir: Path) -> dict[str, str]:
    return {
        "log.dirs": str(log_dir),
        "num.partitions": "1",
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "log.retention.hours": "168",
        "auto.create.topics.enable": "false",
    }


def kraft_combined_config(log_dir: Path, port: int = 9092, controller_port: int = 9093, node_id: int = KRAFT_NODE_ID) -> dict[str, str]:
    """One process that is both the broker and the (only) controller of the metadata quorum."""
    return {
        "process.roles": "broker,controller",
        "node.id": str(node_id),
        "controller.quorum.voters": f"{node_id}@localhost:{controller_port}",
        "listeners": f"PLAINTEXT://localhost:{port},CONTROLLER://localhost:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://localhost:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        **_kraft_common(log_dir),
    }


def kraft_controller_config(metadata_dir: Path, controller_port: int = 9093, node_id: int = SPLIT_CONTROLLER_ID) -> dict[str, str]:
    """The controller of the split layout: process.roles=controller, its metadata log only."""
    return {
        "process.roles": "controller",
        "node.id": str(node_id),
        "controller.quorum.voters": f"{node_id}@localhost:{controller_port}",
        "listeners": f"CONTROLLER://localhost:{controller_port}",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT",
        "log.dirs": str(metadata_dir),
    }


def kraft_broker_config(
    log_dir: Path, port: int = 9092, controller_port: int = 9093, node_id: int = SPLIT_BROKER_ID, controller_id: int = SPLIT_CONTROLLER_ID
) -> dict[str, str]:
    """The broker of the split layout: process.roles=broker, talking to the controller above."""
    return {
        "process.roles": "broker",
        "node.id": str(node_id),
        "controller.quorum.voters": f"{controller_id}@localhost:{controller_port}",
        "listeners": f"PLAINTEXT://localhost:{port}",
        "advertised.listeners": f"PLAINTEXT://localhost:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        **_kraft_common(log_dir),
    }


def write_split_configs(config_dir: Path, data_dir: Path, *, broker_port: int = 9092, controller_port: int = 9093) -> None:
    """server.properties (process.roles=broker) with controller.properties beside it: the split layout."""
    write_properties(
        config_dir / "controller.properties",
        kraft_controller_config(data_dir / "controller", controller_port),
        header="KRaft controller (split layout), written by kafkaops: started before the broker whose server.properties is beside it",
    )
    write_properties(
        config_dir / "server.properties",
        kraft_broker_config(data_dir / "broker", broker_port, controller_port),
        header="KRaft broker (split layout), written by kafkaops: its controller is controller.properties beside it",
    )


def write_kraft_configs(config_dir: Path, data_dir: Path, *, broker_port: int = 9092, controller_port: int = 9093) -> None:
    """config/server.properties: one combined node; config/split/: the same stack as two processes."""
    write_properties(
        config_dir / "server.properties",
        kraft_combined_config(data_dir / "kraft-logs", broker_port, controller_port),
        header="Kafka (KRaft mode): one combined broker+controller node for a local pipeline, written by kafkaops install",
    )
    (config_dir / "log4j2.yaml").write_text(LOG4J2_YAML, encoding="utf-8")
    write_split_configs(config_dir / "split", data_dir / "kraft-split", broker_port=broker_port, controller_port=controller_port)


def ensure_log4j2(path: Path) -> Path:
    """kafkaops's own log4j2 config for Kafka 4.x services, written when missing or changed."""
    if not path.is_file() or path.read_text(encoding="utf-8") != LOG4J2_YAML:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(LOG4J2_YAML, encoding="utf-8")
    return path
