"""produce --follow with a live position against a real PostgreSQL and broker: rows committed above
a transaction still open are sent at once; the open transaction's rows are sent exactly once when it
commits (nothing when it rolls back), also across a SIGKILL of the producer (issue 16, part 4)."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace

import psycopg
import pytest

from kafkaops.procedures import db
from kafkaops.procedures.produce import ProduceOptions, produce
from tests.conftest import run_kafkaops
from tests.pg_fixtures import Pipeline

FOLLOW = ProduceOptions(follow=True, interval=5.0)  # woken by the trigger's notifications, not the interval


def _wait(cond: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _position(p: Pipeline) -> tuple[int, int | None, str | None]:
    row = p.sql("SELECT last_id, sent_upto, holes FROM producer_offsets WHERE id = 1")[0]
    return int(row[0]), row[1], row[2]


def _sent(p: Pipeline, ids: set[int]) -> bool:
    """Every id in ``ids`` is in the committed position (acknowledged by Kafka)."""
    last_id, upto, holes = _position(p)
    from kafkaops.procedures.produce.position import LivePosition

    pos = LivePosition.parse(last_id, upto, holes)
    gaps = {i for lo, hi in pos.holes for i in range(lo, hi + 1)}
    return all(i <= pos.upto and i not in gaps for i in ids)


def _insert(p: Pipeline, name: str) -> int:
    return int(p.sql("INSERT INTO livedb (name, amount) VALUES (%s, 1) RETURNING id", (name,))[0][0])


@contextmanager
def _following(p: Pipeline, opts: ProduceOptions = FOLLOW) -> Iterator[None]:
    stop = threading.Event()
    runner = threading.Thread(target=produce, args=(p.settings, opts, None, stop))
    runner.start()
    try:
        yield
    finally:
        stop.set()
        runner.join(60)


def _slow(p: Pipeline) -> tuple[psycopg.Connection, int]:
    """A transaction that took an id and stays open."""
    conn = psycopg.connect(p.database_url)
    return conn, int(conn.execute("INSERT INTO livedb (name, amount) VALUES ('slow', 1) RETURNING id").fetchone()[0])


@pytest.mark.parametrize("envelope", ["kafkaops", "debezium"])  # debezium: an IndexError on the first live batch, before
def test_an_open_transaction_does_not_hold_up_later_rows_and_its_row_is_sent_once(pipeline: Pipeline, envelope: str) -> None:
    p = pipeline
    db.init(p.settings, demo=True)
    db.seed(p.settings, 3)
    slow, slow_id = _slow(p)
    try:
        with _following(p, replace(FOLLOW, envelope=envelope)):
            later = {_insert(p, f"later-{i}") for i in range(5)}
            _wait(lambda: _sent(p, later | {1, 2, 3}), "the rows above the open transaction")  # the old gate: sent nothing
            assert not _sent(p, {slow_id})
            slow.commit()
            _wait(lambda: _sent(p, {slow_id}), "the slow transaction's row")
            _wait(lambda: _position(p)[2] in (None, ""), "the low-water mark past every row")
    finally:
        slow.close()
    events = p.events()
    counts = Counter(m.row_id for m in events)
    assert counts == Counter(range(1, slow_id + 6))  # each exactly once
    assert _position(p)[0] == slow_id + 5
    if envelope == "debezium":
        assert all(m.value["op"] == "c" and m.key == f'{{"id":{m.row_id}}}' for m in events)


def test_a_rolled_back_transaction_leaves_a_hole_that_closes(pipeline: Pipeline) -> None:
    p = pipeline
    db.init(p.settings, demo=True)
    slow, slow_id = _slow(p)
    try:
        with _following(p):
            after = _insert(p, "after")
            _wait(lambda: _sent(p, {after}), "the row after the open transaction")
            assert _position(p)[0] < slow_id  # the low-water mark waits below the open transaction
            slow.rollback()
            _insert(p, "wake")  # a commit: the producer wakes and finds the writer gone
            _wait(lambda: _position(p)[0] == after + 1 and _position(p)[2] in (None, ""), "the hole closed")
    finally:
        slow.close()
    assert sorted(m.row_id for m in p.events()) == [after, after + 1]


def test_sigkill_while_a_transaction_is_open_loses_and_repeats_nothing(pipeline: Pipeline) -> None:
    p = pipeline
    db.init(p.settings, demo=True)
    db.seed(p.settings, 10)
    slow, slow_id = _slow(p)
    proc = subprocess.Popen([sys.executable, "-m", "kafkaops", "produce", "--follow"], env=p.env, cwd=p.root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        later = {_insert(p, f"later-{i}") for i in range(5)}
        _wait(lambda: _sent(p, later | set(range(1, 11))), "the rows above the open transaction")
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        slow.commit()
    finally:
        slow.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    assert _position(p)[0] < slow_id and _position(p)[2]  # killed with a live position: holes kept
    r = run_kafkaops(["produce"], p.env, p.root)
    assert r.returncode == 0, r.stderr
    counts = Counter(m.row_id for m in p.events())
    assert counts == Counter(range(1, slow_id + 6)), counts  # the slow row once, nothing repeated
    assert _position(p)[0] == slow_id + 5 and _position(p)[2] in (None, "")
