"""The KRaft stack (Kafka 4.x): no ZooKeeper; the metadata quorum runs inside Kafka.

Two layouts, told apart by the config files, never by a flag:

- combined: server.properties has ``process.roles=broker,controller``: one process (service "kafka").
- split: server.properties has ``process.roles=broker`` and ``controller.properties`` lies beside it
  (``process.roles=controller``): the controller (service "controller") starts first, the broker
  second; ``down`` stops the broker first (its clean shutdown), then the controller.

Storage: a KRaft node will not start on an unformatted log dir. The first ``up`` formats every dir
with a new cluster id (``kafka.tools.StorageTool format``; Kafka keeps the id in meta.properties) and
says so; later ``up``s never format again. A dir that is not empty but was never formatted, a stack
whose dirs are only partly formatted, and dirs of another cluster (ids that disagree, or not the id
kafkaops formatted this stack with) are refused before anything starts: `kafkaops reset` empties them.

Readiness: the node's started line, the controller answering (its quorum has a leader, read from the
metadata log's ``quorum-state``, and its listener accepts connections) and, for a broker, a metadata
request at KAFKA_BROKER that lists its node id. No fixed sleeps.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from kafkaops.adapters import processes
from kafkaops.adapters.javaprops import Listener, Properties, parse_listeners, read_properties
from kafkaops.errors import ConfigError, KafkaopsError, RefusedError, ServiceFailed, UnreachableError
from kafkaops.procedures.services.config import CONTROLLER, KAFKA, KRAFT_STARTED_LINE, POLL, POSTGRES, Progress, probe_host
from kafkaops.procedures.services.launch import _start, failure_report, read_log_since
from kafkaops.procedures.services.pidfiles import PidRecord, check_pid, controller_properties, read_pid, remove_pid
from kafkaops.procedures.services.shutdown import DownResult, StopOutcome, _stop_one
from kafkaops.procedures.services.startup import ServiceOutcome, UpResult, _check_port_free, _clear_stale, _refuse_mismatch
from kafkaops.procedures.services.state import ServiceStatus, StackStatus, _topic_health, database_status, owner_label
from kafkaops.settings import Settings

META = "meta.properties"
METADATA_PARTITION = "__cluster_metadata-0"
RESET_HINT = "empty this stack's log dirs with `kafkaops reset --confirm` (the next `up` formats them again), or restore the dirs it was formatted with"


# --------------------------------------------------------------------------------------------
# Configuration


@dataclass(frozen=True)
class KraftNode:
    service: str  # "kafka" (a broker, or the combined node) | "controller" (split layout)
    config: Path
    props: Properties
    node_id: int
    roles: tuple[str, ...]
    listeners: tuple[Listener, ...]
    controller_names: tuple[str, ...]
    voters: tuple[tuple[int, str, int], ...]  # (id, host, port) from controller.quorum.voters
    log_dirs: tuple[Path, ...]
    metadata_dir: Path

    @property
    def is_broker(self) -> bool:
        return "broker" in self.roles

    @property
    def is_controller(self) -> bool:
        return "controller" in self.roles

    @property
    def client_listener(self) -> Listener | None:
        return next((lst for lst in self.listeners if lst.name not in self.controller_names), None)

    @property
    def controller_listener(self) -> Listener | None:
        return next((lst for lst in self.listeners if lst.name in self.controller_names), None)

    @property
    def port(self) -> int:
        lst = self.client_listener if self.is_broker else self.controller_listener
        return lst.port if lst else 0

    @property
    def dirs(self) -> tuple[Path, ...]:
        return tuple(dict.fromkeys((self.metadata_dir, *self.log_dirs)))


@dataclass(frozen=True)
class KraftLayout:
    nodes: tuple[KraftNode, ...]  # in start order: the controller first

    @property
    def split(self) -> bool:
        return len(self.nodes) > 1

    @property
    def broker(self) -> KraftNode:
        return next(n for n in self.nodes if n.is_broker)

    @property
    def controller(self) -> KraftNode | None:
        return next((n for n in self.nodes if n.is_controller), None)

    @property
    def name(self) -> str:
        return "split" if self.split else "combined"


def parse_voters(raw: str, path: Path) -> tuple[tuple[int, str, int], ...]:
    voters = []
    for entry in (e.strip() for e in raw.split(",") if e.strip()):
        m = re.fullmatch(r"(\d+)@\[?([^\]]*?)\]?:(\d+)", entry)
        if not m:
            raise ConfigError(
                f"{path}: controller.quorum.voters entry {entry!r} is not id@host:port",
                hint="write it as controller.quorum.voters=1@localhost:9093",
                runbook="failures kraft-quorum-config",
            )
        voters.append((int(m.group(1)), m.group(2), int(m.group(3))))
    return tuple(voters)


def read_node(settings: Settings, path: Path, service: str) -> KraftNode:
    """One KRaft node's config, checked for the mistakes that would stop it (or hang it) at start."""
    props = read_properties(path)
    roles = tuple(r.strip() for r in (props.get("process.roles") or "").split(",") if r.strip())
    if not roles or any(r not in ("broker", "controller") for r in roles):
        raise ConfigError(f"{path}: process.roles={props.get('process.roles')!r} must be broker, controller or both", runbook="failures kraft-quorum-config")
    raw_id = (props.get("node.id") or "").strip()
    if not raw_id.isdigit():
        raise ConfigError(f"{path} has no node.id (a whole number)", hint="set node.id=1 (every KRaft node needs one)", runbook="failures kraft-quorum-config")
    listeners = tuple(parse_listeners(props.get("listeners", "")))
    names = tuple(n.strip() for n in (props.get("controller.listener.names") or "").split(",") if n.strip())
    voters_raw = props.get("controller.quorum.voters") or ""
    if not voters_raw:
        raise ConfigError(
            f"{path} has no controller.quorum.voters",
            hint="kafkaops runs a static quorum: set controller.quorum.voters=<controller node.id>@localhost:<controller port>",
            runbook="failures kraft-quorum-config",
        )
    voters = parse_voters(voters_raw, path)
    if not names:
        raise ConfigError(f"{path} has no controller.listener.names", hint="set controller.listener.names=CONTROLLER", runbook="failures kraft-quorum-config")
    node_id = int(raw_id)
    if "controller" in roles:
        own = next((lst for lst in listeners if lst.name in names), None)
        mine = [v for v in voters if v[0] == node_id]
        if own is None:
            raise ConfigError(
                f"{path}: no listener is named in controller.listener.names ({','.join(names)})",
                hint=f"add {names[0]}://localhost:9093 to listeners",
                runbook="failures kraft-quorum-config",
            )
        if not mine:
            raise ConfigError(
                f"{path}: this controller (node.id={node_id}) is not in controller.quorum.voters={voters_raw}",
                hint=f"add {node_id}@localhost:{own.port} to controller.quorum.voters, or fix node.id",
                runbook="failures kraft-quorum-config",
            )
        if mine[0][2] != own.port:
            raise ConfigError(
                f"{path}: controller.quorum.voters says node {node_id} listens on port {mine[0][2]}, but its {own.name} listener is port {own.port}",
                hint="make the voter's port and the controller listener's port the same",
                runbook="failures kraft-quorum-config",
            )
    if "broker" in roles and not any(lst.name not in names for lst in listeners):
        raise ConfigError(f"{path}: a broker needs a client listener besides {','.join(names)}", hint="add PLAINTEXT://localhost:9092 to listeners")

    def where(p: str) -> Path:
        q = Path(p).expanduser()
        return q if q.is_absolute() else settings.kafkaops_home / q

    log_dirs = tuple(where(d) for d in (props.get_list("log.dirs") or props.get_list("log.dir", "/tmp/kraft-combined-logs")))
    meta_raw = props.get("metadata.log.dir")
    meta_dir = where(meta_raw) if meta_raw else log_dirs[0]
    return KraftNode(service, path, props, node_id, roles, listeners, names, voters, log_dirs, meta_dir)


def read_layout(settings: Settings) -> KraftLayout:
    """combined (server.properties has both roles) or split (broker + controller.properties beside it)."""
    main = read_node(settings, settings.server_properties, KAFKA)
    if main.roles == ("controller",):
        raise ConfigError(
            f"{settings.server_properties} is a controller-only config (process.roles=controller)",
            hint="point KAFKAOPS_SERVER_PROPERTIES at the broker's config; the controller's is controller.properties beside it",
        )
    if main.is_controller:
        return KraftLayout((main,))
    ctl_path = controller_properties(settings)
    if not ctl_path.is_file():
        return KraftLayout((main,))  # a broker whose controllers kafkaops does not run
    ctl = read_node(settings, ctl_path, CONTROLLER)
    if ctl.is_broker:
        raise ConfigError(f"{ctl_path} must be a controller-only config (process.roles=controller)", runbook="failures kraft-quorum-config")
    if ctl.node_id == main.node_id:
        raise ConfigError(
            f"node.id conflict: {ctl_path} and {settings.server_properties} both say node.id={main.node_id}",
            hint="give the broker and the controller different node.id values",
            runbook="failures kraft-node-id-conflict",
        )
    if set(main.voters) != set(ctl.voters):
        raise ConfigError(
            f"controller.quorum.voters differs: {settings.server_properties} and {ctl_path} must name the same quorum",
            runbook="failures kraft-quorum-config",
        )
    return KraftLayout((ctl, main))


# --------------------------------------------------------------------------------------------
# Storage: formatted once, checked before every start


@dataclass(frozen=True)
class DirState:
    path: Path
    state: str  # empty | formatted | unformatted (files, no meta.properties) | bad (meta.properties unusable)
    cluster_id: str | None = None
    node_id: int | None = None
    problem: str | None = None


def dir_state(path: Path) -> DirState:
    from kafkaops.procedures.cluster import read_meta

    if not path.exists() or (path.is_dir() and not any(path.iterdir())):
        return DirState(path, "empty")
    if not path.is_dir():
        return DirState(path, "bad", problem=f"{path} is not a folder")
    meta = read_meta(path)
    if meta.state == "missing":
        return DirState(path, "unformatted", problem=f"{path} is not empty but was never formatted (no {META})")
    if meta.state != "ok" or not meta.cluster_id:
        return DirState(path, "bad", problem=meta.problem or f"{path / META} has no cluster.id")
    return DirState(path, "formatted", meta.cluster_id, meta.broker_id)


def cluster_record_path(settings: Settings) -> Path:
    return settings.run_dir / "kraft-cluster.json"


def recorded_cluster(settings: Settings, layout: KraftLayout) -> str | None:
    """The cluster id kafkaops formatted this stack's metadata dir with (None: it did not, or forgot)."""
    try:
        data = json.loads(cluster_record_path(settings).read_text(encoding="utf-8"))
        return str(data["dirs"][str(layout.broker.metadata_dir)])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def record_cluster(settings: Settings, layout: KraftLayout, cluster_id: str) -> None:
    path = cluster_record_path(settings)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        dirs = dict(data.get("dirs", {}))
    except (OSError, ValueError, AttributeError):
        dirs = {}
    dirs[str(layout.broker.metadata_dir)] = cluster_id
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"dirs": dirs}, indent=2), encoding="utf-8")


def check_storage(settings: Settings, layout: KraftLayout) -> str | None:
    """The stack's cluster id when every dir is formatted for it; None when every dir is empty (format).

    Anything between is refused (exit 5) before start, naming the dir and the remedy.
    """
    states = [(node, dir_state(d)) for node in layout.nodes for d in node.dirs]

    def refuse(message: str) -> RefusedError:
        return RefusedError(message, hint=RESET_HINT, runbook="failures kraft-storage")

    for _node, st in states:
        if st.state in ("unformatted", "bad"):
            raise refuse(f"cannot start Kafka (KRaft): {st.problem}")
    formatted = [(n, s) for n, s in states if s.state == "formatted"]
    if not formatted:
        return None
    if len(formatted) != len(states):
        empty = ", ".join(str(s.path) for _n, s in states if s.state == "empty")
        raise refuse(f"cannot start Kafka (KRaft): the storage is half-formatted ({empty} empty, {formatted[0][1].path} formatted)")
    for node, st in formatted:
        if st.node_id is not None and st.node_id != node.node_id:
            raise refuse(f"cannot start Kafka (KRaft): {st.path / META} is for node.id {st.node_id}, but {node.config} says node.id={node.node_id}")
    ids = {s.cluster_id for _n, s in formatted}
    if len(ids) > 1:
        listing = ", ".join(f"{s.path} has {s.cluster_id}" for _n, s in formatted)
        raise refuse(f"cannot start Kafka (KRaft): cluster id mismatch between the log dirs ({listing})")
    cluster_id = ids.pop()
    assert cluster_id is not None
    recorded = recorded_cluster(settings, layout)
    if recorded is not None and recorded != cluster_id:
        raise refuse(
            f"cannot start Kafka (KRaft): {formatted[0][1].path / META} belongs to cluster {cluster_id}, "
            f"but kafkaops formatted this stack as cluster {recorded} (a foreign cluster's log dir)"
        )
    if recorded is None:
        record_cluster(settings, layout, cluster_id)
    return cluster_id


def new_cluster_id() -> str:
    """A cluster id as Kafka's Uuid.randomUuid makes it: 16 random bytes, URL-safe base64, no padding, no leading '-'."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode("ascii").rstrip("=")
        if not text.startswith("-"):
            return text


def format_storage(settings: Settings, layout: KraftLayout, java: str, progress: Progress) -> str:
    """Format every node's dirs with one new cluster id (kafka.tools.StorageTool, one JVM per node, in parallel)."""
    from kafkaops.procedures.layout import ensure_log4j2

    cluster_id = new_cluster_id()
    progress(f"formatting the KRaft storage (new cluster id {cluster_id})")
    log4j2 = ensure_log4j2(settings.kafkaops_home / "conf" / "log4j2.yaml")
    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    runs = []
    for node in layout.nodes:
        cmd = [
            java,
            f"-Dlog4j2.configurationFile={log4j2.resolve()}",
            f"-Dkafka.logs.dir={(settings.logs_dir / 'format').resolve()}",
            "-cp",
            str(settings.kafka_home / "libs" / "*"),
            "kafka.tools.StorageTool",
            "format",
            "-t",
            cluster_id,
            "-c",
            str(node.config.resolve()),
        ]
        runs.append((node, subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=settings.kafkaops_home)))  # noqa: S603
    for node, proc in runs:
        out, _ = proc.communicate(timeout=settings.start_timeout)
        if proc.returncode != 0:
            lines = [ln for ln in out.splitlines() if ln.strip()][-8:]
            raise ServiceFailed(
                f"formatting the KRaft storage of {node.config} failed (StorageTool exited with {proc.returncode})",
                hint="fix what it says, then `kafkaops up` again",
                details=lines,
                runbook="failures kraft-storage",
            )
    record_cluster(settings, layout, cluster_id)
    return cluster_id


# --------------------------------------------------------------------------------------------
# Quorum state, as the controller keeps it on disk


def quorum_state(node: KraftNode) -> dict[str, object] | None:
    """leader id, epoch and voters from the metadata log's quorum-state file (written on every election)."""
    try:
        data = json.loads((node.metadata_dir / METADATA_PARTITION / "quorum-state").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    leader = data.get("leaderId")
    voters = [v.get("voterId") for v in data.get("currentVoters") or [] if isinstance(v, dict)]
    return {
        "leader_id": leader if isinstance(leader, int) and leader >= 0 else None,
        "leader_epoch": data.get("leaderEpoch"),
        "voters": voters or [v[0] for v in node.voters],
    }


# --------------------------------------------------------------------------------------------
# up


def up(settings: Settings, layout: KraftLayout, java: str, progress: Progress) -> UpResult:
    """Start the node(s) in order (controller first); the caller holds the stack lock."""
    checks = {node.service: check_pid(read_pid(settings, node.service), settings) for node in layout.nodes}
    for check in checks.values():
        _refuse_mismatch(settings, check)
    for node in layout.nodes:  # ports first: a refused start leaves nothing formatted
        if checks[node.service].verdict != "ours":
            for lst in node.listeners:
                _check_port_free(node.service, lst.host or "", lst.port)
    notes: list[str] = []
    if all(c.verdict != "ours" for c in checks.values()):  # nothing of this stack runs: its storage may be checked
        if check_storage(settings, layout) is None:
            t0 = time.monotonic()
            cluster_id = format_storage(settings, layout, java, progress)
            notes.append(
                f"formatted the KRaft storage with a new cluster id {cluster_id} ({', '.join(str(d) for n in layout.nodes for d in n.dirs)}) in {time.monotonic() - t0:.1f}s"
            )
    result = UpResult(services=[])
    for node in layout.nodes:
        try:
            outcome = start_node(settings, layout, node, java, progress)
        except KafkaopsError as exc:
            if layout.split and node.service == KAFKA:
                exc.details.append("the KRaft controller was left running; `kafkaops down` stops it")
            raise
        outcome.notes[:0] = notes
        notes = []
        result.services.append(outcome)
    return result


def start_node(settings: Settings, layout: KraftLayout, node: KraftNode, java: str, progress: Progress) -> ServiceOutcome:
    record = read_pid(settings, node.service)
    check = check_pid(record, settings)
    if check.verdict == "ours":
        assert record is not None and check.proc is not None
        wait_ready(settings, layout, node, record, progress, time.monotonic(), already=True)
        return ServiceOutcome(node.service, "already-running", check.proc.pid)
    _clear_stale(settings, record, check)
    for lst in node.listeners:
        _check_port_free(node.service, lst.host or "", lst.port)
    t0 = time.monotonic()
    what = (
        "the KRaft controller"
        if node.service == CONTROLLER
        else "Kafka (KRaft, combined broker+controller)"
        if node.is_controller
        else "the Kafka broker (KRaft)"
    )
    progress(f"starting {what} on port {node.port}")
    record = _start(settings, node.service, java, node.config)
    wait_ready(settings, layout, node, record, progress, t0)
    return ServiceOutcome(node.service, "started", record.pid, round(time.monotonic() - t0, 2))


def wait_ready(settings: Settings, layout: KraftLayout, node: KraftNode, record: PidRecord, progress: Progress, t0: float, already: bool = False) -> None:
    """Ready = its started line; a controller: a quorum leader and its listener answering; a broker: a metadata answer."""
    from kafkaops.adapters.kafka import admin, metadata

    deadline = t0 + settings.start_timeout
    stage = "its log says started"
    progress(f"waiting for {node.service}: {stage}")
    started, controller_ok = already, not node.is_controller
    client = None
    while True:
        if not processes.is_alive(record.pid, record.create_time):
            processes.reap(record.pid)
            remove_pid(settings, record)
            raise failure_report(node.service, record, "exited while starting")
        if time.monotonic() > deadline:
            raise failure_report(node.service, record, f"was not ready after {settings.start_timeout:g}s (waiting until {stage})")
        if not started:
            started = KRAFT_STARTED_LINE in read_log_since(Path(record.log), record.log_offset)
            if not started:
                time.sleep(POLL)
                continue
            stage = "the metadata quorum has a leader and the controller listener answers"
            progress(f"waiting for {node.service}: {stage}")
        if not controller_ok:
            qs = quorum_state(node)
            lst = node.controller_listener
            controller_ok = bool(qs and qs["leader_id"] is not None) and lst is not None and processes.port_open(probe_host(lst.host), lst.port)
            if not controller_ok:
                time.sleep(POLL)
                continue
        if not node.is_broker:
            return
        stage = f"{settings.kafka_broker} answers a metadata request"
        try:
            client = client or admin(settings)
            md = metadata(settings, timeout=2.0, client=client)
            if any(b.id == node.node_id for b in md.brokers):
                return
        except UnreachableError:
            pass
        time.sleep(POLL)


# --------------------------------------------------------------------------------------------
# down


def down(settings: Settings, layout: KraftLayout, progress: Progress, *, force: bool) -> DownResult:
    """The broker first (its clean shutdown), then the split layout's controller, then the embedded database."""
    result = DownResult([])
    result.services.append(_stop_one(settings, KAFKA, force, progress))
    if layout.split:
        lst = layout.broker.client_listener
        if lst is not None and processes.port_open(probe_host(lst.host), lst.port):
            owner = processes.port_owner(lst.port)
            result.services.append(StopOutcome(CONTROLLER, "foreign-left-running", detail="left running because a broker is still alive"))
            raise RefusedError(
                f"a broker kafkaops did not start is still running on port {lst.port}" + (f" ({owner_label(owner)})" if owner else ""),
                hint="stop that broker first; the controller was left running so that it can shut down cleanly",
                runbook="failures foreign-process",
            )
        result.services.append(_stop_one(settings, CONTROLLER, force, progress))
    if settings.database_url is None and settings.embedded_db:
        from kafkaops.adapters import embedded_pg

        t0 = time.monotonic()
        progress("stopping the embedded PostgreSQL")
        was_running = embedded_pg.stop(settings)
        result.services.append(StopOutcome(POSTGRES, "stopped" if was_running else "not-running", seconds=round(time.monotonic() - t0, 2), clean=True))
    return result


# --------------------------------------------------------------------------------------------
# status


@dataclass
class KraftStackStatus(StackStatus):
    mode: str = "kraft"
    layout: str | None = None  # combined | split (local stack only)
    quorum: dict[str, object] | None = None  # leader_id, leader_epoch, voters
    nodes: list[dict[str, object]] = field(default_factory=list)  # node_id, roles, service


def node_status(settings: Settings, node: KraftNode) -> ServiceStatus:
    record = read_pid(settings, node.service)
    check = check_pid(record, settings)
    proc = check.proc if check.verdict == "ours" else None
    st = ServiceStatus(node.service, "stopped", port=node.port)
    st.health = {"node_id": node.node_id, "roles": list(node.roles)}
    if proc is not None:
        st.state, st.pid, st.managed = "running", proc.pid, True
        st.uptime_s = round(time.time() - proc.create_time, 1)
        from kafkaops.procedures.services.config import kafka_version

        st.health["kafka_version"] = kafka_version(Path(record.kafka_home)) if record else None
    elif record is not None:
        st.state, st.pid, st.detail = "stale-pid-file", record.pid, check.detail
    lst = node.client_listener if node.is_broker else node.controller_listener
    open_ = lst is not None and processes.port_open(probe_host(lst.host), lst.port)
    if open_ and proc is None:
        owner = processes.port_owner(node.port)
        st.state, st.pid = "foreign", owner.pid if owner else None
        st.detail = f"port {node.port} held by {owner_label(owner) if owner else 'a process kafkaops cannot see'}, not started by kafkaops"
    elif not open_ and proc is not None:
        st.state, st.detail = "not-ready", f"process {proc.pid} runs but port {node.port} is closed"
    if open_ and node.is_broker:
        from kafkaops.adapters.kafka import metadata

        try:
            md = metadata(settings, timeout=3.0)
            st.health.update(
                {
                    "broker_ids": sorted(b.id for b in md.brokers),
                    "controller": md.controller_id,
                    "cluster_id": md.cluster_id,
                    "topic": _topic_health(md, settings.kafka_topic),
                }
            )
        except KafkaopsError as exc:
            st.health["error"] = exc.message
            if st.state == "running":
                st.state = "not-ready"
    return st


def is_local_broker(settings: Settings, layout: KraftLayout) -> bool:
    from kafkaops.adapters import network

    host, port = network.split_hostport(settings.kafka_broker, 9092)
    return network.is_local(host, timeout=0.5) and port in [lst.port for lst in layout.broker.listeners]


def status(settings: Settings) -> StackStatus:
    """The KRaft stack's nodes, its quorum (leader, voters) and node roles; a cluster elsewhere when no local config."""
    if not settings.server_properties.is_file():
        return remote_status(settings, f"no local stack is configured here (config file not found: {settings.server_properties})")
    layout = read_layout(settings)  # a broken local config is a setting error (exit 2), never "look elsewhere"
    if not is_local_broker(settings, layout):
        return remote_status(settings, f"KAFKA_BROKER={settings.kafka_broker} is not the local KRaft stack's broker ({settings.server_properties})")
    services_ = [node_status(settings, n) for n in layout.nodes]
    db = database_status(settings)
    if db is not None:
        services_.append(db)
    ctl = layout.controller
    quorum = quorum_state(ctl) if ctl is not None else None
    nodes = [{"node_id": n.node_id, "roles": list(n.roles), "service": n.service} for n in layout.nodes]
    reasons = [f"KRaft stack ({layout.name} layout) configured by {settings.server_properties}"]
    return KraftStackStatus(services_, local=True, reasons=reasons, layout=layout.name, quorum=quorum, nodes=nodes)


def remote_status(settings: Settings, why: str) -> StackStatus:
    """A cluster kafkaops did not start: what answers at KAFKA_BROKER (brokers, controller, cluster id, mode)."""
    from kafkaops.adapters import network
    from kafkaops.adapters.apiversions import cluster_mode
    from kafkaops.adapters.kafka import metadata

    host, port = network.split_hostport(settings.kafka_broker, 9092)
    bs = ServiceStatus(KAFKA, "unreachable", port=port)
    mode = None
    try:
        md = metadata(settings, timeout=3.0)
    except KafkaopsError as exc:
        bs.health["error"] = exc.message
    else:
        bs.state = "reachable"
        bs.health = {
            "broker_ids": sorted(b.id for b in md.brokers),
            "controller": md.controller_id,
            "cluster_id": md.cluster_id,
            "topic": _topic_health(md, settings.kafka_topic),
        }
        if (settings.client_security.get("security.protocol") or "PLAINTEXT").upper() == "PLAINTEXT":
            mode = cluster_mode(host, port)
        bs.health["mode"] = mode
    services_ = [bs]
    db = database_status(settings)
    if db is not None and db.state != "stopped":
        services_.append(db)
    return KraftStackStatus(services_, local=False, reasons=[why], mode=mode or "unknown")


def stack_status(settings: Settings) -> StackStatus:
    """status in either mode: KRaft (from server.properties' process.roles) or ZooKeeper mode.

    A cluster that is not the local stack also says which mode it runs in (asked over the wire).
    """
    if settings.kraft:
        return status(settings)
    from kafkaops.procedures.services.state import status as zookeeper_mode_status

    st = zookeeper_mode_status(settings)
    if st.local:
        return KraftStackStatus(st.services, local=True, reasons=st.reasons, mode="zookeeper")
    mode = None
    broker = next((s for s in st.services if s.service == KAFKA and s.state == "reachable"), None)
    if broker is not None and (settings.client_security.get("security.protocol") or "PLAINTEXT").upper() == "PLAINTEXT":
        from kafkaops.adapters import network
        from kafkaops.adapters.apiversions import cluster_mode

        mode = cluster_mode(*network.split_hostport(settings.kafka_broker, 9092))
        broker.health["mode"] = mode
    return KraftStackStatus(st.services, local=False, reasons=st.reasons, mode=mode or "unknown")
