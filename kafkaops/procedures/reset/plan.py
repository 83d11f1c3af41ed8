"""The plan a reset shows and then carries out: what is stopped, emptied, kept and lost, and why it would refuse."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from kafkaops.errors import RefusedError

Progress = Callable[[str], None]

KAFKA_LOG_DIR = "kafka log dir"
ZK_DATA_DIR = "ZooKeeper dataDir"
ZK_DATA_LOG_DIR = "ZooKeeper dataLogDir"
KRAFT_METADATA_DIR = "KRaft metadata dir"  # metadata.log.dir apart from log.dirs, or a KRaft controller's dir

AUDIT_FILE = "reset-audit.log"

LOCK_HELD = "a process holds"  # KRaft: how a refusal for a folder whose .lock another process holds begins
FOREIGN_SHOWN = 5  # foreign entries named in a refusal; the rest are counted


def _noop(_msg: str) -> None:
    return None


@dataclass
class DirPlan:
    """One folder the reset would empty."""

    role: str  # KAFKA_LOG_DIR | KRAFT_METADATA_DIR | ZK_DATA_DIR | ZK_DATA_LOG_DIR
    path: str  # as configured
    real: str  # resolved real path: the one every guard and the deletion use
    exists: bool
    files: int = 0  # regular files (and other non-folders) anywhere inside
    folders: int = 0
    links: int = 0  # symbolic links inside: removed, never followed
    mounts: list[str] = field(default_factory=list)  # file systems mounted inside (refused)
    size_bytes: int = 0
    topics: dict[str, int] = field(default_factory=dict)  # topic -> partition folders (log dirs only)
    cluster_id: str | None = None  # from meta.properties (log dirs only)
    looks_like_data: bool = True
    forced: bool = False  # named by --force-path
    foreign: list[str] = field(default_factory=list)  # entries Kafka and ZooKeeper never write, not named (first few)
    foreign_count: int = 0  # all of them, not named by --force-path
    foreign_named: int = 0  # entries Kafka and ZooKeeper never write that --force-path named: deleted too
    refusal: str | None = None  # why this folder must not be emptied
    refusal_kind: str | None = None  # "protected" | "foreign" | "unrecognised" | "not-a-folder" | "mount-point"

    @property
    def entries(self) -> int:
        return self.files + self.folders + self.links


@dataclass
class ServicePlan:
    """One service to stop, in order (kafkaops's; a foreign one refuses the reset)."""

    service: str  # services.KAFKA | services.ZOOKEEPER | services.CONTROLLER
    port: int
    state: str  # running | not-running | foreign
    pid: int | None = None
    detail: str | None = None


@dataclass
class ResetPlan:
    stop: list[ServicePlan]
    dirs: list[DirPlan]
    keeps: list[str]
    loses: list[str]
    reset_producer_offset: bool = False
    backup_dir: str | None = None
    restart: bool = False
    offset_before: dict[str, object] | None = None  # the default pipeline's position now (with --reset-producer-offset)
    offset_error: str | None = None  # why the database could not be read
    offset_hint: str | None = None  # what to do about it
    refusals: list[str] = field(default_factory=list)
    force_paths: list[str] = field(default_factory=list)  # --force-path, resolved (checked again before emptying)
    not_local: str | None = None  # why the configured cluster is not the local stack (a refusal)
    mode: str = "zookeeper"  # zookeeper | kraft: KRaft mode stops nothing, it refuses while a node runs

    @property
    def total_bytes(self) -> int:
        return sum(d.size_bytes for d in self.dirs)

    @property
    def total_files(self) -> int:
        return sum(d.files + d.links for d in self.dirs)

    def to_dict(self) -> dict[str, object]:
        doc = asdict(self)
        doc["total_bytes"] = self.total_bytes
        doc["total_files"] = self.total_files
        doc["allowed"] = not self.refusals
        return doc

    def check(self) -> None:
        """Raise the refusal if any guard said no."""
        if self.not_local:  # the headline whatever else is wrong: the rest is about another stack
            raise RefusedError(f"reset refused: {self.not_local}", details=self.refusals[1:], hint=_refusal_hint(self), runbook="reset what-kafkaops-does")
        if self.refusals:
            first = self.refusals[0]
            raise RefusedError(
                f"reset refused: {first}" if len(self.refusals) == 1 else f"reset refused for {len(self.refusals)} reasons",
                details=self.refusals if len(self.refusals) > 1 else [],
                hint=_refusal_hint(self),
                runbook="reset what-kafkaops-does",
            )


FOREIGN_HINT = (
    "point log.dirs / dataDir / dataLogDir at the data folder, or move those entries out; to delete them anyway, "
    "name each with --force-path PATH (and the folder itself with --force-path DIR)"
)


def _refusal_hint(plan: ResetPlan) -> str:
    if plan.not_local:
        return (
            "kafkaops resets only the stack it runs here: point KAFKA_BROKER and ZOOKEEPER_CONNECT at it "
            "(or unset them to use its config files); another cluster's data is not yours to delete"
        )
    if any(d.refusal_kind == "foreign" for d in plan.dirs):
        return FOREIGN_HINT
    if any(d.refusal_kind == "unrecognised" for d in plan.dirs):
        return "check log.dirs / dataDir / dataLogDir in the configs; if that folder really is Kafka's or ZooKeeper's, name it with --force-path DIR"
    if plan.mode == "kraft" and any(s.state == "running" for s in plan.stop):
        return "stop it with `kafkaops down`, then rerun `kafkaops reset --confirm` (a KRaft node's data is never deleted under it)"
    if any(s.state == "foreign" for s in plan.stop) or any(r.startswith(LOCK_HELD) for r in plan.refusals):
        return "stop that process yourself (kafkaops never signals what it did not start), then rerun"
    if plan.offset_error:
        return plan.offset_hint or "start the database (or fix DATABASE_URL), or leave out --reset-producer-offset"
    if plan.mode == "kraft":
        return "point log.dirs / metadata.log.dir at folders used only by Kafka"
    return "point log.dirs / dataDir / dataLogDir at folders used only by Kafka and ZooKeeper"
