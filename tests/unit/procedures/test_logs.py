"""logs --follow: reads that hold no handle in between (Windows rollover), and rollover/truncation."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from kafkaops.procedures import logs


class _Stop(Exception):
    pass


def _holds(path: Path) -> bool:
    return any(Path(f.path) == path for f in psutil.Process().open_files())


def _run(path: Path, steps: list[Callable[[], None]]) -> tuple[list[str], list[bool]]:
    """Follow ``path``; at each wait run the next step (after noting whether the file is held open)."""
    lines: list[str] = []
    held: list[bool] = []

    def sleep(_seconds: float) -> None:
        held.append(_holds(path))
        if not steps:
            raise _Stop
        steps.pop(0)()

    with pytest.raises(_Stop):
        for line in logs.follow(path, poll=0, sleep=sleep):
            lines.append(line)
    return lines, held


def _append(path: Path, text: str) -> Callable[[], None]:
    def do() -> None:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(text)

    return do


def test_follow_holds_no_handle_between_reads(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_text("before\n")
    lines, held = _run(log, [_append(log, "one\n"), _append(log, "two\nthr"), _append(log, "ee\n")])
    assert lines == ["one", "two", "three"]  # from the end on; a line only once its newline is written
    assert held == [False, False, False, False]  # log4j may rename the file at any wait (Windows: only if nobody holds it)


def test_follow_reads_the_new_file_after_a_rename_rollover(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_text("before\n")

    def roll() -> None:  # what log4j's RollingFileAppender does: rename, then a new server.log (here longer than the old)
        log.rename(tmp_path / "server.log.1")

    lines, _ = _run(log, [_append(log, "x\n"), roll, _append(log, "new one\nnew two\n")])
    assert lines == ["x", "new one", "new two"]


def test_follow_reads_from_the_start_after_truncation(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_text("a long line before\n")
    lines, _ = _run(log, [lambda: log.write_text("short\n")])
    assert lines == ["short"]


def test_tail_then_follow_loses_no_line_written_in_between(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_text("one\ntwo\nthr")
    shown, end = logs.tail(log, 1)
    assert shown == ["two"]  # complete lines only: "thr" is not finished yet
    _append(log, "ee\nfour\n")()  # written after the tail was read, before following began
    lines, _ = _run_from(log, end)
    assert lines == ["three", "four"]


def _run_from(path: Path, start: int) -> tuple[list[str], list[bool]]:
    lines: list[str] = []

    def sleep(_seconds: float) -> None:
        raise _Stop

    with pytest.raises(_Stop):
        for line in logs.follow(path, poll=0, sleep=sleep, start=start):
            lines.append(line)
    return lines, []
