"""The KRaft stack's layout and storage: which nodes its configs describe, and whether their dirs are formatted.

Two layouts, told apart by the config files, never by a flag: combined (server.properties has
``process.roles=broker,controller``) and split (a broker-only server.properties with
``controller.properties`` beside it). Each node's config is checked for the mistakes that would stop
or hang it (quorum voters, controller listener, node.id). Storage: every ``log.dirs`` and
``metadata.log.dir`` folder of every node is empty (format it), formatted for one cluster (start),
or anything between (refused, with the remedy).
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

from kafkaops.adapters.javaprops import Listener, Properties, parse_listeners, read_properties
from kafkaops.errors import ConfigError, RefusedError, ServiceFailed
from kafkaops.procedures.services.config import CONTROLLER, KAFKA, Progress
from kafkaops.procedures.services.pidfiles import controller_properties
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
    from kafkaops.procedures.services.identity import read_meta

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
