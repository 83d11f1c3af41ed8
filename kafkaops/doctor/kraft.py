"""What kind of cluster doctor looks at: the local stack's mode (ZooKeeper or KRaft) and a KRaft stack's identity.

The mode of a local stack is read from its server.properties: ``process.roles`` present means KRaft
(never guessed from the version). A remote cluster's mode is asked from a broker (its
``process.roles`` config, see :func:`remote_mode`). A local KRaft stack is identified like the
ZooKeeper-mode one (:func:`kafkaops.procedures.services.identify`), without ZooKeeper: KAFKA_BROKER must
be this machine and one of the local broker's listeners, a broker kafkaops started must be what
listens there, and the cluster id it reports must be the one its log dirs hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kafkaops.adapters import network, processes
from kafkaops.adapters.javaprops import Listener, Properties, parse_listeners, read_properties
from kafkaops.errors import KafkaopsError
from kafkaops.procedures import services
from kafkaops.settings import Settings

ZOOKEEPER = "zookeeper"
KRAFT = "kraft"
MODES = (ZOOKEEPER, KRAFT)


def local_mode(server_properties: Path) -> str | None:
    """``kraft`` when the local broker config has ``process.roles``, ``zookeeper`` when it has not, None without a readable file."""
    try:
        props = read_properties(server_properties)
    except KafkaopsError:
        return None
    return KRAFT if props.get("process.roles") else ZOOKEEPER


@dataclass(frozen=True)
class Voter:
    node_id: int
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.node_id}@{self.host}:{self.port}"


def parse_voters(raw: str) -> list[Voter]:
    """``controller.quorum.voters`` (``id@host:port,...``); a ValueError names the entry that is not one."""
    out: list[Voter] = []
    for entry in (e.strip() for e in raw.split(",")):
        if not entry:
            continue
        node, sep, address = entry.partition("@")
        host, _, port = address.rpartition(":")
        if not sep or not node.strip().isdigit() or not host or not port.isdigit():
            raise ValueError(f"{entry!r} is not id@host:port")
        out.append(Voter(int(node), host.strip("[]"), int(port)))
    return out


@dataclass(frozen=True)
class KraftConfig:
    """The parts of a KRaft node's server.properties doctor reads."""

    props: Properties
    roles: tuple[str, ...]  # "broker", "controller"
    node_id: int | None
    listeners: tuple[Listener, ...]
    controller_listener_names: tuple[str, ...]
    voters_raw: str
    bootstrap_servers: str  # controller.quorum.bootstrap.servers (dynamic quorum)
    log_dirs: tuple[Path, ...]
    metadata_log_dir: Path | None

    @property
    def client_listeners(self) -> list[Listener]:
        return [lst for lst in self.listeners if lst.name not in self.controller_listener_names]

    @property
    def controller_listeners(self) -> list[Listener]:
        return [lst for lst in self.listeners if lst.name in self.controller_listener_names]


def read_kraft_config(settings: Settings) -> KraftConfig:
    srv = read_properties(settings.server_properties)

    def where(path: str) -> Path:
        p = Path(path).expanduser()
        return p if p.is_absolute() else settings.kafkaops_home / p

    raw_id = (srv.get("node.id") or "").strip()
    metadata_dir = srv.get("metadata.log.dir")
    return KraftConfig(
        props=srv,
        roles=tuple(r.strip() for r in (srv.get("process.roles") or "").split(",") if r.strip()),
        node_id=int(raw_id) if raw_id.lstrip("-").isdigit() else None,
        listeners=tuple(parse_listeners(srv.get("listeners", "PLAINTEXT://:9092") or "")),
        controller_listener_names=tuple(n.strip() for n in (srv.get("controller.listener.names") or "").split(",") if n.strip()),
        voters_raw=srv.get("controller.quorum.voters") or "",
        bootstrap_servers=srv.get("controller.quorum.bootstrap.servers") or "",
        log_dirs=tuple(where(d) for d in (srv.get_list("log.dirs") or srv.get_list("log.dir", "/tmp/kraft-combined-logs"))),
        metadata_log_dir=where(metadata_dir) if metadata_dir else None,
    )


def stack_config(settings: Settings, kc: KraftConfig) -> services.StackConfig:
    """The local KRaft node as the broker-layer and host-layer checks read a stack (no ZooKeeper: its fields are empty)."""
    empty = Properties(settings.zookeeper_properties, {})
    dirs = kc.log_dirs + ((kc.metadata_log_dir,) if kc.metadata_log_dir and kc.metadata_log_dir not in kc.log_dirs else ())
    return services.StackConfig(
        zookeeper_props=empty,
        server_props=kc.props,
        zk_port=0,
        zk_bind_host="",
        listeners=tuple(kc.client_listeners or kc.listeners),
        broker_id=kc.node_id if kc.node_id is not None else -1,
        log_dirs=dirs,
        zk_data_dir=settings.kafkaops_home,  # never read: ZooKeeper's local checks do not run in KRaft mode
        zk_data_log_dir=None,
        broker_zk_connect="",
        zk_session_timeout_ms=0,
    )


def identify_kraft(settings: Settings, *, ask_broker: bool = True) -> services.ClusterIdentity:
    """Whether KAFKA_BROKER is the local KRaft stack (same rules as :func:`services.identify`, without ZooKeeper)."""
    reasons: list[str] = []
    problems: dict[str, str] = {}
    broker_address = settings.kafka_broker
    broker_host, broker_port = network.split_hostport(broker_address, 9092)
    broker_here = network.is_local(broker_host, timeout=0.5)
    ident = services.ClusterIdentity(False, reasons, problems, broker_on_this_machine=broker_here)
    if not broker_here:
        problems["broker"] = f"KAFKA_BROKER={broker_address} is not this machine: its processes and files cannot be inspected from here"
    try:
        kc = read_kraft_config(settings)
    except KafkaopsError as exc:
        ident.config_error = exc.message
        ident.config_missing = not settings.server_properties.is_file()
        problems.setdefault("stack", f"no local stack is configured here ({exc.message})")
        reasons += list(problems.values())
        return ident
    cfg = stack_config(settings, kc)
    ident.cfg = cfg
    if broker_here and broker_port not in [lst.port for lst in kc.client_listeners]:
        urls = ", ".join(lst.url for lst in kc.listeners)
        problems["broker"] = f"KAFKA_BROKER={broker_address} is not the local stack's broker (its listeners in {settings.server_properties}: {urls})"
    if problems:
        reasons += list(problems.values())
        return ident
    reasons.append(f"KAFKA_BROKER={broker_address} is a listener of the local KRaft node ({settings.server_properties})")
    host = services.probe_host(next(lst.host for lst in kc.client_listeners if lst.port == broker_port))
    proc = services.live_process(services.read_pid(settings, services.KAFKA))
    if proc is None:
        if processes.port_open(host, broker_port):
            owner = processes.port_owner(broker_port)
            who = f"pid {owner.pid} ({owner.name})" if owner else "a process kafkaops cannot see"
            ident.foreign[services.KAFKA] = f"port {broker_port} is held by {who}, which kafkaops did not start"
            reasons.append(ident.foreign[services.KAFKA])
    else:
        ident.broker_pid = proc.pid
        owner = processes.port_owner(broker_port) if processes.port_open(host, broker_port) else None
        if owner is not None and owner.pid != proc.pid:
            problems["broker"] = f"port {broker_port} is held by pid {owner.pid}, not by the Kafka node kafkaops started (pid {proc.pid})"
            reasons[:] = list(problems.values()) + reasons
            return ident
    if ask_broker and processes.port_open(host, broker_port):
        stored = {str(m.path): m.cluster_id for m in (services.read_meta(d) for d in cfg.log_dirs) if m.cluster_id}
        try:
            from kafkaops.adapters.kafka import metadata

            ident.cluster_id = metadata(settings, timeout=2.0).cluster_id
        except KafkaopsError:
            ident.cluster_id = None
        other = {path: cid for path, cid in stored.items() if ident.cluster_id and cid != ident.cluster_id}
        if other:
            path, cid = next(iter(other.items()))
            problems["broker"] = f"the broker at KAFKA_BROKER={broker_address} reports cluster id {ident.cluster_id}, but {path} holds {cid}"
            reasons[:] = list(problems.values()) + reasons
            return ident
        if ident.cluster_id:
            reasons.append(f"it reports cluster id {ident.cluster_id}" + (", as its meta.properties says" if stored else ""))
    ident.local = True
    return ident


@dataclass(frozen=True)
class RemoteMode:
    mode: str | None  # "zookeeper" | "kraft" | None (the broker did not say)
    how: str  # how it was found out, one line
    answered: bool = False  # a broker of the cluster answered


def remote_mode(admin: Any, settings: Settings, timeout: float = 3.0) -> RemoteMode:
    """Ask a broker of the configured cluster whether it runs in KRaft mode (``process.roles`` set) or with ZooKeeper."""
    import socket

    from kafkaops.adapters import quorum

    host, port = network.split_hostport(settings.kafka_broker, 9092)
    try:
        socket.create_connection((host, port), timeout=1.0).close()
    except OSError as exc:
        return RemoteMode(None, f"nothing answers at KAFKA_BROKER={settings.kafka_broker} ({exc.strerror or type(exc).__name__})")
    try:
        nodes, configs = quorum.broker_config(admin, timeout)
    except Exception as exc:  # noqa: BLE001 - an unreachable broker is reported by the broker layer
        return RemoteMode(None, f"KAFKA_BROKER={settings.kafka_broker} did not say ({type(exc).__name__})")
    if not nodes:
        return RemoteMode(None, "the cluster listed no brokers")
    roles = configs.get("process.roles")
    if roles:
        return RemoteMode(KRAFT, f"broker {nodes[0]} has process.roles={roles}", True)
    return RemoteMode(ZOOKEEPER, f"broker {nodes[0]} has no process.roles (ZooKeeper mode)", True)
