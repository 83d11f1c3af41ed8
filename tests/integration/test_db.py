"""kafkaops db init | seed | status | rewind against a real PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg

from tests.conftest import run_kafkaops


def _env(database_url: str, tmp_path: Path) -> dict[str, str]:
    import os

    return {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "KAFKAOPS_HOME": str(tmp_path / "ops"), "DATABASE_URL": database_url}


def _sql(url: str, statement: str) -> list[tuple]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(statement)
        return cur.fetchall() if cur.description else []


def test_init_creates_the_offset_row_and_is_safe_to_repeat(database_url: str, tmp_path: Path) -> None:
    env = _env(database_url, tmp_path)
    r = run_kafkaops(["db", "init"], env, tmp_path)
    assert r.returncode == 0, r.stderr
    assert "created producer_offsets" in r.stderr
    assert _sql(database_url, "SELECT id, last_id, last_created_at::text FROM producer_offsets") == [(1, 0, "1970-01-01 00:00:00+00")]
    assert _sql(database_url, "SELECT to_regclass('livedb')") == [(None,)]

    _sql(database_url, "UPDATE producer_offsets SET last_id = 42 WHERE id = 1")
    r = run_kafkaops(["db", "init", "--demo"], env, tmp_path)
    assert r.returncode == 0, r.stderr
    assert "producer_offsets already exists (left as it is)" in r.stderr
    assert "created livedb" in r.stderr
    assert _sql(database_url, "SELECT last_id FROM producer_offsets") == [(42,)]  # never touched
    cols = dict(_sql(database_url, "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'livedb'"))
    assert cols == {
        "id": "bigint",
        "created_at": "timestamp with time zone",
        "name": "text",
        "amount": "numeric",
        "payload": "jsonb",
        "note": "text",
        "blob": "bytea",
        "updated_at": "timestamp with time zone",  # kept by a trigger: produce --mode timestamp+id
    }
    r = run_kafkaops(["db", "init", "--demo"], env, tmp_path)
    assert r.returncode == 0
    assert "livedb already exists (left as it is)" in r.stderr


def test_seed_and_status(database_url: str, tmp_path: Path) -> None:
    env = _env(database_url, tmp_path)
    assert run_kafkaops(["db", "init", "--demo"], env, tmp_path).returncode == 0
    r = run_kafkaops(["db", "seed", "2500"], env, tmp_path)
    assert r.returncode == 0, r.stderr
    assert "inserted 2500 rows into public.livedb (ids 1..2500)" in r.stderr
    assert _sql(database_url, "SELECT count(*), count(note), count(blob) FROM livedb") == [(2500, 1667, 500)]

    _sql(database_url, "UPDATE producer_offsets SET last_id = 1000 WHERE id = 1")
    r = run_kafkaops(["db", "status", "--json"], env, tmp_path)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["pending"] == 1500
    assert doc["newest_id"] == 2500
    assert doc["last_id"] == 1000
    assert doc["offset_ahead"] is False
    assert doc["table"] == "public.livedb"
    password = database_url.split(":")[2].split("@")[0]
    assert password not in r.stdout + r.stderr
    assert "***" in doc["database"]


def test_status_missing_tables_exit_3(database_url: str, tmp_path: Path) -> None:
    env = _env(database_url, tmp_path)
    r = run_kafkaops(["db", "status"], env, tmp_path)
    assert r.returncode == 3
    assert "run `kafkaops db init`" in r.stderr


def test_seed_without_table_names_the_fix(database_url: str, tmp_path: Path) -> None:
    env = _env(database_url, tmp_path)
    r = run_kafkaops(["db", "seed", "10"], env, tmp_path)
    assert r.returncode == 3
    assert "error: table livedb does not exist in the database" in r.stderr
    assert "kafkaops db init --demo" in r.stderr


def test_status_reports_offset_ahead_and_rewind_fixes_it(database_url: str, tmp_path: Path) -> None:
    env = _env(database_url, tmp_path)
    assert run_kafkaops(["db", "init", "--demo"], env, tmp_path).returncode == 0
    assert run_kafkaops(["db", "seed", "5"], env, tmp_path).returncode == 0
    _sql(database_url, "UPDATE producer_offsets SET last_id = 50 WHERE id = 1")
    r = run_kafkaops(["db", "status"], env, tmp_path)
    assert r.returncode == 3
    assert "is ahead of the newest id (5)" in r.stderr
    r = run_kafkaops(["db", "rewind"], env, tmp_path)
    assert r.returncode == 2 and "pass --yes" in r.stderr
    assert _sql(database_url, "SELECT last_id FROM producer_offsets") == [(50,)]
    r = run_kafkaops(["db", "rewind", "--yes"], env, tmp_path)
    assert r.returncode == 0, r.stderr
    assert "offset of public.livedb -> db_live_events moved from 50 to 0" in r.stderr
    assert _sql(database_url, "SELECT last_id, last_created_at::text FROM producer_offsets") == [(0, "1970-01-01 00:00:00+00")]


def test_rewind_offset_function(database_url: str, tmp_path: Path) -> None:
    from kafkaops.procedures import db
    from kafkaops.settings import load_settings

    settings = load_settings(env=_env(database_url, tmp_path), cwd=tmp_path)
    db.init(settings)
    _sql(database_url, "UPDATE producer_offsets SET last_id = 7, last_created_at = now() WHERE id = 1")
    result = db.rewind_offset(settings)
    assert (result.before, result.after) == (7, 0)
    assert _sql(database_url, "SELECT last_id, last_created_at::text FROM producer_offsets") == [(0, "1970-01-01 00:00:00+00")]


def test_pending_of_a_live_position_counts_only_rows_not_sent(database_url: str, tmp_path: Path) -> None:
    """Regression: `produce --follow` keeps a live position (last_id, sent_upto, holes); db status and doctor
    counted every id above last_id as pending, so rows already sent above an open transaction were counted again."""
    env = _env(database_url, tmp_path)
    for cmd in (["db", "init", "--demo"], ["db", "seed", "12"]):
        r = run_kafkaops(cmd, env, tmp_path)
        assert r.returncode == 0, r.stderr
    _sql(database_url, "ALTER TABLE producer_offsets ADD COLUMN IF NOT EXISTS sent_upto bigint, ADD COLUMN IF NOT EXISTS holes text")
    # ids 1-2 sent (last_id), 3-10 read with 3-4 and 7 not sent yet (holes), 11-12 not read: 5 pending
    _sql(database_url, "UPDATE producer_offsets SET last_id = 2, sent_upto = 10, holes = '3-4,7'")
    status = run_kafkaops(["db", "status", "--json"], env, tmp_path)
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["pending"] == 5
    doctor = run_kafkaops(["doctor", "database.pending", "--json"], env, tmp_path, timeout=120)
    check = next(c for c in json.loads(doctor.stdout)["checks"] if c["id"] == "database.pending")
    assert check["data"]["pending"] == 5, check
