"""produce --mode timestamp+id against a real PostgreSQL and broker: updates are sent, op "u" for
rows seen before, and a late commit with an older timestamp is not lost (issue 16, part 2)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from kafkaops.errors import NotReady
from kafkaops.procedures import db
from kafkaops.procedures.produce import Hooks, ProduceOptions, produce
from tests.conftest import run_kafkaops
from tests.pg_fixtures import Pipeline

TS = ProduceOptions(mode="timestamp+id", settle_timeout=5.0)


def _wait(cond: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _ops(p: Pipeline) -> list[tuple[int, str, str]]:
    """(id, op, name) of every event in the topic, in topic order."""
    return [(m.row_id, m.value["op"], m.value["after"]["name"]) for m in sorted(p.events(), key=lambda m: m.offset)]


def test_updates_are_sent_again_with_op_u(pipeline: Pipeline) -> None:
    p = pipeline
    db.init(p.settings, demo=True)
    db.seed(p.settings, 3)
    first = produce(p.settings, TS)
    assert first.sent == 3
    p.sql("UPDATE livedb SET name = 'changed' WHERE id = 2")
    p.sql("INSERT INTO livedb (name, amount) VALUES ('new', 1)")
    second = produce(p.settings, TS)
    assert second.sent == 2
    assert produce(p.settings, TS).sent == 0  # nothing new: nothing re-sent
    assert _ops(p) == [(1, "c", "item-1"), (2, "c", "item-2"), (3, "c", "item-3"), (2, "u", "changed"), (4, "c", "new")]
    # the cursor is the last row's (updated_at, id), exactly
    assert p.sql("SELECT last_ts = (SELECT updated_at FROM livedb WHERE id = 4), last_id FROM producer_offsets WHERE id = 1") == [(True, 4)]


def test_a_late_commit_with_an_older_timestamp_is_not_lost(pipeline: Pipeline) -> None:
    """Two real transactions: T1 updates row 1 first (older updated_at) but commits last, after T2
    updated and committed row 2. A cursor that read row 2 while T1 was open would pass T1's
    timestamp and never see its update; the gate on time sends nothing past the cursor while T1
    is open (exit 3 without --follow), and the next run sends both."""
    p = pipeline
    db.init(p.settings, demo=True)
    db.seed(p.settings, 2)
    assert produce(p.settings, TS).sent == 2

    t1 = psycopg.connect(p.database_url)  # not autocommit: a transaction, held open
    try:
        t1.execute("UPDATE livedb SET name = 'late' WHERE id = 1")
        p.sql("UPDATE livedb SET name = 'early' WHERE id = 2")  # T2: committed at once
        with pytest.raises(NotReady) as info:
            produce(p.settings, ProduceOptions(mode="timestamp+id", settle_timeout=0.3))
        assert "may still commit rows up to timestamps before" in info.value.message
        t1.commit()
    finally:
        t1.close()
    assert produce(p.settings, TS).sent == 2
    older, newer = p.sql("SELECT updated_at FROM livedb ORDER BY id")
    assert older < newer  # the case: row 1's timestamp is the older one, committed last
    assert sorted(_ops(p)[2:]) == [(1, "u", "late"), (2, "u", "early")]  # no update lost, none twice


class _Told(Hooks):
    def __init__(self) -> None:
        self.waited = threading.Event()

    def waiting(self, message: str) -> None:
        self.waited.set()


def test_follow_waits_for_the_late_commit_then_sends_both(pipeline: Pipeline) -> None:
    """The same two transactions with --follow: the run waits at the gate, then sends both."""
    p = pipeline
    db.init(p.settings, demo=True)
    db.seed(p.settings, 2)
    assert produce(p.settings, TS).sent == 2
    t1 = psycopg.connect(p.database_url)
    try:
        t1.execute("UPDATE livedb SET name = 'late' WHERE id = 1")
        p.sql("UPDATE livedb SET name = 'early' WHERE id = 2")
        told, stop = _Told(), threading.Event()
        opts = ProduceOptions(mode="timestamp+id", follow=True, interval=0.05, settle_timeout=0.2)
        runner = threading.Thread(target=produce, args=(p.settings, opts, told, stop))
        runner.start()
        try:
            assert told.waited.wait(60), "the gate never waited for T1"
            t1.commit()
            _wait(
                lambda: p.sql("SELECT last_ts >= (SELECT max(updated_at) FROM livedb) FROM producer_offsets WHERE id = 1") == [(True,)], "the cursor past both"
            )
        finally:
            stop.set()
            runner.join(60)
    finally:
        t1.close()
    assert sorted(_ops(p)[2:]) == [(1, "u", "late"), (2, "u", "early")]


def test_db_init_demo_upgrades_a_livedb_without_updated_at(pipeline: Pipeline) -> None:
    p = pipeline
    p.sql(
        "CREATE TABLE livedb (id bigserial PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now(), name text NOT NULL, amount numeric(14,4) NOT NULL, "
        "payload jsonb NOT NULL DEFAULT '{}'::jsonb, note text, blob bytea)"
    )
    p.sql("INSERT INTO livedb (created_at, name, amount) VALUES ('2026-01-01T00:00:00Z', 'old', 1)")
    assert any(c.startswith("livedb column updated_at") for c in db.init(p.settings, demo=True).created)
    assert not any("updated_at" in c for c in db.init(p.settings, demo=True).created)  # twice: idempotent
    assert p.sql("SELECT updated_at = created_at FROM livedb") == [(True,)]
    p.sql("UPDATE livedb SET updated_at = '2000-01-01', name = 'x'")  # the trigger wins over the application
    assert p.sql("SELECT updated_at > now() - interval '1 minute' FROM livedb") == [(True,)]
    assert produce(p.settings, TS).sent == 1


def test_the_cli_refuses_a_bad_column_and_a_mode_switch(pipeline: Pipeline, tmp_path: Path) -> None:
    p = pipeline
    db.init(p.settings, demo=True)
    db.seed(p.settings, 2)
    r = run_kafkaops(["produce", "--mode", "timestamp+id", "--timestamp-column", "name"], p.env, p.root)
    assert r.returncode == 2, r.stderr
    assert "--timestamp-column name of public.livedb is text" in r.stderr
    assert run_kafkaops(["produce"], p.env, p.root).returncode == 0  # an id cursor at 2
    r = run_kafkaops(["produce", "--mode", "timestamp+id"], p.env, p.root)
    assert r.returncode == 5, r.stderr
    assert "is an id cursor at 2" in r.stderr
    assert run_kafkaops(["db", "rewind", "--yes"], p.env, p.root).returncode == 0
    r = run_kafkaops(["produce", "--mode", "timestamp+id"], p.env, p.root)
    assert r.returncode == 0, r.stderr
    r = run_kafkaops(["produce"], p.env, p.root)
    assert r.returncode == 5 and "is a timestamp+id cursor" in r.stderr, r.stderr
