"""Resetting the local stack: empty exactly Kafka's and ZooKeeper's data folders after a clean stop.

The work is split in two. :func:`build_plan` reads the configs, the folders and the services' state
and changes nothing: it says what would be stopped, emptied, kept and lost, and why it would refuse.
:func:`execute` carries a plan out: stop the stack with the code ``kafkaops down`` uses, make sure no
broker or ZooKeeper kafkaops did not start holds the ports, archive and verify the folders if asked,
empty them (the folders themselves stay; symbolic links inside are removed, never followed), rewind
the producer offset if asked, start again if asked, and append one line to the audit log. With
``--reset-producer-offset`` the rewound pipeline is the default one (livedb -> KAFKA_TOPIC); its
producer lock is taken before anything is stopped or deleted and held until the rewind is done, so
a producer cannot start in between and a running one makes the reset refuse with nothing touched.

Every guard works on resolved real paths, so a symbolic link or a ``..`` cannot smuggle a home
folder, a filesystem root or a Kafka installation past it. The hard guards are checked a second
time just before each folder is emptied.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import sys
import tarfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from kafkaops.errors import KafkaopsError, RefusedError
from kafkaops.procedures import cluster, services
from kafkaops.settings import Settings

Progress = Callable[[str], None]

KAFKA_LOG_DIR = "kafka log dir"
ZK_DATA_DIR = "ZooKeeper dataDir"
ZK_DATA_LOG_DIR = "ZooKeeper dataLogDir"

AUDIT_FILE = "reset-audit.log"

# What Kafka 3.9 writes in a log dir (names from its sources: LogManager, ReplicaManager, LogCleanerManager,
# CleanShutdownFileHandler, MetaPropertiesEnsemble, LocalLog, LogFileUtils, LeaderEpochCheckpointFile,
# PartitionMetadataFile; in KRaft mode also BootstrapDirectory, FileQuorumStateStore and Snapshots).
# Every checkpoint is written to "<name>.tmp" first and then renamed, so a ".tmp" twin is Kafka's too.
_KAFKA_TOP_FILES = frozenset(
    {
        "meta.properties",
        ".lock",
        ".kafka_cleanshutdown",
        "recovery-point-offset-checkpoint",
        "replication-offset-checkpoint",
        "log-start-offset-checkpoint",
        "cleaner-offset-checkpoint",
        "bootstrap.checkpoint",
    }
)
# A partition's folder is <topic>-<partition> (topic names use only [a-zA-Z0-9._-]); a deleted, moving or
# stray one is renamed <topic>-<partition>.<32 hex>-delete|-future|-stray (the prefix cut when too long).
_PARTITION_DIR = re.compile(r"^(?P<topic>[A-Za-z0-9._-]+)-(?P<partition>\d+)$")
_MOVED_PARTITION_DIR = re.compile(r"^[A-Za-z0-9._-]+\.[0-9a-f]{32}-(?:delete|future|stray)$")
# Inside a partition folder: segments and their indexes named by a 20-digit offset, producer snapshots,
# the files a cleaning, swap or deletion leaves for a moment, and the partition's own checkpoints
# (plus KRaft's metadata snapshots and quorum state in __cluster_metadata-0).
_PARTITION_FILE = re.compile(
    r"^(?:\d{20}\.(?:log|index|timeindex|txnindex|snapshot)(?:\.(?:deleted|cleaned|swap))?"
    r"|(?:leader-epoch-checkpoint|partition\.metadata|quorum-state)(?:\.tmp)?"
    r"|\d{20}-\d{10}\.checkpoint(?:\.deleted)?|\d{20}-\d{10}.*\.checkpoint\.part)$"
)
# What ZooKeeper 3.8 writes in a dataDir / dataLogDir: version-2 with transaction logs and snapshots
# named by a hex zxid (snapshots maybe compressed), the quorum epochs; next to it myid, the pid file of
# zkServer.sh, and the "initialize" marker of zkServer-initialize.sh.
ZK_VERSION_DIR = "version-2"
_ZK_TOP_FILES = frozenset({"myid", "zookeeper_server.pid", "initialize"})
_ZK_VERSION_FILE = re.compile(r"^(?:(?:log|snapshot)\.[0-9a-f]+(?:\.(?:gz|snappy))?|(?:acceptedEpoch|currentEpoch|updatingEpoch)(?:\.tmp)?)$")
_ZK_DATA_FILE = re.compile(r"^(?:log|snapshot)\.[0-9a-f]+")
FOREIGN_SHOWN = 5  # foreign entries named in a refusal; the rest are counted


def _noop(_msg: str) -> None:
    return None


# --------------------------------------------------------------------------------------------
# The plan


@dataclass
class DirPlan:
    """One folder the reset would empty."""

    role: str  # KAFKA_LOG_DIR | ZK_DATA_DIR | ZK_DATA_LOG_DIR
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
    """One service to stop, in order."""

    service: str  # services.KAFKA | services.ZOOKEEPER
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
    if any(s.state == "foreign" for s in plan.stop):
        return "stop that process yourself (kafkaops never signals what it did not start), then rerun"
    if plan.offset_error:
        return plan.offset_hint or "start the database (or fix DATABASE_URL), or leave out --reset-producer-offset"
    return "point log.dirs / dataDir / dataLogDir at folders used only by Kafka and ZooKeeper"


# --------------------------------------------------------------------------------------------
# Guards: pure functions of resolved paths.


def realpath(path: Path | str, base: Path | None = None) -> Path:
    """The resolved real path; a relative path is taken from ``base`` (default: the current folder)."""
    path = Path(path)
    if base is not None and not path.is_absolute():
        path = base / path
    return Path(os.path.realpath(str(path)))


def service_cwd(settings: Settings) -> Path:
    """The working folder kafkaops starts ZooKeeper and the broker in: relative data paths are taken from it."""
    return settings.kafkaops_home


def _is_within(child: Path, parent: Path) -> bool:
    """Whether ``child`` is ``parent`` or inside it (both already resolved)."""
    if _same(child, parent):
        return True
    try:
        child.relative_to(parent)
        return True
    except ValueError:
        return os.path.normcase(str(child)).startswith(os.path.normcase(str(parent)).rstrip(os.sep) + os.sep)


def _is_root(path: Path) -> bool:
    text = str(path)
    return os.path.dirname(text) == text or path == Path(path.anchor)


@dataclass(frozen=True)
class Protected:
    """Resolved folders a reset must never empty.

    ``whole``: neither these nor any folder containing them (home, KAFKA_HOME, the current folder,
    KAFKAOPS_HOME, the config files). ``state``: kafkaops's own state folders, also never anything
    inside them (pid files, service logs, the embedded PostgreSQL, installed distributions).
    """

    whole: tuple[tuple[str, Path], ...]
    state: tuple[tuple[str, Path], ...] = ()

    @classmethod
    def of(cls, settings: Settings, *, cwd: Path | None = None, home: Path | None = None) -> Protected:
        whole: list[tuple[str, Path]] = []
        try:
            whole.append(("your home folder", realpath(home if home is not None else Path.home())))
        except RuntimeError:  # no home folder can be determined
            pass
        whole.append(("KAFKA_HOME", realpath(settings.kafka_home)))
        whole.append(("the current folder", realpath(cwd if cwd is not None else Path.cwd())))
        whole.append(("KAFKAOPS_HOME", realpath(settings.kafkaops_home)))
        whole.append(("the config file", realpath(settings.server_properties)))
        whole.append(("the config file", realpath(settings.zookeeper_properties)))
        ops = settings.kafkaops_home
        state = [
            ("kafkaops's pid files", realpath(settings.run_dir)),
            ("kafkaops's service logs", realpath(settings.logs_dir)),
            ("kafkaops's own config", realpath(ops / "conf")),
            ("the embedded PostgreSQL", realpath(ops / "postgres")),
            ("kafkaops's Kafka distributions", realpath(settings.dists_dir)),
        ]
        return cls(whole=tuple(whole), state=tuple(state))


def hard_guard(real: Path, protected: Protected) -> str | None:
    """Why this resolved folder must never be emptied, whatever its contents; None if it may be."""
    if _is_root(real):
        return "it is a filesystem root"
    for label, path in protected.whole:
        if _is_within(path, real):
            return f"it is {label}" if _same(real, path) else f"it contains {label} {path}"
    for label, path in protected.state:
        if _is_within(real, path) or _is_within(path, real):
            return f"it is {label}" if _same(real, path) else f"it overlaps {label} ({path})"
    return None


def _same(a: Path, b: Path) -> bool:
    return os.path.normcase(str(a)) == os.path.normcase(str(b))


@dataclass
class Foreign:
    """An entry Kafka and ZooKeeper never write: a file, a link, or a folder (with the files inside it)."""

    path: str  # relative to the data folder, "/"-separated
    is_dir: bool = False
    files: int = 0  # inside a folder

    def __str__(self) -> str:
        return f"{self.path}/ ({_count(self.files, 'file')})" if self.is_dir else self.path


@dataclass
class Contents:
    """What is inside a data folder, sorted by who wrote it."""

    kafka: bool = False  # something only Kafka writes: meta.properties, a checkpoint, a segment or its index
    zookeeper: bool = False  # a ZooKeeper transaction log or snapshot under version-2
    empty: bool = True
    foreign: list[Foreign] = field(default_factory=list)


def _count(n: int, noun: str, nouns: str | None = None) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {nouns or noun + 's'}"


def _files_below(path: str) -> int:
    files = 0
    for _root, _dirs, names in os.walk(path):  # os.walk never follows links to folders
        files += len(names)
    return files


def _is_partition_dir(name: str) -> bool:
    return bool(_PARTITION_DIR.match(name) or _MOVED_PARTITION_DIR.match(name))


def survey(real: Path) -> Contents:
    """Sort a folder's contents into Kafka's, ZooKeeper's and everything else (links and mounts never followed).

    Kafka writes files at the top (meta.properties, checkpoints) and one level of partition folders holding
    only segment, index and checkpoint files; ZooKeeper writes version-2 with logs and snapshots, and myid.
    Anything else, at any depth, is foreign: a reset must not delete it without being told by name.
    """
    found = Contents()
    try:
        with os.scandir(real) as it:
            top = sorted(it, key=lambda e: e.name)
    except OSError:
        return found
    for entry in top:
        found.empty = False
        if _is_link(entry):
            found.foreign.append(Foreign(entry.name))
        elif entry.is_dir(follow_symlinks=False):
            if os.path.ismount(entry.path):
                found.foreign.append(Foreign(entry.name, is_dir=True))
            elif entry.name == ZK_VERSION_DIR or _is_partition_dir(entry.name):
                _survey_data_dir(entry, found)  # "version-2" is also a valid partition folder name
            else:
                found.foreign.append(Foreign(entry.name, is_dir=True, files=_files_below(entry.path)))
        elif entry.name in _KAFKA_TOP_FILES:
            found.kafka = True
        elif entry.name.endswith(".tmp") and entry.name[: -len(".tmp")] in _KAFKA_TOP_FILES:
            pass  # a checkpoint being written: Kafka's, though not proof of Kafka
        elif entry.name not in _ZK_TOP_FILES:
            found.foreign.append(Foreign(entry.name))
    return found


def _survey_data_dir(folder: os.DirEntry[str], found: Contents) -> None:
    """A partition folder (or ZooKeeper's version-2): only Kafka's or ZooKeeper's files, no folders, no links."""
    try:
        with os.scandir(folder.path) as it:
            inside = sorted(it, key=lambda e: e.name)
    except OSError:
        found.foreign.append(Foreign(folder.name, is_dir=True))
        return
    for entry in inside:
        rel = f"{folder.name}/{entry.name}"
        if _is_link(entry):
            found.foreign.append(Foreign(rel))
        elif entry.is_dir(follow_symlinks=False):
            found.foreign.append(Foreign(rel, is_dir=True, files=0 if os.path.ismount(entry.path) else _files_below(entry.path)))
        elif _is_partition_dir(folder.name) and _PARTITION_FILE.match(entry.name):
            found.kafka = True
        elif folder.name == ZK_VERSION_DIR and _ZK_VERSION_FILE.match(entry.name):
            found.zookeeper = found.zookeeper or bool(_ZK_DATA_FILE.match(entry.name))
        else:
            found.foreign.append(Foreign(rel))


def looks_like_kafka_data(real: Path) -> bool:
    """A log dir Kafka wrote: something only Kafka writes, and nothing it does not."""
    found = survey(real)
    return found.kafka and not found.foreign


def looks_like_zookeeper_data(real: Path) -> bool:
    """A ZooKeeper dataDir / dataLogDir: version-2 with logs or snapshots, and nothing ZooKeeper does not write."""
    found = survey(real)
    return found.zookeeper and not found.foreign


def _is_empty(real: Path) -> bool:
    with os.scandir(real) as it:
        return next(it, None) is None


# --------------------------------------------------------------------------------------------
# Measuring a folder without following links.


def _is_link(entry: os.DirEntry[str]) -> bool:
    """A symbolic link, or on Windows a junction: removed as a link, never descended into."""
    if entry.is_symlink():
        return True
    if sys.platform == "win32":
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            return False
        reparse = getattr(stat, "FILE_ATTRIBUTE_REPARSE_POINT", 0x400)
        return bool(getattr(st, "st_file_attributes", 0) & reparse)
    return False


@dataclass
class Usage:
    files: int = 0
    folders: int = 0
    links: int = 0
    size_bytes: int = 0
    mounts: list[str] = field(default_factory=list)  # other filesystems mounted inside: never descended into


def measure(real: Path) -> Usage:
    """Files, folders, links and bytes inside a folder (links counted, not followed, mount points noted)."""
    usage = Usage()
    stack = [str(real)]
    while stack:
        current = stack.pop()
        try:
            it = os.scandir(current)
        except OSError:  # vanished or unreadable while a broker still runs: count what we can
            continue
        with it:
            for entry in it:
                try:
                    if _is_link(entry):
                        usage.links += 1
                    elif entry.is_dir(follow_symlinks=False):
                        if os.path.ismount(entry.path):
                            usage.mounts.append(entry.path)
                            continue
                        usage.folders += 1
                        stack.append(entry.path)
                    else:
                        usage.files += 1
                        usage.size_bytes += entry.stat(follow_symlinks=False).st_size
                except OSError:
                    continue
    return usage


def _holds_only_kafka_files(folder: str) -> bool:
    try:
        with os.scandir(folder) as it:
            return all(_PARTITION_FILE.match(e.name) and e.is_file(follow_symlinks=False) for e in it)
    except OSError:
        return False


def _topics_on_disk(real: Path) -> dict[str, int]:
    """Topic -> partition folders: folders named <topic>-<n> that hold only Kafka's files (python-3 is no topic)."""
    topics: dict[str, int] = {}
    try:
        with os.scandir(real) as it:
            for e in it:
                m = _PARTITION_DIR.match(e.name)
                if m and e.is_dir(follow_symlinks=False) and not _is_link(e) and _holds_only_kafka_files(e.path):
                    topics[m.group("topic")] = topics.get(m.group("topic"), 0) + 1
    except OSError:
        pass
    return dict(sorted(topics.items()))


# --------------------------------------------------------------------------------------------
# Building the plan


def _service_plan(settings: Settings, cfg: services.StackConfig, service: str) -> ServicePlan:
    p = services.probe(settings, cfg, service)
    if p.proc is not None:
        return ServicePlan(service, p.port, "running", p.proc.pid)
    if p.port_open:
        detail = f"port {p.port} is held by {p.owner_text}, which kafkaops did not start"
        return ServicePlan(service, p.port, "foreign", p.owner.pid if p.owner else None, detail)
    return ServicePlan(service, p.port, "not-running")


def _key(path: Path | str) -> str:
    return os.path.normcase(str(path))


def resolve_named(path: Path | str) -> tuple[Path, Path]:
    """A --force-path resolved two ways: as a folder (every link followed) and as an entry (its own name kept).

    A link inside a data folder is named by its own path: resolving it would name its target instead.
    """
    path = Path(os.path.abspath(path))
    return realpath(path), realpath(path.parent) / path.name


def _named_keys(force_paths: Iterable[Path | str]) -> set[str]:
    return {_key(form) for p in force_paths for form in resolve_named(p)}


def _unnamed_foreign(real: Path, foreign: Sequence[Foreign], named: set[str]) -> list[Foreign]:
    """The foreign entries no --force-path names, by itself or by a folder inside ``real`` that holds it."""
    left = []
    for f in foreign:
        parts = f.path.split("/")
        if not any(_key(real.joinpath(*parts[:i])) in named for i in range(1, len(parts) + 1)):
            left.append(f)
    return left


def foreign_refusal(named_dir: str, foreign: Sequence[Foreign]) -> str:
    shown = ", ".join(str(f) for f in foreign[:FOREIGN_SHOWN])
    more = f", and {len(foreign) - FOREIGN_SHOWN} more" if len(foreign) > FOREIGN_SHOWN else ""
    return f"{named_dir} holds {_count(len(foreign), 'entry', 'entries')} Kafka and ZooKeeper never write: {shown}{more}"


def _dir_plan(role: str, configured: Path, protected: Protected, forced: set[str], base: Path) -> DirPlan:
    real = realpath(configured, base)
    plan = DirPlan(role=role, path=str(configured), real=str(real), exists=real.exists())
    named = f"{role} {configured}" + (f" (resolves to {real})" if str(real) != str(configured) else "")
    reason = hard_guard(real, protected)
    if reason:
        plan.refusal, plan.refusal_kind = f"{named}: {reason}", "protected"
        return plan
    if not plan.exists:
        return plan  # nothing to delete; Kafka / ZooKeeper create it at the next start
    if not real.is_dir():
        plan.refusal, plan.refusal_kind = f"{named} is not a folder", "not-a-folder"
        return plan
    usage = measure(real)
    plan.files, plan.folders, plan.links, plan.size_bytes = usage.files, usage.folders, usage.links, usage.size_bytes
    plan.mounts = usage.mounts
    if usage.mounts:
        plan.refusal = f"{named} has another file system mounted inside ({', '.join(usage.mounts[:3])}): unmount it first"
        plan.refusal_kind = "mount-point"
        return plan
    contents = survey(real)
    if role == KAFKA_LOG_DIR:
        plan.topics = _topics_on_disk(real)
        meta = services.read_meta_properties(real)
        plan.cluster_id = (meta or {}).get("cluster.id")
        plan.looks_like_data = contents.kafka
        kind = "Kafka data (no meta.properties, no checkpoint files, no <topic>-<partition> folders with segments)"
    else:
        plan.looks_like_data = contents.zookeeper
        kind = "ZooKeeper data (no version-2 folder with transaction logs or snapshots)"
    plan.forced = _key(real) in forced
    unnamed = _unnamed_foreign(real, contents.foreign, forced)
    plan.foreign = [str(f) for f in unnamed[:FOREIGN_SHOWN]]
    plan.foreign_count = len(unnamed)
    plan.foreign_named = len(contents.foreign) - len(unnamed)
    if unnamed:  # even --force-path DIR does not hand over files Kafka and ZooKeeper never wrote
        plan.refusal, plan.refusal_kind = foreign_refusal(named, unnamed), "foreign"
    elif not plan.looks_like_data and not plan.forced and not contents.empty:
        plan.refusal, plan.refusal_kind = f"{named} does not look like {kind}", "unrecognised"
    return plan


def _check_force_paths(force_paths: Iterable[Path], dirs: Sequence[DirPlan]) -> list[str]:
    """A --force-path must name a configured data folder, or something that exists inside one."""
    refusals = []
    folders = [Path(d.real) for d in dirs if d.exists]
    for given in force_paths:
        as_folder, as_entry = resolve_named(given)
        if any(_same(as_folder, Path(d.real)) for d in dirs):
            continue
        inside = any(_is_within(as_entry, f) and not _same(as_entry, f) for f in folders)
        if not inside:
            refusals.append(f"--force-path {as_entry} is not one of the configured data folders, nor inside one")
        elif not os.path.lexists(as_entry):
            refusals.append(f"--force-path {as_entry} does not exist")
    return refusals


def build_plan(
    settings: Settings,
    *,
    force_paths: Iterable[Path] = (),
    backup_dir: Path | None = None,
    reset_producer_offset: bool = False,
    restart: bool = False,
    cwd: Path | None = None,
    home: Path | None = None,
    read_offset: Callable[[Settings], dict[str, object] | None] | None = None,
) -> ResetPlan:
    """What a reset would do, and whether it may: reads configs, folders and process state; changes nothing."""
    cfg = services.read_stack_config(settings)
    protected = Protected.of(settings, cwd=cwd, home=home)
    force_paths = list(force_paths)
    forced = _named_keys(force_paths)
    base = service_cwd(settings)  # Java resolves a relative log.dirs / dataDir against the JVM's working folder

    configured: list[tuple[str, Path]] = [(KAFKA_LOG_DIR, d) for d in cfg.log_dirs]
    configured.append((ZK_DATA_DIR, cfg.zk_data_dir))
    if cfg.zk_data_log_dir is not None:
        configured.append((ZK_DATA_LOG_DIR, cfg.zk_data_log_dir))
    dirs: list[DirPlan] = []
    seen: set[str] = set()
    for role, path in configured:
        key = os.path.normcase(str(realpath(path, base)))
        if key in seen:  # dataLogDir == dataDir, or a log dir listed twice
            continue
        seen.add(key)
        dirs.append(_dir_plan(role, path, protected, forced, base))

    stop = [_service_plan(settings, cfg, services.KAFKA), _service_plan(settings, cfg, services.ZOOKEEPER)]
    refusals = [d.refusal for d in dirs if d.refusal]
    # A reset empties the local stack's folders: never because the settings name another cluster.
    identity = cluster.identify(settings)
    not_local = None if identity.local else cluster.not_local_message(settings, identity)
    if not_local:
        refusals.insert(0, not_local)
    refusals += [f"{'Kafka broker' if s.service == services.KAFKA else 'ZooKeeper'}: {s.detail}" for s in stop if s.state == "foreign"]

    refusals += _check_force_paths(force_paths, dirs)

    backup_real: str | None = None
    if backup_dir is not None:
        b = realpath(backup_dir)
        backup_real = str(b)
        for d in dirs:
            if _is_within(b, Path(d.real)):
                refusals.append(f"the backup folder {b} is inside {d.role} {d.real}, which the reset empties")
        if b.exists() and not b.is_dir():
            refusals.append(f"the backup folder {b} exists and is not a folder")

    offset_before: dict[str, object] | None = None
    offset_error: str | None = None
    offset_hint: str | None = None
    if reset_producer_offset:
        try:
            offset_before = (read_offset or read_producer_offset)(settings)
        except RefusedError as exc:  # a producer runs: the database is fine
            offset_error, offset_hint = exc.message, exc.hint
            refusals.append(f"--reset-producer-offset: {exc.message}")
        except KafkaopsError as exc:
            offset_error, offset_hint = exc.message, exc.hint
            refusals.append(f"--reset-producer-offset: cannot read producer_offsets: {exc.message}")

    keeps = [
        "the database: the livedb rows" + ("" if reset_producer_offset else " and the producer offset (producer_offsets)"),
        f"the config files: {settings.server_properties}, {settings.zookeeper_properties}",
        f"kafkaops's own state and service logs under {settings.kafkaops_home}",
        "the data folders themselves (only their contents are deleted)",
    ]
    topic_names = sorted({t for d in dirs for t in d.topics if not t.startswith("__")})
    loses = [
        "every topic and message" + (f" (topics on disk: {', '.join(topic_names)})" if topic_names else ""),
        "every consumer group's committed offsets (__consumer_offsets)",
        "the broker's metadata (meta.properties, cluster id"
        + (f" {next(d.cluster_id for d in dirs if d.cluster_id)}" if any(d.cluster_id for d in dirs) else "")
        + ")",
        "ZooKeeper's state: broker registrations, controller, topic configs, the cluster id",
    ]
    if reset_producer_offset:
        pipeline = (offset_before or {}).get("pipeline", f"livedb -> {settings.kafka_topic}")
        loses.append(f"the producer's position of {pipeline}: it goes back to last_id 0, so every livedb row is sent again to {settings.kafka_topic}")
    return ResetPlan(
        stop=stop,
        dirs=dirs,
        keeps=keeps,
        loses=loses,
        reset_producer_offset=reset_producer_offset,
        backup_dir=backup_real,
        restart=restart,
        offset_before=offset_before,
        offset_error=offset_error,
        offset_hint=offset_hint,
        refusals=refusals,
        force_paths=[str(p) for p in force_paths],
        not_local=not_local,
    )


# --------------------------------------------------------------------------------------------
# Backups


@dataclass
class Backup:
    role: str
    source: str
    archive: str
    members: int
    size_bytes: int  # the archive's size


def _slug(role: str, index: int) -> str:
    base = {KAFKA_LOG_DIR: "kafka-logs", ZK_DATA_DIR: "zookeeper-data", ZK_DATA_LOG_DIR: "zookeeper-datalog"}[role]
    return f"{base}-{index}" if role == KAFKA_LOG_DIR else base


def backup_dir_contents(source: Path, archive: Path) -> int:
    """Write a tar.gz of a folder's contents (links stored as links), then verify it; the member count."""
    written: list[str] = []

    def record(info: tarfile.TarInfo) -> tarfile.TarInfo:
        written.append(info.name)
        return info

    tmp = archive.with_name(archive.name + ".partial")
    try:
        archive.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(tmp, "w:gz") as tar:
            with os.scandir(source) as it:
                for entry in sorted(it, key=lambda e: e.name):
                    tar.add(entry.path, arcname=entry.name, recursive=True, filter=record)
        verify_archive(tmp, written)
        tmp.replace(archive)
    except (OSError, tarfile.TarError) as exc:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        raise KafkaopsError(
            f"backup of {source} to {archive} failed: {exc}",
            hint="free some space or choose another --backup folder; nothing was deleted",
        ) from None
    return len(written)


def verify_archive(archive: Path, expected: Sequence[str]) -> None:
    """Reopen the archive, read every member to the end, and compare names and count with what was written."""
    with tarfile.open(archive, "r:gz") as tar:
        names = []
        for member in tar:
            names.append(member.name)
            if member.isfile():
                fh = tar.extractfile(member)
                assert fh is not None
                read = 0
                while chunk := fh.read(1 << 20):
                    read += len(chunk)
                if read != member.size:
                    raise tarfile.TarError(f"{member.name}: read {read} bytes of {member.size}")
    if len(names) != len(expected) or sorted(names) != sorted(expected):
        raise tarfile.TarError(f"the archive holds {len(names)} entries, {len(expected)} were written")


# --------------------------------------------------------------------------------------------
# Emptying a folder


@dataclass
class Emptied:
    role: str
    path: str
    files: int
    folders: int
    links: int
    size_bytes: int


def _on_rm_error(func: Callable[..., object], path: str, _exc: object) -> None:
    """A read-only file (Windows) is made writable and removed again; anything else propagates."""
    os.chmod(path, stat.S_IWRITE | stat.S_IREAD)
    func(path)


def empty_directory(real: Path, protected: Protected) -> Usage:
    """Delete everything inside ``real`` (which stays). Links inside are unlinked, never followed."""
    reason = hard_guard(realpath(real), protected)  # checked again, right before deleting
    if reason:
        raise RefusedError(f"will not empty {real}: {reason}")
    usage = measure(real)
    if usage.mounts:
        raise RefusedError(f"will not empty {real}: another file system is mounted inside ({usage.mounts[0]})")
    with os.scandir(real) as it:
        entries = list(it)
    for entry in entries:
        if _is_link(entry):
            if entry.is_dir(follow_symlinks=False) or (sys.platform == "win32" and entry.is_dir()):
                os.rmdir(entry.path)  # a Windows directory link / junction: rmdir removes the link only
            else:
                os.unlink(entry.path)
        elif entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, onerror=_on_rm_error)  # rmtree itself never follows links inside
        else:
            try:
                os.unlink(entry.path)
            except PermissionError:
                os.chmod(entry.path, stat.S_IWRITE | stat.S_IREAD)
                os.unlink(entry.path)
    return usage


# --------------------------------------------------------------------------------------------
# Carrying out a plan


@dataclass
class ResetResult:
    stopped: list[services.StopOutcome]
    emptied: list[Emptied]
    backups: list[Backup]
    offset_rewound: bool = False
    offset_before: dict[str, object] | None = None
    restarted: services.UpResult | None = None
    audit_log: str | None = None


def _kafka_only(settings: Settings) -> Settings:
    """Settings for `down` that leave the embedded PostgreSQL running: a reset never touches the database."""
    return settings.with_overrides(embedded_db=False)


def _check_stopped_cleanly(down: services.DownResult) -> None:
    for outcome in down.services:
        label = "the Kafka broker" if outcome.service == services.KAFKA else "ZooKeeper"
        if outcome.action == "forced" or outcome.clean is False:
            raise RefusedError(
                f"{label} did not shut down cleanly ({outcome.detail or outcome.action}); nothing was deleted",
                hint="run `kafkaops up`, let it recover, then rerun `kafkaops reset --confirm`",
                runbook="failures unclean-shutdown",
            )


def _check_ports_free(settings: Settings) -> None:
    cfg = services.read_stack_config(settings)
    addresses = [(services.KAFKA, services.probe_host(host), port) for host, port in cfg.broker_ports]
    addresses.append((services.ZOOKEEPER, *services.service_address(cfg, services.ZOOKEEPER)))
    for service, host, port in addresses:
        p = services.probe(settings, cfg, service, address=(host, port))
        if p.port_open:
            raise RefusedError(
                f"after stopping the stack, port {port} ({services.SERVICE_LABEL[service]}) is still held by {p.owner_text}, which kafkaops did not start; nothing was deleted",
                hint="stop that process yourself: deleting data under a running broker or ZooKeeper corrupts it",
                details=[f"command: {p.owner.command[:200]}"] if p.owner else [],
                runbook="failures foreign-process",
            )


def emptying_error(settings: Settings, d: DirPlan, exc: OSError, emptied: Sequence[Emptied]) -> KafkaopsError:
    """What went wrong while a folder was being emptied, said as what happened and what to do."""
    import errno

    path = exc.filename or d.real
    what, hint = f"{exc.strerror or exc} ({path})", "fix the cause above, then rerun `kafkaops reset --confirm`"
    busy = exc.errno in (errno.EBUSY, errno.ETXTBSY) or getattr(exc, "winerror", None) in (32, 33)  # sharing/lock violation
    if isinstance(exc, FileNotFoundError):
        what = f"{path} vanished while kafkaops was deleting it: another process (another `kafkaops reset`?) is deleting in the same folder"
        hint = f"let the other one finish (a reset appends a line to {audit_path(settings)}), then run `kafkaops reset --dry-run` to see what is left"
    elif busy:
        what = f"{path} is in use by another process ({exc.strerror})"
        hint = "find and stop the process using it (a broker or ZooKeeper kafkaops did not start, a backup, an editor), then rerun `kafkaops reset --confirm`"
    elif exc.errno == errno.ENOTEMPTY:
        what = f"new files appeared in {path} while it was being emptied: another process is writing there"
        hint = "find and stop what writes there (a broker or ZooKeeper kafkaops did not start?), then rerun `kafkaops reset --confirm`"
    elif isinstance(exc, PermissionError):
        what = f"permission denied on {path}"
        hint = "run kafkaops as the user that owns the data (the one that ran `kafkaops up`), then rerun `kafkaops reset --confirm`"
    return KafkaopsError(f"could not empty {d.real}: {what}", hint=hint, details=[f"already emptied: {e.path}" for e in emptied])


def _check_contents_again(plan: ResetPlan) -> None:
    """Just before anything is deleted: no entry Kafka and ZooKeeper never write has appeared since the plan."""
    named = _named_keys(plan.force_paths)
    for d in plan.dirs:
        if not d.exists:
            continue
        unnamed = _unnamed_foreign(Path(d.real), survey(Path(d.real)).foreign, named)
        if unnamed:
            raise RefusedError(
                f"{foreign_refusal(f'{d.role} {d.real}', unnamed)} (it appeared after the plan); nothing was deleted",
                hint=FOREIGN_HINT,
                details=["the stack was stopped: `kafkaops up` starts it again"],
                runbook="reset what-kafkaops-does",
            )


def execute(
    settings: Settings,
    plan: ResetPlan,
    progress: Progress = _noop,
    *,
    cwd: Path | None = None,
    home: Path | None = None,
    hold_offset: Callable[[Settings], AbstractContextManager[Callable[[], dict[str, object]]]] | None = None,
) -> ResetResult:
    """Carry out a plan (already confirmed by the user). Appends one line to the audit log, whatever happens.

    When the plan rewinds the producer offset, ``hold_offset`` (default :func:`producer_offset_held`)
    takes the producer lock first (a running producer: refused, nothing touched) and gives the
    rewind, called after the folders are emptied, the lock still held.
    """
    result = ResetResult(stopped=[], emptied=[], backups=[])
    outcome, reason = "failed", None
    held = ExitStack()
    try:
        plan.check()
        protected = Protected.of(settings, cwd=cwd, home=home)
        rewind = held.enter_context((hold_offset or producer_offset_held)(settings)) if plan.reset_producer_offset else None

        progress("stopping the stack: the Kafka broker, then ZooKeeper")
        down = services.down(_kafka_only(settings), progress)
        result.stopped = down.services
        _check_stopped_cleanly(down)
        _check_ports_free(settings)
        _check_contents_again(plan)

        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        if plan.backup_dir is not None:
            backup_root = Path(plan.backup_dir)
            for i, d in enumerate(plan.dirs):
                if not d.exists or _is_empty(Path(d.real)):
                    continue
                archive = backup_root / f"kafkaops-reset-{stamp}-{_slug(d.role, i)}.tar.gz"
                progress(f"backing up {d.real} to {archive}")
                members = backup_dir_contents(Path(d.real), archive)
                result.backups.append(Backup(d.role, d.real, str(archive), members, archive.stat().st_size))

        for d in plan.dirs:
            if not d.exists:
                continue
            progress(f"emptying {d.role} {d.real}")
            try:
                usage = empty_directory(Path(d.real), protected)
            except OSError as exc:
                raise emptying_error(settings, d, exc, result.emptied) from None
            result.emptied.append(Emptied(d.role, d.real, usage.files, usage.folders, usage.links, usage.size_bytes))

        if rewind is not None:
            progress("rewinding the producer offset to last_id 0")
            try:
                result.offset_before = rewind()
            except KafkaopsError as exc:
                exc.message = f"Kafka's data was deleted, but the producer offset was not rewound: {exc.message}"
                raise
            result.offset_rewound = True
            held.close()  # the lock goes: a producer may start now

        if plan.restart:
            progress("starting the stack again")
            result.restarted = services.up(settings, progress)
        outcome = "done"
        return result
    except RefusedError as exc:
        outcome, reason = "refused", exc.message
        raise
    except KafkaopsError as exc:
        reason = exc.message
        raise
    except KeyboardInterrupt:
        outcome, reason = "interrupted", "Ctrl+C"
        raise
    finally:
        held.close()
        result.audit_log = str(audit(settings, plan, result, outcome, reason))


# --------------------------------------------------------------------------------------------
# The producer offset (the database stays untouched unless --reset-producer-offset)


def read_producer_offset(settings: Settings) -> dict[str, object] | None:
    """The default pipeline's position (livedb -> KAFKA_TOPIC) as it is now, read-only; refuses while
    its producer runs (the plan would be refused at once)."""
    from kafkaops.procedures import db

    with db.session(settings, application_name="kafkaops-reset") as conn:
        pipeline = db.default_pipeline(conn, settings)
        offset = db.read_position(conn, pipeline, settings)
        if offset is not None and offset.row is not None:
            db.ensure_no_producer(conn, pipeline, offset.row)
    if offset is None:
        return {"pipeline": str(pipeline), "last_id": 0, "last_created_at": None}
    return {"pipeline": str(pipeline), "last_id": offset.last_id, "last_created_at": str(offset.last_created_at)}


@contextmanager
def producer_offset_held(settings: Settings) -> Iterator[Callable[[], dict[str, object]]]:
    """Hold the default pipeline's producer lock; yields the rewind (to last_id 0 and the epoch), which
    returns the position it had. A running producer: refused before anything was touched."""
    from kafkaops.procedures import db

    with db.session(settings, application_name="kafkaops-reset") as conn:
        pipeline = db.default_pipeline(conn, settings)
        row = db.claim_position(conn, pipeline, settings).row
        assert row is not None
        try:
            db.take_lock(conn, pipeline, row)
        except RefusedError as refusal:
            refusal.message += "; nothing was stopped or deleted"
            raise

        def rewind() -> dict[str, object]:
            before = db.read_position(conn, pipeline, settings)
            db.set_position(conn, row, 0)
            return {"pipeline": str(pipeline), "last_id": before.last_id if before else 0}

        try:
            yield rewind
        finally:
            db.unlock(conn, row)


# --------------------------------------------------------------------------------------------
# The audit log


def audit_path(settings: Settings) -> Path:
    return settings.kafkaops_home / AUDIT_FILE


def audit(settings: Settings, plan: ResetPlan, result: ResetResult | None, outcome: str, reason: str | None = None) -> Path:
    """Append one JSON line for a reset attempt: when, what was deleted and backed up, the offset, the outcome."""
    path = audit_path(settings)
    record = {
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "outcome": outcome,
        "reason": reason,
        "user": _user(),
        "pid": os.getpid(),
        "planned": [{"role": d.role, "path": d.real, "size_bytes": d.size_bytes, "files": d.files + d.links} for d in plan.dirs],
        "deleted": [asdict(e) for e in result.emptied] if result else [],
        "backups": [asdict(b) for b in result.backups] if result else [],
        "offset_rewound": bool(result and result.offset_rewound),
        "offset_before": result.offset_before if result else None,
        "restarted": bool(result and result.restarted),
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, default=str) + "\n")
    except OSError:
        pass  # never hide the reset's own outcome behind a failure to log it
    return path


def _user() -> str | None:
    try:
        import getpass

        return getpass.getuser()
    except Exception:  # no user name in this environment
        return None
