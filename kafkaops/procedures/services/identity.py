"""Which cluster the settings point at: the local stack kafkaops runs, or another one.

KAFKA_BROKER and ZOOKEEPER_CONNECT may name the stack described by this machine's config files (the
one ``kafkaops up`` starts), or another cluster: one on another host, but just as well a second stack
or a tunnel on another port of localhost. A host name cannot tell them apart. :func:`identify`
decides by identity instead: the configured addresses must be this machine's and the ports of the
local configs (the broker's listeners and its zookeeper.connect), and
what kafkaops started (its pid files) must be what listens there and report the cluster id its log
dirs hold. Anything else is "not the local stack": doctor skips its local checks (processes,
storage, meta.properties against ZooKeeper), status reports the configured cluster without local
pids, and reset refuses.

It also reads a log dir's ``meta.properties`` the way the broker will (:func:`read_meta`), so that a
file that is there but unreadable or garbage is never taken for "a new broker".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kafkaops.adapters import network
from kafkaops.adapters import zookeeper as zk
from kafkaops.errors import KafkaopsError
from kafkaops.procedures.services.config import KAFKA, ZOOKEEPER, StackConfig, probe_host, read_stack_config
from kafkaops.procedures.services.state import probe, service_address
from kafkaops.settings import Settings

# --------------------------------------------------------------------------------------------
# meta.properties, read as the broker reads it


META_FILE = "meta.properties"


@dataclass(frozen=True)
class MetaFile:
    """One log dir's meta.properties: ``state`` is missing, ok, unreadable, garbage or unparsable."""

    path: Path
    state: str
    values: dict[str, str] = field(default_factory=dict)
    problem: str | None = None  # what is wrong with it, naming the file

    @property
    def cluster_id(self) -> str | None:
        return self.values.get("cluster.id") or None if self.state == "ok" else None

    @property
    def broker_id(self) -> int | None:
        raw = self.values.get("broker.id") or self.values.get("node.id")
        return int(raw) if self.state == "ok" and raw is not None and raw.strip().lstrip("-").isdigit() else None


def read_meta(log_dir: Path) -> MetaFile:
    """What a log dir's meta.properties really holds, with the rules Kafka 3.9 applies when it starts.

    The broker needs an integer ``version`` (0 or 1), ``broker.id`` (version 0) or ``node.id``
    (version 1) as an integer; anything else stops it with a storage error.
    """
    path = log_dir / META_FILE
    try:
        if not path.exists() and not path.is_symlink():
            return MetaFile(path, "missing")
        data = path.read_bytes()
    except OSError as exc:
        return MetaFile(path, "unreadable", problem=f"{path} cannot be read: {exc.strerror or exc}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return MetaFile(path, "garbage", problem=f"{path} is not a properties file (binary content, {len(data)} bytes)")
    if "\x00" in text:
        return MetaFile(path, "garbage", problem=f"{path} is not a properties file (NUL bytes, {len(data)} bytes)")
    from jproperties import Properties as JProperties

    props = JProperties()
    try:
        props.load(data, "utf-8")
    except Exception as exc:  # noqa: BLE001 - jproperties raises its own parse errors
        return MetaFile(path, "garbage", problem=f"{path} is not a properties file: {exc}")
    values = {k: v.data for k, v in props.items()}
    if "version" not in values:
        what = "it is empty" if not text.strip() else "it has no version= line"
        return MetaFile(path, "garbage", values, f"{path} is not a Kafka meta.properties: {what}")
    version = values["version"].strip()
    if version not in ("0", "1"):
        return MetaFile(path, "unparsable", values, f"{path}: version={values['version']!r} is not 0 or 1")
    key = "broker.id" if version == "0" else "node.id"
    raw_id = values.get(key)
    if raw_id is None or not raw_id.strip().lstrip("-").isdigit():
        shown = "missing" if raw_id is None else repr(raw_id)
        return MetaFile(path, "unparsable", values, f"{path}: {key} is {shown}, not a whole number")
    return MetaFile(path, "ok", values)


# --------------------------------------------------------------------------------------------
# Which cluster


@dataclass
class ClusterIdentity:
    """Whether KAFKA_BROKER / ZOOKEEPER_CONNECT name the local stack, and why (one line per fact)."""

    local: bool
    reasons: list[str]  # what agreed (local) or, first, what did not (not local)
    problems: dict[str, str] = field(default_factory=dict)  # "zookeeper" | "broker" | "stack" -> why not local
    cfg: StackConfig | None = None  # the local stack's config (None when it cannot be read)
    config_error: str | None = None
    config_missing: bool = False  # no config files at all: no local stack here (not a broken one)
    zookeeper_on_this_machine: bool = False
    broker_on_this_machine: bool = False
    zookeeper_pid: int | None = None  # kafkaops's live ZooKeeper
    broker_pid: int | None = None  # kafkaops's live broker
    cluster_id: str | None = None  # the cluster id the configured broker reported, when asked
    # A configured port held by a process kafkaops did not start ("zookeeper" | "broker" -> who): the
    # addresses are the local stack's, but what answers there may be any cluster (a tunnel, a stack
    # started by hand), so the local files are not compared with it.
    foreign: dict[str, str] = field(default_factory=dict)

    def why_not(self, scope: str | None = None) -> str | None:
        """Why the configured cluster is not the local stack (about ``scope`` if there is such a reason)."""
        if self.local:
            return None
        if scope and scope in self.problems:
            return self.problems[scope]
        return next(iter(self.problems.values()), self.reasons[0] if self.reasons else "not the local stack")

    def to_dict(self) -> dict[str, object]:
        return {"local": self.local, "reasons": list(self.reasons)}


def _norm_host(host: str) -> str:
    h = host.strip("[]").lower()
    return "127.0.0.1" if h in network.LOCAL_NAMES or h.startswith("127.") else h


def _same_zookeeper(a: str, b: str) -> bool:
    """Whether two ZooKeeper connect strings name the same server and chroot (loopback names are one)."""
    try:
        ha, pa = zk.parse_hostport(a)
        hb, pb = zk.parse_hostport(b)
    except KafkaopsError:
        return False
    chroot_a, chroot_b = a.partition("/")[2].rstrip("/"), b.partition("/")[2].rstrip("/")
    return (_norm_host(ha), pa, chroot_a) == (_norm_host(hb), pb, chroot_b) or (
        pa == pb and chroot_a == chroot_b and network.is_local(ha, timeout=0.5) and network.is_local(hb, timeout=0.5)
    )


def identify(settings: Settings, *, ask_broker: bool = True) -> ClusterIdentity:
    """Decide whether the configured cluster is the local stack; never by host name alone.

    Local means all of these agree: KAFKA_BROKER is on this machine and one of the local broker's
    listeners; ZOOKEEPER_CONNECT is the local broker's zookeeper.connect; a service kafkaops
    started (pid file, checked against the live process) is what listens on its port; and, when the
    broker kafkaops started answers (``ask_broker``), the cluster id it reports is the one in its log
    dirs' meta.properties. A stack that is stopped is still the local stack (nothing contradicts it).
    """
    ident = _on_this_machine(settings)
    problems, reasons = ident.problems, ident.reasons
    try:
        cfg = read_stack_config(settings)
    except KafkaopsError as exc:
        ident.config_error = exc.message
        ident.config_missing = not (settings.server_properties.is_file() and settings.zookeeper_properties.is_file())
        problems.setdefault("stack", f"no local stack is configured here ({exc.message})")
        reasons += list(problems.values())
        return ident
    ident.cfg = cfg
    _against_the_configs(settings, ident, cfg)
    if problems:
        reasons += list(problems.values())
        return ident
    reasons.append(f"KAFKA_BROKER={settings.kafka_broker} and ZOOKEEPER_CONNECT={settings.zookeeper_connect} are the ports of the local configs")
    _what_listens(settings, ident, cfg)
    if not problems and ask_broker and ident.broker_pid is not None:
        _reported_cluster_id(settings, ident, cfg)
    if problems:
        reasons[:] = list(problems.values()) + reasons
        return ident
    ident.local = True
    return ident


def _on_this_machine(settings: Settings) -> ClusterIdentity:
    """Whether ZOOKEEPER_CONNECT and KAFKA_BROKER are this machine (a problem for each that is not)."""
    problems: dict[str, str] = {}
    zk_address, broker_address = settings.zookeeper_connect, settings.kafka_broker
    broker_host, _ = network.split_hostport(broker_address, 9092)
    try:
        zk_host, _ = zk.parse_hostport(zk_address)
    except KafkaopsError as exc:
        zk_host = ""
        problems["zookeeper"] = f"ZOOKEEPER_CONNECT={zk_address}: {exc.message}"
    zk_here = bool(zk_host) and network.is_local(zk_host, timeout=0.5)
    broker_here = network.is_local(broker_host, timeout=0.5)
    if zk_host and not zk_here:
        problems["zookeeper"] = f"ZOOKEEPER_CONNECT={zk_address} is not this machine: its processes and files cannot be inspected from here"
    if not broker_here:
        problems["broker"] = f"KAFKA_BROKER={broker_address} is not this machine: its processes and files cannot be inspected from here"
    return ClusterIdentity(False, [], problems, zookeeper_on_this_machine=zk_here, broker_on_this_machine=broker_here)


def _against_the_configs(settings: Settings, ident: ClusterIdentity, cfg: StackConfig) -> None:
    """Whether the addresses are the ports of the local configs (a problem for each that is not)."""
    problems, broker_address, zk_address = ident.problems, settings.kafka_broker, settings.zookeeper_connect
    _, broker_port = network.split_hostport(broker_address, 9092)
    if ident.broker_on_this_machine and broker_port not in [lst.port for lst in cfg.listeners]:
        urls = ", ".join(lst.url for lst in cfg.listeners)
        problems["broker"] = f"KAFKA_BROKER={broker_address} is not the local stack's broker (its listeners in {settings.server_properties}: {urls})"
    # The ZooKeeper that counts is the one the local broker uses (its cluster id is the one its log dirs must hold).
    if "zookeeper" not in problems and not _same_zookeeper(zk_address, cfg.broker_zk_connect):
        problems["zookeeper"] = (
            f"ZOOKEEPER_CONNECT={zk_address} is not the local stack's ZooKeeper "
            f"(the local broker uses zookeeper.connect={cfg.broker_zk_connect}, {settings.server_properties})"
        )


def _what_listens(settings: Settings, ident: ClusterIdentity, cfg: StackConfig) -> None:
    """What kafkaops started must be what listens on the configured ports."""
    _, broker_port = network.split_hostport(settings.kafka_broker, 9092)
    broker_host = probe_host(next(lst.host for lst in cfg.listeners if lst.port == broker_port))
    for service, address in ((ZOOKEEPER, service_address(cfg, ZOOKEEPER)), (KAFKA, (broker_host, broker_port))):
        label = "ZooKeeper" if service == ZOOKEEPER else "broker"
        p = probe(settings, cfg, service, address=address)
        if p.proc is None:
            if p.port_open:
                ident.foreign[service] = f"port {p.port} is held by {p.owner_text}, which kafkaops did not start"
                ident.reasons.append(ident.foreign[service])
            continue
        if service == ZOOKEEPER:
            ident.zookeeper_pid = p.proc.pid
        else:
            ident.broker_pid = p.proc.pid
        if not p.port_open:
            ident.reasons.append(f"kafkaops's {label} (pid {p.proc.pid}) runs; port {p.port} is not open yet")
        elif p.owner is not None and p.owner.pid != p.proc.pid:
            ident.problems[service if service == ZOOKEEPER else "broker"] = (
                f"port {p.port} is held by pid {p.owner.pid}, not by the {label} kafkaops started (pid {p.proc.pid})"
            )
        else:
            ident.reasons.append(f"port {p.port} is held by the {label} kafkaops started (pid {p.proc.pid})")


def _reported_cluster_id(settings: Settings, ident: ClusterIdentity, cfg: StackConfig) -> None:
    """The broker kafkaops started must report the cluster its log dirs belong to."""
    stored = {str(m.path): m.cluster_id for m in (read_meta(d) for d in cfg.log_dirs) if m.cluster_id}
    try:
        from kafkaops.adapters.kafka import metadata

        ident.cluster_id = metadata(settings, timeout=2.0).cluster_id
    except KafkaopsError:
        ident.cluster_id = None
    other = {path: cid for path, cid in stored.items() if ident.cluster_id and cid != ident.cluster_id}
    if other:
        path, cid = next(iter(other.items()))
        ident.problems["broker"] = f"the broker at KAFKA_BROKER={settings.kafka_broker} reports cluster id {ident.cluster_id}, but {path} holds {cid}"
    elif ident.cluster_id:
        ident.reasons.append(f"it reports cluster id {ident.cluster_id}" + (", as its meta.properties says" if stored else ""))


def not_local_message(settings: Settings, ident: ClusterIdentity) -> str:
    """One line for a refusal: the configured cluster is not the local stack, and why."""
    return (
        f"the configured cluster (KAFKA_BROKER={settings.kafka_broker}, ZOOKEEPER_CONNECT={settings.zookeeper_connect}) "
        f"is not the local stack: {ident.why_not()}"
    )
