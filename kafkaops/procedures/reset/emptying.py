"""Backing up a data folder (verified) and emptying it (the folder stays; links inside are unlinked, never followed)."""

from __future__ import annotations

import os
import shutil
import stat
import sys
import tarfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from kafkaops.errors import KafkaopsError, RefusedError
from kafkaops.procedures.reset.contents import Usage, _is_link, measure
from kafkaops.procedures.reset.guards import Protected, hard_guard, realpath
from kafkaops.procedures.reset.plan import KAFKA_LOG_DIR, KRAFT_METADATA_DIR, ZK_DATA_DIR, ZK_DATA_LOG_DIR


@dataclass
class Backup:
    role: str
    source: str
    archive: str
    members: int
    size_bytes: int  # the archive's size


def _slug(role: str, index: int) -> str:
    base = {KAFKA_LOG_DIR: "kafka-logs", KRAFT_METADATA_DIR: "kraft-metadata", ZK_DATA_DIR: "zookeeper-data", ZK_DATA_LOG_DIR: "zookeeper-datalog"}[role]
    return f"{base}-{index}" if role in (KAFKA_LOG_DIR, KRAFT_METADATA_DIR) else base


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
