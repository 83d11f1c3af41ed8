"""What is inside a data folder, sorted by who wrote it (Kafka, ZooKeeper, anything else), and measured without following links."""

from __future__ import annotations

import os
import re
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path

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
_ZK_DATA_FILE = re.compile(r"^(?:log|snapshot)\.[0-9a-f]+")


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
