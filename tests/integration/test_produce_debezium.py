"""produce --envelope debezium, read by the real readers: Kafka Connect's JsonConverter (from the
installed Kafka's libs) with schemas enabled and disabled, then Debezium 3.6.1.Final's own
ExtractNewRecordState, which must unwrap our events to rows equal to the database's.

The Java side (tests/integration/java/DebeziumRead.java) is compiled here with javac against the
installed Kafka's libs and Debezium's jars, which Maven resolves into ~/.m2 (once; Maven Central must be
reachable). Without javac or mvn, or when Maven cannot resolve the jars, the test skips on a
workstation and fails under CI=true.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest

from kafkaops.procedures import db
from kafkaops.procedures.produce.debezium import DEBEZIUM_VERSION, SOURCE_VERSION
from tests.conftest import run_kafkaops
from tests.pg_fixtures import PgServer, Pipeline, make_pipeline, read_topic

JAVA_SOURCE = Path(__file__).parent / "java" / "DebeziumRead.java"
# ExtractNewRecordState lives in debezium-connect-plugins since 3.x; debezium-core is only a pom over
# these. The Kafka Connect jars (connect-api, connect-json, connect-transforms) come from the installed Kafka.
ARTIFACTS = ("debezium-api", "debezium-util", "debezium-config", "debezium-connector-common", "debezium-connect-plugins")
# Debian's Maven defaults to maven-dependency-plugin 2.8, which trips over a test-scope dependency.
MVN_GET = "org.apache.maven.plugins:maven-dependency-plugin:3.6.1:get"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (under CI=true the Java/Maven set-up is part of the test)")
    pytest.skip(reason)


def _jars(repo: Path) -> list[Path]:
    return [repo / "io" / "debezium" / a / DEBEZIUM_VERSION / f"{a}-{DEBEZIUM_VERSION}.jar" for a in ARTIFACTS]


@pytest.fixture(scope="module")
def debezium_classes(kafka_home: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The classpath of DebeziumRead, compiled: the installed Kafka's libs, Debezium's jars, the class."""
    tools = {tool: shutil.which(tool) for tool in ("java", "javac", "mvn")}  # the full path: mvn.cmd on Windows
    for tool, path in tools.items():
        if path is None:
            _unavailable(f"{tool} is not installed")
    repo = Path.home() / ".m2" / "repository"
    if not all(j.is_file() for j in _jars(repo)):
        for artifact in ("debezium-core", "debezium-connect-plugins"):
            r = subprocess.run(
                [str(tools["mvn"]), "-B", "-q", MVN_GET, f"-Dartifact=io.debezium:{artifact}:{DEBEZIUM_VERSION}"],
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            if r.returncode != 0:
                _unavailable(f"Maven could not resolve io.debezium:{artifact}:{DEBEZIUM_VERSION}: {(r.stdout + r.stderr)[-2000:]}")
    missing = [str(j) for j in _jars(repo) if not j.is_file()]
    if missing:
        _unavailable(f"Maven did not leave {missing}")
    out = tmp_path_factory.mktemp("debezium-read")
    classpath = os.pathsep.join([str(kafka_home / "libs" / "*"), *map(str, _jars(repo))])
    r = subprocess.run([str(tools["javac"]), "-d", str(out), "-cp", classpath, str(JAVA_SOURCE)], capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 0, r.stderr
    return os.pathsep.join([str(out), classpath])


def _java(classpath: str, tmp_path: Path, topic: str, schemas: bool, events: list[tuple[str, str]]) -> subprocess.CompletedProcess[str]:
    source = tmp_path / f"events-{uuid.uuid4().hex[:6]}.tsv"
    source.write_text("".join(f"{k}\t{v}\n" for k, v in events), encoding="utf-8")
    return subprocess.run(
        ["java", "-cp", classpath, "DebeziumRead", str(source), topic, "true" if schemas else "false"], capture_output=True, text=True, timeout=300, check=False
    )


def read_with_connect(classpath: str, tmp_path: Path, topic: str, schemas: bool, events: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """What JsonConverter + ExtractNewRecordState make of each (key, value) event."""
    r = _java(classpath, tmp_path, topic, schemas, events)
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]


COLUMNS = (
    "id bigserial PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now(), price numeric(12, 2), amount numeric, small smallint, "
    "count integer, big bigint, flag boolean, ratio real, score double precision, label text, code varchar(10), raw bytea, "
    "doc jsonb, meta json, uid uuid, day date, at_local timestamp, at_ms timestamp(3), tod time, cash money, tags text[], nums integer[]"
)
ROWS = [
    "('2026-01-02 03:04:05.123456+05:30', 1234567890.12, 12345678901234567890.123456789000, -32768, 2147483647, 9007199254740993, true, 1.5, 0.1, "
    "'quote \" backslash \\ tab\t é ✓', 'abc', '\\x00ff10'::bytea, '{\"a\": {\"b\": [1, 2.50, null]}}', '{\"x\":  1}', "
    "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '2026-02-03', '2026-03-04 05:06:07.891011', '2026-03-04 05:06:07.891', '23:59:58.123456', 1234.5, ARRAY['a', 'b'], ARRAY[1, NULL, 3])",
    "('1969-12-31 23:59:59.5+00', -0.01, -128, 0, 0, 0, false, -0.25, -1e300, '', '', ''::bytea, '[]', 'null', "
    "'00000000-0000-0000-0000-000000000000', '1969-12-31', '1969-12-31 23:59:59.999999', '1900-01-01 00:00:00', '00:00:00', -0.5, '{}', '{}')",
    "('2026-06-01 00:00:00+00', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
]


def _table(p: Pipeline) -> list[dict[str, Any]]:
    db.init(p.settings)
    p.sql(f"CREATE TABLE items ({COLUMNS})")
    cols = "created_at, price, amount, small, count, big, flag, ratio, score, label, code, raw, doc, meta, uid, day, at_local, at_ms, tod, cash, tags, nums"
    p.sql(f"INSERT INTO items ({cols}) VALUES {', '.join(ROWS)}")
    names = ["id", *cols.split(", ")]
    select = ", ".join("cash::numeric" if n == "cash" else n for n in names)
    return [dict(zip(names, r, strict=True)) for r in p.sql(f"SELECT {select} FROM items ORDER BY id")]  # noqa: S608 - the test's own names


EPOCH = datetime(1970, 1, 1)


def _decoded(row: dict[str, Any]) -> dict[str, Any]:
    """A row as Debezium's readers get it (after JsonConverter with schemas) turned back into Python values."""

    def opt(v: Any, f: Any) -> Any:
        return None if v is None else f(v)

    return {
        **row,
        "created_at": opt(row["created_at"], lambda v: datetime.fromisoformat(v)),
        "price": opt(row["price"], Decimal),
        "amount": opt(row["amount"], Decimal),
        "cash": opt(row["cash"], Decimal),
        "raw": opt(row["raw"], base64.b64decode),
        "doc": opt(row["doc"], json.loads),
        "meta": opt(row["meta"], json.loads),
        "uid": opt(row["uid"], uuid.UUID),
        "day": opt(row["day"], lambda v: date(1970, 1, 1) + timedelta(days=v)),
        "at_local": opt(row["at_local"], lambda v: EPOCH + timedelta(microseconds=v)),
        "at_ms": opt(row["at_ms"], lambda v: EPOCH + timedelta(milliseconds=v)),
        "tod": opt(row["tod"], lambda v: (datetime.combine(date(2000, 1, 1), time()) + timedelta(microseconds=v)).time()),
    }


def _produce(p: Pipeline, topic: str, *flags: str) -> list[tuple[str, str]]:
    r = run_kafkaops(["produce", "--table", "items", "--topic", topic, *flags], p.env, p.root, timeout=180)
    assert r.returncode == 0, r.stderr
    messages = sorted(read_topic(p.settings, topic), key=lambda m: m.offset)
    return [(m.key, json.dumps(m.value, ensure_ascii=False)) for m in messages]


def test_connect_and_debezium_read_our_events_as_the_rows(pipeline: Pipeline, debezium_classes: str, tmp_path: Path) -> None:
    from kafkaops.procedures.topics import ensure_topic

    p = pipeline
    rows = _table(p)
    database = p.database_url.rsplit("/", 1)[1]
    plain, with_schema = p.topic, p.topic + "-schema"
    ensure_topic(p.settings, with_schema, 1, 1)

    # schemas.enable=true on the {schema, payload} form: Debezium's SMT unwraps each event to its row
    seen = read_with_connect(debezium_classes, tmp_path, with_schema, True, _produce(p, with_schema, "--envelope", "debezium", "--with-schema"))
    assert [s["key"] for s in seen] == [{"id": r["id"]} for r in rows]
    assert {s["value_schema"] for s in seen} == {f"{database}.public.items.Envelope"}
    assert all(s["unwrapped"] for s in seen)
    assert [_decoded(s["row"]) for s in seen] == rows

    # schemas.enable=false on the plain form: JsonConverter reads the envelope as a map (Debezium's SMT
    # needs a schema: it passes schema-less events on unchanged, Debezium's own ones too)
    events = _produce(p, plain, "--envelope", "debezium")
    assert [json.loads(k) for k, _v in events] == [{"id": r["id"]} for r in rows]
    seen = read_with_connect(debezium_classes, tmp_path, plain, False, events)
    assert [s["key"] for s in seen] == [{"id": r["id"]} for r in rows]
    assert not any(s["unwrapped"] for s in seen)
    for s, row, (_k, raw) in zip(seen, rows, events, strict=True):
        value = s["row"]  # a map: JsonConverter keeps no field order without a schema
        assert (
            list(json.loads(raw))
            == ["before", "after", "source", "transaction", "op", "ts_ms", "ts_us", "ts_ns"]
            == sorted(value, key=list(json.loads(raw)).index)
        )
        assert (value["before"], value["op"], value["transaction"]) == (None, "c", None)
        source = value["source"]
        assert (source["version"], source["connector"], source["name"], source["db"]) == (SOURCE_VERSION, "postgresql", database, database)
        assert (source["schema"], source["table"], source["snapshot"], source["lsn"]) == ("public", "items", "false", None)
        assert isinstance(source["txId"], int) and isinstance(source["ts_ms"], int)
        after = {**value["after"], "price": None, "amount": None, "cash": None}  # decimals: bytes without a schema
        assert _decoded(after) == {**row, "price": None, "amount": None, "cash": None}


def test_our_own_envelope_is_not_debeziums(pipeline: Pipeline, debezium_classes: str, tmp_path: Path) -> None:
    """By contrast (what the issue found from outside): the default envelope is rejected by JsonConverter
    with schemas enabled, and passed on unchanged (not unwrapped) by ExtractNewRecordState without."""
    p = pipeline
    _table(p)
    events = _produce(p, p.topic)
    assert [k for k, _v in events] == ["1", "2", "3"]
    r = _java(debezium_classes, tmp_path, p.topic, True, events)
    assert r.returncode != 0 and "JsonConverter with schemas.enable requires" in r.stderr
    seen = read_with_connect(debezium_classes, tmp_path, p.topic, False, events)
    assert not any(s["unwrapped"] for s in seen) and all("before" not in s["row"] for s in seen)


def test_dry_run_previews_debeziums_events(pipeline: Pipeline) -> None:
    p = pipeline
    _table(p)
    r = run_kafkaops(["produce", "--table", "items", "--envelope", "debezium", "--dry-run", "--max-rows", "2"], p.env, p.root, timeout=180)
    assert r.returncode == 0, r.stderr
    lines = [line.split("\t", 1) for line in r.stdout.splitlines()]
    assert [k for k, _v in lines] == ['{"id":1}', '{"id":2}']
    assert [json.loads(v)["after"]["day"] for _k, v in lines] == [20487, -1]
    assert "Would send 2 events" in r.stderr


@pytest.fixture
def commit_time_server() -> Iterator[PgServer]:
    """A PostgreSQL of its own that records commit times (track_commit_timestamp needs a restart)."""
    from kafkaops.adapters import embedded_pg
    from kafkaops.settings import load_settings
    from tests.conftest import free_port

    home = Path(tempfile.mkdtemp(prefix="kafkaops-test-pg-"))
    settings = load_settings(env={"KAFKAOPS_HOME": str(home / "ops")}, cwd=home)
    try:
        info = embedded_pg.start(settings, port_=free_port(), timeout=60)
        assert info.started and info.port
        server = PgServer(settings, "", info.port)
        server.url = server.url_for("postgres")
        with psycopg.connect(server.url, autocommit=True) as conn:
            conn.execute("ALTER SYSTEM SET track_commit_timestamp = on")
        embedded_pg.stop(settings, timeout=30)
        assert embedded_pg.start(settings, timeout=60).started
        yield server
    finally:
        embedded_pg.stop(settings, timeout=30)
        shutil.rmtree(embedded_pg.shared_dir(settings), ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)


def test_source_ts_ms_is_the_commit_time_when_postgresql_records_it(shared_stack: Any, commit_time_server: PgServer, tmp_path: Path) -> None:
    p = make_pipeline(shared_stack, commit_time_server.new_database(), tmp_path)
    db.init(p.settings)
    p.sql("CREATE TABLE items (id bigserial PRIMARY KEY, label text)")
    p.sql("INSERT INTO items (label) VALUES ('a'), ('b')")
    [(committed_ms, xid)] = p.sql("SELECT (extract(epoch FROM pg_xact_commit_timestamp(xmin)) * 1000)::bigint, xmin::text::bigint FROM items WHERE id = 1")
    [(key, raw)] = _produce(p, p.topic, "--envelope", "debezium", "--max-rows", "1")
    event = json.loads(raw)
    assert key == '{"id":1}'
    assert (event["source"]["ts_ms"], event["source"]["txId"]) == (committed_ms, xid)
    assert event["ts_ms"] > committed_ms  # the event's own time: when it was built
