"""Reading the service logs kafkaops writes (KAFKAOPS_HOME/logs/<service>/server.log)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path

from kafkaops.errors import KafkaopsError
from kafkaops.procedures.services import log_path
from kafkaops.settings import Settings


def log_file(settings: Settings, service: str) -> Path:
    path = log_path(settings, service)
    if not path.exists():
        raise KafkaopsError(f"no log yet for {service} at {path}", hint="the log appears once `kafkaops up` has started it")
    return path


def log_service(settings: Settings, service: str) -> str:
    """Whose log to show: in KRaft mode a combined node's controller logs into kafka's; ZooKeeper has none there."""
    from kafkaops.errors import UsageError
    from kafkaops.procedures.services import CONTROLLER, KAFKA, ZOOKEEPER, controller_properties

    if service == CONTROLLER and not (settings.kraft and controller_properties(settings).is_file()):
        if not settings.kraft:
            raise UsageError("there is no controller process in ZooKeeper mode", hint="use kafkaops logs kafka (the controller runs inside a broker)")
        return KAFKA  # combined node: one process, one log
    if service == ZOOKEEPER and settings.kraft:
        raise UsageError("there is no ZooKeeper in KRaft mode", hint="use kafkaops logs kafka or kafkaops logs controller")
    return service


def tail(path: Path, n: int) -> tuple[list[str], int]:
    """The last ``n`` complete lines and the byte offset just after them: where ``follow(start=...)`` goes
    on, so that no line written in between is lost or printed twice (an unfinished last line comes later)."""
    with open(path, "rb") as fh:
        data = fh.read()
    end = data.rfind(b"\n") + 1
    lines = data[:end].decode("utf-8", errors="replace").split("\n")[:-1]
    return ([line.rstrip("\r") for line in lines[-n:]] if n else []), end


def last_lines(path: Path, n: int) -> list[str]:
    if n == 0:
        return []
    with open(path, encoding="utf-8", errors="replace") as fh:
        return [line.rstrip("\n") for line in deque(fh, maxlen=n)]


def follow(path: Path, poll: float = 0.25, *, sleep: Callable[[float], None] = time.sleep, start: int | None = None) -> Iterator[str]:
    """New lines as they are written, like ``tail -F``: from byte ``start`` (from :func:`tail`), else the end.

    The file is opened for each read and closed again before waiting: a handle held between reads
    would, on Windows, block log4j's rollover (it renames server.log). A file that was renamed away
    and re-created (another file id) or truncated (smaller than what was read) is read from its start.
    A line is yielded only once its newline is written.
    """
    size, ident = _size_and_id(path)
    pos = size if start is None else start
    pending = b""
    while True:
        now = _size_and_id(path)
        if now[1] != ident or now[0] < pos:  # rolled over or truncated: the new file from its start
            pos, ident, pending = 0, now[1], b""
        chunk = _read_from(path, pos) if now[0] > pos else b""
        pos += len(chunk)
        *lines, pending = (pending + chunk).split(b"\n")
        yield from (line.decode("utf-8", errors="replace").rstrip("\r") for line in lines)
        if not lines:
            sleep(poll)


def _size_and_id(path: Path) -> tuple[int, tuple[int, int] | None]:
    """(size, (device, file id)) of ``path``; (0, None) while it does not exist (between a rename and the new file)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return 0, None
    return st.st_size, (st.st_dev, st.st_ino)


def _read_from(path: Path, pos: int) -> bytes:
    """What the file holds from byte ``pos`` on; the handle is closed before this returns."""
    try:
        with open(path, "rb") as fh:
            fh.seek(pos)
            return fh.read()
    except FileNotFoundError:
        return b""
