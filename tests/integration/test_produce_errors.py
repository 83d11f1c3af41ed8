"""produce and db with tables and databases they cannot use as they are, and rows they cannot send:
one clear line, the documented exit code, nothing damaged. Real PostgreSQL and a real broker."""

from __future__ import annotations

import subprocess
import uuid

import psycopg
import pytest

from kafkaops.procedures import db
from tests.conftest import run_kafkaops
from tests.pg_fixtures import PgServer, Pipeline, make_pipeline

pytestmark = pytest.mark.integration


def _kafkaops(p: Pipeline, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return run_kafkaops(list(args), p.env, p.root, timeout=timeout)


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


# --- item 9: an id column that is not an integer -----------------------------------------------------


@pytest.mark.parametrize(("ddl", "rows"), [("id text PRIMARY KEY", "'a', 'b'"), ("id text PRIMARY KEY", "'1', '2'"), ("id uuid PRIMARY KEY DEFAULT gen_random_uuid()", None)])
def test_a_table_whose_id_is_not_an_integer_is_refused_with_what_an_id_must_be(pipeline: Pipeline, ddl: str, rows: str | None) -> None:
    p = pipeline
    db.init(p.settings)
    p.sql(f"CREATE TABLE texty ({ddl}, v text)")
    if rows:
        p.sql(f"INSERT INTO texty (id, v) SELECT x, 'v' FROM unnest(ARRAY[{rows}]) AS x")
    else:
        p.sql("INSERT INTO texty (v) VALUES ('v'), ('w')")
    typ = p.sql("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'texty'::regclass AND attname = 'id'")[0][0]
    expected = (
        f"error: table public.texty cannot be produced: its id column is {typ}, and kafkaops reads rows by an increasing "
        "integer id (smallint, integer or bigint; e.g. bigserial or GENERATED ALWAYS AS IDENTITY)"
    )
    for args in (["produce", "--table", "texty"], ["produce", "--table", "texty", "--dry-run"], ["db", "status", "--table", "texty"]):
        r = _kafkaops(p, *args)
        assert r.returncode == 2, (args, r.stderr)
        assert _error_lines(r.stderr) == [expected], (args, r.stderr)
        assert "Traceback" not in r.stderr
    assert p.offset() == 0
    assert p.events() == []


# --- item 9: a SQL_ASCII database ---------------------------------------------------------------------


@pytest.fixture
def ascii_pipeline(shared_stack, pg_server: PgServer, tmp_path) -> Pipeline:
    name = "a_" + uuid.uuid4().hex[:12]
    with psycopg.connect(pg_server.url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE \"{name}\" ENCODING 'SQL_ASCII' TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'")
    return make_pipeline(shared_stack, pg_server.url_for(name), tmp_path)


def test_a_sql_ascii_database_works(ascii_pipeline: Pipeline) -> None:
    p = ascii_pipeline
    assert p.sql("SELECT current_setting('server_encoding') = 'SQL_ASCII'") == [(True,)]
    assert _kafkaops(p, "db", "init", "--demo").returncode == 0
    r = _kafkaops(p, "db", "seed", "3")
    assert r.returncode == 0, r.stderr
    assert "inserted 3 rows into public.livedb (ids 1..3)" in r.stderr
    p.sql("UPDATE livedb SET note = 'caf\u00e9 \u2713' WHERE id = 2".encode())  # UTF-8 bytes, stored as they are

    r = _kafkaops(p, "db", "status", "--json")
    assert r.returncode == 0, r.stderr
    assert '"table": "public.livedb"' in r.stdout and '"pending": 3' in r.stdout

    r = _kafkaops(p, "produce")
    assert r.returncode == 0, r.stderr
    assert "Producer initialized: public.livedb -> topic" in r.stderr
    assert "Sent 3 events to Kafka; offset now 3" in r.stderr
    events = p.events()
    assert [m.row_id for m in events] == [1, 2, 3]
    assert events[0].value["source"] == {"db": p.database_url.rsplit("/", 1)[1], "schema": "public", "table": "livedb"}
    assert events[0].value["id"] == "livedb:1"
    assert events[1].value["after"]["note"] == "caf\u00e9 \u2713"
    assert p.offset() == 3


def test_text_that_is_not_utf8_in_a_sql_ascii_database_is_a_clear_error(ascii_pipeline: Pipeline) -> None:
    p = ascii_pipeline
    assert _kafkaops(p, "db", "init", "--demo").returncode == 0
    assert _kafkaops(p, "db", "seed", "3").returncode == 0
    p.sql(b"UPDATE livedb SET note = 'caf\xe9' WHERE id = 2")  # Latin-1: not UTF-8
    r = _kafkaops(p, "produce")
    assert r.returncode == 2, r.stderr
    assert _error_lines(r.stderr) == ['error: PostgreSQL: invalid byte sequence for encoding "UTF8": 0xe9 0x22 0x2c (a row holds text that is not valid UTF-8)']
    assert "hint: events are UTF-8 JSON: fix that text in the table" in r.stderr
    assert p.offset() == 0
