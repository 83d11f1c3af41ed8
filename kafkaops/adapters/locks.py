"""An inter-process lock with a note saying who holds it (the only module that imports filelock).

The lock itself is an OS file lock (``flock`` on POSIX, ``msvcrt.locking`` on Windows) taken by the
filelock library: the OS releases it when its holder exits, however it exits, so a crashed command
never leaves a stale lock behind. Next to it, the holder writes a small JSON note (its pid, start
time and command) so that a command that has to wait can say whom it waits for. The note is only
informative: it is trusted only while the process it names is alive and started when it says.
Nested use in one process (``reset`` calls ``down`` and ``up``) takes the lock once.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from kafkaops.adapters import processes
from kafkaops.errors import KafkaopsError, RefusedError


@dataclass(frozen=True)
class Holder:
    """Who holds a lock, as its note says."""

    pid: int
    create_time: float
    command: str
    since: float


class LockTimeout(RefusedError):
    """The lock was still held by another process when the wait ran out."""

    def __init__(self, holder: Holder | None, waited: float) -> None:
        super().__init__(f"the lock is still held after {waited:g}s")
        self.holder = holder
        self.waited = waited


def note_path(lock_path: Path) -> Path:
    return lock_path.with_name(lock_path.name + ".holder")


def read_holder(lock_path: Path) -> Holder | None:
    """The holder named by the note, if that process is alive (same pid, same start time)."""
    try:
        holder = Holder(**json.loads(note_path(lock_path).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None
    return holder if processes.is_alive(holder.pid, holder.create_time) else None


def _write_note(lock_path: Path, holder: Holder) -> None:
    note = note_path(lock_path)
    tmp = note.with_name(f"{note.name}.{holder.pid}.tmp")
    tmp.write_text(json.dumps(asdict(holder)), encoding="utf-8")
    os.replace(tmp, note)


def _remove_note_if_ours(lock_path: Path, holder: Holder) -> None:
    note = note_path(lock_path)
    try:
        if Holder(**json.loads(note.read_text(encoding="utf-8"))) == holder:
            note.unlink()
    except (OSError, ValueError, TypeError):
        return


def _me(command: str) -> Holder:
    info = processes.proc_info(os.getpid())
    return Holder(os.getpid(), info.create_time if info else 0.0, command, time.time())


_held: dict[str, Holder] = {}  # lock path -> the note this process wrote, while it holds the lock


@contextmanager
def hold(lock_path: Path, command: str, *, timeout: float, on_wait: Callable[[Holder | None], None]) -> Iterator[Holder]:
    """Hold the lock at ``lock_path`` for ``command``; wait up to ``timeout`` seconds for another holder.

    ``on_wait`` is called once, with the holder (None when it cannot be told), before waiting.
    Raises :class:`LockTimeout` when the lock is still held after ``timeout``.
    """
    key = str(lock_path.absolute())
    if key in _held:  # already ours (a nested command in this process)
        yield _held[key]
        return
    from filelock import FileLock, Timeout

    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise KafkaopsError(f"cannot create {lock_path.parent}: {exc.strerror or exc}", hint="check KAFKAOPS_HOME and its permissions") from None
    lock = FileLock(str(lock_path))
    me = _me(command)  # ready before the lock is taken: the note follows it at once
    try:
        lock.acquire(timeout=0)
    except Timeout:
        holder = _wait_for_note(lock_path)
        on_wait(holder)
        try:
            lock.acquire(timeout=timeout, poll_interval=0.1)
        except Timeout:
            raise LockTimeout(read_holder(lock_path) or holder, timeout) from None
    except OSError as exc:
        raise KafkaopsError(f"cannot lock {lock_path}: {exc.strerror or exc}", hint="check KAFKAOPS_HOME and its permissions") from None
    me = Holder(me.pid, me.create_time, me.command, time.time())
    try:
        _write_note(lock_path, me)
        _held[key] = me
        yield me
    finally:
        _held.pop(key, None)
        _remove_note_if_ours(lock_path, me)
        lock.release()


def _wait_for_note(lock_path: Path, patience: float = 5.0) -> Holder | None:
    """The holder's note; it may be a moment behind the lock (written just after taking it)."""
    deadline = time.monotonic() + patience
    while True:
        holder = read_holder(lock_path)
        if holder is not None or time.monotonic() > deadline:
            return holder
        time.sleep(0.05)
