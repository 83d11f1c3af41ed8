"""The stack's configuration, read from the (user's) config files; never rewritten."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kafkaops.adapters.javaprops import Listener, Properties, parse_listeners, read_properties
from kafkaops.errors import ConfigError
from kafkaops.settings import Settings, installed_kafka_version

ZOOKEEPER = "zookeeper"
KAFKA = "kafka"
POSTGRES = "postgres"
CONTROLLER = "controller"  # KRaft split layout: the controller process (process.roles=controller)
MAIN_CLASS = {ZOOKEEPER: "org.apache.zookeeper.server.quorum.QuorumPeerMain", KAFKA: "kafka.Kafka", CONTROLLER: "kafka.Kafka"}
STARTED_LINE = "started (kafka.server.KafkaServer)"
SHUTDOWN_LINE = "shut down completed (kafka.server.KafkaServer)"
# KRaft (Kafka 4.x): any node's started line, and the broker's clean shutdown.
KRAFT_STARTED_LINE = "Kafka Server started (kafka.server.KafkaRaftServer)"
KRAFT_SHUTDOWN_LINE = "shut down completed (kafka.server.BrokerServer)"
POLL = 0.05

Progress = Callable[[str], None]


def _noop(_msg: str) -> None:
    return None


@dataclass(frozen=True)
class StackConfig:
    zookeeper_props: Properties
    server_props: Properties
    zk_port: int
    zk_bind_host: str  # clientPortAddress, or "" for every interface
    listeners: tuple[Listener, ...]
    broker_id: int
    log_dirs: tuple[Path, ...]
    zk_data_dir: Path
    zk_data_log_dir: Path | None
    broker_zk_connect: str  # zookeeper.connect from server.properties (what the broker will use)
    zk_session_timeout_ms: int

    @property
    def zk_probe_host(self) -> str:
        return probe_host(self.zk_bind_host)

    @property
    def broker_ports(self) -> list[tuple[str, int]]:
        return [(lst.host or "", lst.port) for lst in self.listeners]


def read_stack_config(settings: Settings) -> StackConfig:
    zkp = read_properties(settings.zookeeper_properties)
    srv = read_properties(settings.server_properties)
    data_dir = zkp.get("dataDir")
    if not data_dir:
        raise ConfigError(f"{zkp.path} has no dataDir", hint="set dataDir to a folder outside /tmp")
    log_dirs = srv.get_list("log.dirs") or srv.get_list("log.dir", "/tmp/kafka-logs")
    listeners = parse_listeners(srv.get("listeners", "PLAINTEXT://:9092"))
    if not listeners:
        raise ConfigError(f"{srv.path} has an empty listeners setting")
    data_log = zkp.get("dataLogDir")

    def where(path: str) -> Path:
        # The JVMs run in KAFKAOPS_HOME, so a relative data path in a config is relative to it.
        p = Path(path).expanduser()
        return p if p.is_absolute() else settings.kafkaops_home / p

    return StackConfig(
        zookeeper_props=zkp,
        server_props=srv,
        zk_port=zkp.get_int("clientPort", 2181),
        zk_bind_host=zkp.get("clientPortAddress", "") or "",
        listeners=tuple(listeners),
        broker_id=srv.get_int("broker.id", 0),
        log_dirs=tuple(where(d) for d in log_dirs),
        zk_data_dir=where(data_dir),
        zk_data_log_dir=where(data_log) if data_log else None,
        broker_zk_connect=srv.get("zookeeper.connect", "localhost:2181") or "localhost:2181",
        zk_session_timeout_ms=srv.get_int("zookeeper.session.timeout.ms", 18000),
    )


def check_kafka_home(settings: Settings) -> Path:
    libs = settings.kafka_home / "libs"
    if not any(libs.glob("kafka_2.*.jar")):
        raise ConfigError(
            f"KAFKA_HOME {settings.kafka_home} is not a Kafka installation (no libs/kafka_2.*.jar)",
            hint=f"run `kafkaops install{' --mode kraft' if settings.kraft else ''}`, or point KAFKA_HOME at a Kafka folder with libs/ and config/",
        )
    return libs


kafka_version = installed_kafka_version  # the release in a Kafka folder (read by settings when no version is given)


def probe_host(host: str) -> str:
    """The address to connect to for a listener bound to `host` (a wildcard bind is probed on 127.0.0.1)."""
    return "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
