"""One producer position per pipeline (source table + topic), and the upgrade of a database made before."""

from __future__ import annotations

import json
import subprocess
import threading
import uuid

import psycopg

from kafkaops.procedures import db
from kafkaops.procedures.topics import ensure_topic
from tests.conftest import run_kafkaops
from tests.pg_fixtures import Pipeline

# producer_offsets exactly as `kafkaops db init` created it before positions were per pipeline.
OLD_OFFSETS_DDL = """
CREATE TABLE IF NOT EXISTS producer_offsets (
    id              integer PRIMARY KEY,
    last_id         bigint NOT NULL DEFAULT 0,
    last_created_at timestamptz NOT NULL DEFAULT 'epoch'
)"""
OLD_OFFSETS_ROW = "INSERT INTO producer_offsets (id, last_id, last_created_at) VALUES (1, 0, 'epoch') ON CONFLICT (id) DO NOTHING"


def _kafkaops(p: Pipeline, *args: str) -> subprocess.CompletedProcess[str]:
    return run_kafkaops(list(args), p.env, p.root)


def _old_database(p: Pipeline, livedb_rows: int, livedb_offset: int, typed_rows: int) -> str:
    """A database as yesterday's kafkaops left it: the old offset table at ``livedb_offset``, livedb and a
    second table ``typed``. Returns the second pipeline's topic (created)."""
    p.sql(OLD_OFFSETS_DDL)
    p.sql(OLD_OFFSETS_ROW)
    p.sql(db.DEMO_DDL)
    p.sql("INSERT INTO livedb (name, amount) SELECT 'row ' || g, g FROM generate_series(1, %s) g", (livedb_rows,))
    p.sql("UPDATE producer_offsets SET last_id = %s WHERE id = 1", (livedb_offset,))
    p.sql("CREATE TABLE typed (id bigserial PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now(), label text)")
    p.sql("INSERT INTO typed (label) SELECT 't' || g FROM generate_series(1, %s) g", (typed_rows,))
    typed_topic = "typed-" + uuid.uuid4().hex[:10]
    ensure_topic(p.settings, typed_topic, 1, 1)
    return typed_topic


def _ids(p: Pipeline, topic: str) -> list[int]:
    from tests.pg_fixtures import read_topic

    return sorted(m.row_id for m in read_topic(p.settings, topic))


def test_a_second_table_has_its_own_position_and_an_old_database_upgrades_in_place(pipeline: Pipeline) -> None:
    p = pipeline
    typed_topic = _old_database(p, livedb_rows=31, livedb_offset=25, typed_rows=31)

    r = _kafkaops(p, "produce", "--table", "typed", "--topic", typed_topic)

    assert r.returncode == 0, r.stderr
    assert f"Producer initialized: public.typed -> topic {typed_topic}" in r.stderr
    assert r.stderr.rstrip().endswith("Sent 31 events to Kafka; offset now 31")
    assert _ids(p, typed_topic) == list(range(1, 32))  # from the start, not from livedb's 25
    assert p.sql("SELECT last_id FROM producer_offsets WHERE id = 1") == [(25,)]  # livedb's position did not move

    r = _kafkaops(p, "produce")  # the default pipeline continues where it was: 26..31, nothing re-sent
    assert r.returncode == 0, r.stderr
    assert f"Producer initialized: public.livedb -> topic {p.topic} at " in r.stderr and ", offset 25" in r.stderr
    assert r.stderr.rstrip().endswith("Sent 6 events to Kafka; offset now 31")
    assert _ids(p, p.topic) == list(range(26, 32))
    assert p.sql("SELECT source_table, topic, last_id FROM producer_offsets ORDER BY id") == [
        ("public.livedb", p.topic, 31),
        ("public.typed", typed_topic, 31),
    ]


def test_two_pipelines_produce_side_by_side_but_one_pipeline_only_once(pipeline: Pipeline) -> None:
    p = pipeline
    typed_topic = _old_database(p, livedb_rows=5, livedb_offset=0, typed_rows=4)
    with psycopg.connect(p.database_url, autocommit=True) as holder:  # a producer of livedb -> KAFKA_TOPIC, as produce holds it
        db.ensure_schema(holder, p.settings)
        assert holder.execute("SELECT pg_try_advisory_lock(%s)", (db.lock_key(db.DEFAULT_ROW),)).fetchone()[0]

        other = _kafkaops(p, "produce", "--table", "typed", "--topic", typed_topic)
        same = _kafkaops(p, "produce")

    assert other.returncode == 0, other.stderr
    assert other.stderr.rstrip().endswith("Sent 4 events to Kafka; offset now 4")
    assert same.returncode == 5, same.stderr
    assert f"error: another producer is running for public.livedb -> {p.topic} (database session pid " in same.stderr
    assert p.sql("SELECT last_id FROM producer_offsets WHERE id = 1") == [(0,)]


def test_db_status_and_rewind_work_per_pipeline(pipeline: Pipeline) -> None:
    p = pipeline
    typed_topic = _old_database(p, livedb_rows=30, livedb_offset=25, typed_rows=31)
    assert _kafkaops(p, "produce", "--table", "typed", "--topic", typed_topic).returncode == 0

    r = _kafkaops(p, "db", "status", "--table", "typed", "--topic", typed_topic, "--json")
    assert r.returncode == 0, r.stderr
    st = json.loads(r.stdout)
    assert (st["table"], st["topic"], st["last_id"], st["newest_id"], st["pending"]) == ("public.typed", typed_topic, 31, 31, 0)
    assert st["others"] == [{"table": "public.livedb", "topic": p.topic, "last_id": 25}]
    st = json.loads(_kafkaops(p, "db", "status", "--json").stdout)
    assert (st["table"], st["topic"], st["last_id"], st["pending"]) == ("public.livedb", p.topic, 25, 5)
    st = json.loads(_kafkaops(p, "db", "status", "--topic", "never-produced", "--json").stdout)
    assert (st["table"], st["topic"], st["last_id"], st["pending"]) == ("public.livedb", "never-produced", 0, 30)

    r = _kafkaops(p, "db", "rewind", "--yes", "--table", "typed", "--topic", typed_topic, "--to", "10")
    assert r.returncode == 0, r.stderr
    assert f"offset of public.typed -> {typed_topic} moved from 31 to 10" in r.stderr
    assert p.sql("SELECT source_table, last_id FROM producer_offsets ORDER BY id") == [("public.livedb", 25), ("public.typed", 10)]


def test_db_init_upgrades_an_old_table_in_place_once(pipeline: Pipeline) -> None:
    p = pipeline
    _old_database(p, livedb_rows=30, livedb_offset=25, typed_rows=1)

    r = _kafkaops(p, "db", "init")
    assert r.returncode == 0, r.stderr
    assert "producer_offsets already exists (left as it is)" in r.stderr
    assert f"created producer_offsets columns source_table, topic (row id=1 is now public.livedb -> {p.topic})" in r.stderr
    again = _kafkaops(p, "db", "init", "--demo")
    assert again.returncode == 0, again.stderr
    assert "created" not in again.stderr
    assert p.sql("SELECT id, source_table, topic, last_id FROM producer_offsets") == [(1, "public.livedb", p.topic, 25)]
    db.rewind_offset(p.settings, 3, table="typed", topic="t2")  # a new pipeline's row takes the next id
    assert p.sql("SELECT id, source_table, topic, last_id FROM producer_offsets ORDER BY id") == [
        (1, "public.livedb", p.topic, 25),
        (2, "public.typed", "t2", 3),
    ]


def test_two_upgrades_at_once_are_safe(pipeline: Pipeline) -> None:
    p = pipeline
    _old_database(p, livedb_rows=30, livedb_offset=25, typed_rows=1)
    errors: list[BaseException] = []
    upgraded: list[bool] = []

    def upgrade() -> None:
        try:
            with psycopg.connect(p.database_url, autocommit=True) as conn:
                upgraded.append(db.ensure_schema(conn, p.settings))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=upgrade) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(upgraded) == [False, False, False, True]
    assert p.sql("SELECT id, source_table, topic, last_id FROM producer_offsets") == [(1, "public.livedb", p.topic, 25)]


def test_doctor_checks_the_default_pipeline_and_finds_another_one_ahead_of_its_table(pipeline: Pipeline) -> None:
    p = pipeline
    typed_topic = _old_database(p, livedb_rows=30, livedb_offset=25, typed_rows=31)
    assert _kafkaops(p, "produce", "--table", "typed", "--topic", typed_topic).returncode == 0
    p.sql("DELETE FROM typed WHERE id > 20")  # truncated and re-seeded, say: typed's producer would send nothing

    r = _kafkaops(p, "doctor", "--json")

    checks = {c["id"]: c for c in json.loads(r.stdout)["checks"]}
    assert checks["database.schema"]["status"] == "PASS"
    assert checks["database.schema"]["finding"] == f"tables livedb and producer_offsets exist, with the position of public.livedb -> {p.topic} (row id=1)"
    offset = checks["database.offset"]
    assert offset["status"] == "WARN", offset
    assert offset["finding"] == "1 other pipeline(s) have an offset ahead of their table: their producer will send nothing, ever"
    assert offset["details"] == [f"public.typed -> {typed_topic}: last_id=31 but the newest id is 20"]
    pending = checks["database.pending"]
    assert pending["status"] == "WARN" and pending["finding"].startswith("5 row(s) wait in livedb (id > 25)"), pending
