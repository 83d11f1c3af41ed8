"""kafkaops produce against a real PostgreSQL and a real broker: guarantees 1, 2, 5, 6, 7 and 8."""

from __future__ import annotations

import base64
import json
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import psycopg

from kafkaops.procedures import db
from kafkaops.procedures.produce import ProduceOptions, produce
from tests.conftest import run_kafkaops
from tests.pg_fixtures import Pipeline, make_pipeline


def _init_demo(p: Pipeline, rows: int = 0) -> None:
    db.init(p.settings, demo=True)
    if rows:
        db.seed(p.settings, rows)


def _kafkaops(p: Pipeline, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return run_kafkaops(list(args), p.env, p.root, timeout=timeout)


def test_every_row_once_in_id_order_per_partition(shared_stack, database_url: str, tmp_path: Path) -> None:
    """Guarantee 1, through the command: every row exactly once, keyed by id, in id order per partition."""
    p = make_pipeline(shared_stack, database_url, tmp_path, partitions=3)
    _init_demo(p, 5000)

    r = _kafkaops(p, "produce")
    assert r.returncode == 0, r.stderr
    assert f"Producer initialized: public.livedb -> topic {p.topic}" in r.stderr
    assert r.stderr.rstrip().endswith("Sent 5000 events to Kafka; offset now 5000")
    assert p.offset() == 5000
    assert p.sql("SELECT last_created_at = (SELECT created_at FROM livedb WHERE id = 5000) FROM producer_offsets") == [(True,)]

    events = p.events()
    assert sorted(m.row_id for m in events) == list(range(1, 5001))  # each exactly once
    assert {m.partition for m in events} == {0, 1, 2}
    for part in (0, 1, 2):
        ids = [m.row_id for m in sorted(events, key=lambda m: m.offset) if m.partition == part]
        assert ids == sorted(ids)
    for m in events:
        assert m.key == str(m.row_id)
        assert m.value["id"] == f"livedb:{m.row_id}"
        assert m.value["op"] == "c"
        assert m.value["source"] == {"db": database_url.rsplit("/", 1)[1], "schema": "public", "table": "livedb"}
        assert isinstance(m.value["ts_ms"], int)

    r = _kafkaops(p, "produce")
    assert r.returncode == 0, r.stderr
    assert "No new rows in public.livedb; offset stays at 5000" in r.stderr
    assert len(p.events()) == 5000


def test_batches_of_ten_max_rows_and_more_rows_later(pipeline: Pipeline) -> None:
    p = pipeline
    _init_demo(p, 95)
    r = _kafkaops(p, "produce", "--batch-size", "10", "--max-rows", "42")
    assert r.returncode == 0, r.stderr
    assert "Sent 42 events to Kafka; offset now 42" in r.stderr
    assert p.offset() == 42
    db.seed(p.settings, 5)
    r = _kafkaops(p, "produce", "--batch-size", "10")
    assert "Sent 58 events to Kafka; offset now 100" in r.stderr
    assert sorted(m.row_id for m in p.events()) == list(range(1, 101))


def test_dry_run_sends_nothing_and_writes_nothing(pipeline: Pipeline) -> None:
    p = pipeline
    _init_demo(p, 30)
    r = _kafkaops(p, "produce", "--dry-run", "--max-rows", "20")
    assert r.returncode == 0, r.stderr
    assert "Would send 20 events to" in r.stderr
    assert "the offset would move from 0 to 20" in r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 5
    key, value = lines[0].split("\t", 1)
    assert key == "1" and json.loads(value)["id"] == "livedb:1"
    assert p.offset() == 0
    assert p.events() == []


def test_offset_moves_only_past_acknowledged_rows(shared_stack, database_url: str, tmp_path: Path) -> None:
    """Guarantee 2: the broker rejects events (too large for the topic): the run fails and the
    offset stands at the last acknowledged row; no rejected row counts as sent."""
    from confluent_kafka.admin import NewTopic

    from kafkaops.adapters.kafka import admin

    p = make_pipeline(shared_stack, database_url, tmp_path, create_topic=False)
    client = admin(p.settings)
    client.create_topics([NewTopic(p.topic, 1, 1, config={"max.message.bytes": "4000"})])[p.topic].result(30)
    _init_demo(p, 0)
    p.sql("INSERT INTO livedb (name, amount) SELECT 'row ' || g, g FROM generate_series(1, 6) g")
    r = _kafkaops(p, "produce", "--batch-size", "3")
    assert r.returncode == 0, r.stderr
    assert p.offset() == 6
    # row 7: ~20 kB of incompressible text, over the topic's 4000-byte limit: produce measures it against
    # the topic's limit before sending and stops there, naming it
    p.sql("INSERT INTO livedb (name, amount) SELECT string_agg(md5(random()::text || g), ''), 7 FROM generate_series(1, 600) g")
    p.sql("INSERT INTO livedb (name, amount) SELECT 'row ' || g, g FROM generate_series(8, 12) g")

    r = _kafkaops(p, "produce", "--batch-size", "3")
    assert r.returncode == 1, r.stderr
    assert re.search(
        r"error: row id=7 of public\.livedb is too large for topic \S+: its event is [\d,]+ bytes, and the topic's max\.message\.bytes is 4,000", r.stderr
    )
    assert "Sent" not in r.stderr
    assert p.offset() == 6
    assert sorted(m.row_id for m in p.events()) == [1, 2, 3, 4, 5, 6]

    p.sql("UPDATE livedb SET name = 'small now' WHERE id = 7")
    r = _kafkaops(p, "produce", "--batch-size", "3")
    assert r.returncode == 0, r.stderr
    assert "Sent 6 events to Kafka; offset now 12" in r.stderr
    counts = Counter(m.row_id for m in p.events())
    assert sorted(counts) == list(range(1, 13)) and set(counts.values()) == {1}


def test_rows_committed_out_of_id_order_are_never_skipped(pipeline: Pipeline) -> None:
    """Guarantee 5: a slow writer holds id N open while a fast writer commits N+1."""
    p = pipeline
    _init_demo(p, 3)
    slow = psycopg.connect(p.database_url)  # a transaction, held open
    fast = psycopg.connect(p.database_url, autocommit=True)
    try:
        slow_id = slow.execute("INSERT INTO livedb (name, amount) VALUES ('slow', 1) RETURNING id").fetchone()[0]
        fast_id = fast.execute("INSERT INTO livedb (name, amount) VALUES ('fast', 2) RETURNING id").fetchone()[0]
        assert (slow_id, fast_id) == (4, 5)
        assert p.sql("SELECT max(id) FROM livedb") == [(5,)]  # 5 is visible, 4 is not yet

        r = _kafkaops(p, "produce", "--settle-timeout", "1")
        assert r.returncode == 3, r.stderr
        assert "open transaction(s) may still commit rows up to id 5" in r.stderr
        assert f"session pid {slow.info.backend_pid}" in r.stderr
        assert p.offset() == 0  # nothing past the offset while id 4 may still appear
        assert p.events() == []

        slow.commit()
        r = _kafkaops(p, "produce", "--settle-timeout", "1")
        assert r.returncode == 0, r.stderr
        assert "Sent 5 events to Kafka; offset now 5" in r.stderr
        assert [m.row_id for m in p.events()] == [1, 2, 3, 4, 5]
    finally:
        slow.close()
        fast.close()


def test_settle_gate_waits_for_a_transaction_that_commits_while_it_waits(pipeline: Pipeline) -> None:
    """Guarantee 5, the waiting side: the gate sends id N once its slow transaction commits."""
    p = pipeline
    _init_demo(p, 1)
    slow = psycopg.connect(p.database_url)
    try:
        slow.execute("INSERT INTO livedb (name, amount) VALUES ('slow', 1)")  # id 2, open
        p.sql("INSERT INTO livedb (name, amount) VALUES ('fast', 2)")  # id 3, committed
        timer = threading.Timer(1.5, slow.commit)
        timer.start()
        result = produce(p.settings, ProduceOptions(topic=p.topic, settle_timeout=30))
        timer.join()
        assert (result.sent, result.offset) == (3, 3)
        assert [m.row_id for m in p.events()] == [1, 2, 3]
    finally:
        slow.close()


def test_a_second_producer_refuses(pipeline: Pipeline) -> None:
    """Guarantee 6: while one producer runs (--follow), a second exits 5 and sends nothing."""
    p = pipeline
    _init_demo(p, 50)
    first = subprocess.Popen(
        [sys.executable, "-m", "kafkaops", "produce", "--follow", "--interval", "0.2"],
        env=p.env,
        cwd=p.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while p.offset() < 50:
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.1)
        r = _kafkaops(p, "produce")
        assert r.returncode == 5, r.stderr
        assert "error: another producer is running for public.livedb" in r.stderr
        assert "two producers would send rows twice" in r.stderr

        db.seed(p.settings, 10)  # the running one picks these up
        deadline = time.monotonic() + 60
        while p.offset() < 60:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        first.send_signal(signal.SIGINT)
        out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert "Sent 10 events to Kafka; offset now 60" in err
    assert err.rstrip().endswith("Sent 60 events to Kafka; offset now 60")
    counts = Counter(m.row_id for m in p.events())
    assert sorted(counts) == list(range(1, 61)) and set(counts.values()) == {1}


def test_offset_ahead_of_the_table_is_refused_with_the_remedy(pipeline: Pipeline) -> None:
    """Guarantee 7: truncated and re-seeded table: loud, non-zero, and the remedy works."""
    p = pipeline
    _init_demo(p, 20)
    assert _kafkaops(p, "produce").returncode == 0
    p.sql("TRUNCATE livedb RESTART IDENTITY")
    db.seed(p.settings, 3)

    r = _kafkaops(p, "produce")
    assert r.returncode == 5, r.stderr
    assert "error: the offset is ahead of the table: producer_offsets.last_id=20 but the newest id in public.livedb is 3" in r.stderr
    assert "kafkaops db rewind --yes" in r.stderr
    assert p.offset() == 20
    assert len(p.events()) == 20

    assert _kafkaops(p, "db", "rewind", "--yes").returncode == 0
    r = _kafkaops(p, "produce")
    assert r.returncode == 0, r.stderr
    assert "Sent 3 events to Kafka; offset now 3" in r.stderr


def test_types_are_lossless(pipeline: Pipeline) -> None:
    """Guarantee 8: numeric as a decimal string, timestamps ISO 8601 UTC, bytea base64, json nested, NULL null."""
    p = pipeline
    db.init(p.settings)
    p.sql(
        """CREATE TABLE events (
             id bigserial PRIMARY KEY, created_at timestamptz NOT NULL,
             price numeric(40, 20), big bigint, ratio double precision, label text,
             raw bytea, doc jsonb, meta json, tags text[], prices numeric[], missing text, day date)"""
    )
    blob = bytes(range(256)) * 3  # long enough that plain base64 would wrap lines
    p.sql(
        """INSERT INTO events (created_at, price, big, ratio, label, raw, doc, meta, tags, prices, missing, day) VALUES
           ('2026-01-02 03:04:05.123456+05:30', 12345678901234567890.12345678901234567890, 9007199254740993, 0.1,
            'quote " backslash \\ tab	 unicode é ✓', %s, '{"a": {"b": [1, 2.50, null]}}', '{"x": 1}',
            ARRAY['a', 'b'], ARRAY[1.10, 2.000]::numeric[], NULL, '2026-02-03')""",
        (blob,),
    )
    r = _kafkaops(p, "produce", "--table", "events")
    assert r.returncode == 0, r.stderr
    [m] = p.events()
    assert m.value["id"] == "events:1"
    row = m.value["after"]
    assert row["price"] == "12345678901234567890.12345678901234567890"
    assert row["created_at"] == "2026-01-01T21:34:05.123456+00:00"
    assert base64.b64decode(row["raw"]) == blob
    assert row["doc"] == {"a": {"b": [1, 2.50, None]}}
    assert row["meta"] == {"x": 1}
    assert row["missing"] is None
    assert row["label"] == 'quote " backslash \\ tab\t unicode é ✓'
    assert row["tags"] == ["a", "b"]
    assert row["prices"] == ["1.10", "2.000"]
    assert row["big"] == 9007199254740993
    assert row["ratio"] == 0.1
    assert row["day"] == "2026-02-03"
    assert p.sql("SELECT last_id, last_created_at::text FROM producer_offsets WHERE source_table = 'public.events'") == [(1, "2026-01-01 21:34:05.123456+00")]
    assert p.offset() == 0  # the default pipeline (livedb) did not move


def test_mapper(pipeline: Pipeline) -> None:
    p = pipeline
    _init_demo(p, 4)
    (p.root / "mymapper.py").write_text(
        "def to_event(row):\n    if row['id'] == 2:\n        return None\n    return {'type': 'item.created', 'item': row['name'], 'amount': row['amount']}\n"
    )
    r = _kafkaops(p, "produce", "--mapper", "mymapper:to_event")
    assert r.returncode == 0, r.stderr
    assert "Sent 3 events to Kafka; offset now 4" in r.stderr  # row 2 skipped by the mapper, passed by the offset
    events = p.events()
    assert [(m.key, m.value["item"]) for m in events] == [("1", "item-1"), ("3", "item-3"), ("4", "item-4")]
    assert all(isinstance(m.value["amount"], str) for m in events)
    assert p.offset() == 4


def test_follow_stops_cleanly_on_ctrl_c(pipeline: Pipeline) -> None:
    p = pipeline
    _init_demo(p, 5)
    proc = subprocess.Popen(
        [sys.executable, "-m", "kafkaops", "produce", "--follow", "--interval", "0.2"],
        env=p.env,
        cwd=p.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while p.offset() < 5:
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        db.seed(p.settings, 7)
        while p.offset() < 12:
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "Sent 12 events to Kafka; offset now 12" in err
    assert [m.row_id for m in p.events()] == list(range(1, 13))


def test_a_long_reader_does_not_hold_the_producer_up(pipeline: Pipeline) -> None:
    """The settle gate waits for writers only: an open transaction that merely read the table is no reason to wait."""
    p = pipeline
    _init_demo(p, 3)
    reader = psycopg.connect(p.database_url)
    try:
        reader.execute("SELECT count(*) FROM livedb").fetchone()  # holds AccessShareLock until it ends
        r = _kafkaops(p, "produce", "--settle-timeout", "1")
        assert r.returncode == 0, r.stderr
        assert "Sent 3 events to Kafka; offset now 3" in r.stderr
    finally:
        reader.close()


def test_a_table_without_a_sequence(pipeline: Pipeline) -> None:
    p = pipeline
    db.init(p.settings)
    p.sql("CREATE TABLE plain (id bigint PRIMARY KEY, v text)")
    p.sql("INSERT INTO plain SELECT g * 10, 'v' || g FROM generate_series(1, 25) g")
    r = _kafkaops(p, "produce", "--table", "plain", "--batch-size", "7")
    assert r.returncode == 0, r.stderr
    assert "Sent 25 events to Kafka; offset now 250" in r.stderr
    assert [m.row_id for m in p.events()] == [g * 10 for g in range(1, 26)]
    assert p.sql("SELECT last_id, last_created_at::text FROM producer_offsets WHERE source_table = 'public.plain'") == [(250, "1970-01-01 00:00:00+00")]


def test_messages_survive_row_deletion(pipeline: Pipeline) -> None:
    """Deleting the rows after they were produced leaves their events in the topic (runbooks/persistence.md)."""
    p = pipeline
    _init_demo(p, 25)
    assert _kafkaops(p, "produce").returncode == 0
    p.sql("DELETE FROM livedb")
    assert p.sql("SELECT count(*) FROM livedb") == [(0,)]
    events = p.events()
    assert [m.row_id for m in events] == list(range(1, 26))
    assert all(m.value["after"]["name"] == f"item-{m.row_id}" for m in events)
    r = _kafkaops(p, "produce")
    assert r.returncode == 0, r.stderr  # an emptied table is not "ahead": the sequence still stands at 25
    assert "No new rows in public.livedb; offset stays at 25" in r.stderr
