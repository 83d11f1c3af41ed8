"""produce and db with tables and databases they cannot use as they are, and rows they cannot send:
one clear line, the documented exit code, nothing damaged. Real PostgreSQL and a real broker."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from kafkaops.procedures import db
from kafkaops.settings import load_settings
from tests.conftest import run_kafkaops
from tests.pg_fixtures import PgServer, Pipeline, make_pipeline


def _kafkaops(p: Pipeline, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return run_kafkaops(list(args), p.env, p.root, timeout=timeout)


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


# --- item 9: an id column that is not an integer -----------------------------------------------------


@pytest.mark.parametrize(
    ("ddl", "rows"), [("id text PRIMARY KEY", "'a', 'b'"), ("id text PRIMARY KEY", "'1', '2'"), ("id uuid PRIMARY KEY DEFAULT gen_random_uuid()", None)]
)
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

    # doctor's own database checks read the same names as text, not bytes
    r = _kafkaops(p, "doctor", "--json")
    checks = {c["id"]: c for c in json.loads(r.stdout)["checks"] if c["id"].startswith("database.")}
    assert {cid: (c["status"], c["finding"]) for cid, c in checks.items() if c["status"] not in ("PASS", "SKIP")} == {
        "database.pending": ("WARN", "3 row(s) wait in livedb (id > 0): the producer has not sent them yet"),
    }

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


# --- item 16: money as a decimal string, whatever lc_monetary says ---------------------------------------

GERMAN = "de_DE.UTF-8"  # money reads "1.234.567,89 €" there, "$1,234,567.89" in the C locale


def _locale_installed(name: str) -> bool:
    try:
        out = subprocess.run(["locale", "-a"], capture_output=True, text=True, check=False).stdout.split()
    except FileNotFoundError:  # no locale tool: build the locale below
        return False
    norm = name.lower().replace("-", "")
    return any(x.lower().replace("-", "") == norm for x in out)


@pytest.fixture(scope="module")
def german_pg(pg_server: PgServer) -> Iterator[PgServer]:
    """A PostgreSQL that knows the de_DE.UTF-8 locale: the session's server if the system has it, else
    a server of its own started with LOCPATH pointing at the locale compiled here with localedef."""
    if _locale_installed(GERMAN):
        yield pg_server
        return
    from kafkaops.adapters import embedded_pg
    from tests.conftest import free_port

    home = Path(tempfile.mkdtemp(prefix="kafkaops-test-pg-de-"))
    settings = load_settings(env={"KAFKAOPS_HOME": str(home / "ops")}, cwd=home)
    try:
        home.chmod(0o755)  # the server may run as another user: it must read the locale
        locales = home / "locales"
        locales.mkdir()
        subprocess.run(["localedef", "-i", "de_DE", "-f", "UTF-8", str(locales / GERMAN)], check=True, capture_output=True)
        for p in [locales, *locales.rglob("*")]:
            p.chmod(0o755 if p.is_dir() else 0o644)
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("LOCPATH", str(locales))  # inherited by the server it starts
            info = embedded_pg.start(settings, port_=free_port(), timeout=60)
        server = PgServer(settings, "", info.port or 0)
        server.url = server.url_for("postgres")
        yield server
    finally:
        embedded_pg.stop(settings, timeout=30)
        shutil.rmtree(home, ignore_errors=True)


@pytest.mark.parametrize("lc_monetary", ["C", GERMAN])
def test_money_is_sent_as_a_decimal_string(shared_stack, german_pg: PgServer, tmp_path: Path, lc_monetary: str) -> None:
    url = german_pg.new_database()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"ALTER DATABASE \"{url.rsplit('/', 1)[1]}\" SET lc_monetary TO '{lc_monetary}'")
    p = make_pipeline(shared_stack, url, tmp_path)
    db.init(p.settings)
    p.sql("CREATE TABLE priced (id bigserial PRIMARY KEY, price money, prices money[])")
    p.sql(
        """INSERT INTO priced (price, prices) VALUES
           (12.34::numeric::money, ARRAY[1.5::numeric::money, 2::numeric::money]),
           (1234567.89::numeric::money, NULL), ((-5)::numeric::money, '{}'), (NULL, NULL)"""
    )
    shown = p.sql("SELECT price::text FROM priced WHERE id = 2")[0][0]
    assert shown == ("1.234.567,89 €" if lc_monetary == GERMAN else "$1,234,567.89")  # what the bug sent
    r = run_kafkaops(["produce", "--table", "priced"], p.env, p.root)
    assert r.returncode == 0, r.stderr
    rows = [m.value["after"] for m in p.events()]
    assert [(x["price"], x["prices"]) for x in rows] == [("12.34", ["1.50", "2.00"]), ("1234567.89", None), ("-5.00", []), (None, None)]

    (p.root / "moneymapper.py").write_text("def f(row):\n    return {'p': row['price']}\n")
    assert run_kafkaops(["db", "rewind", "--yes", "--table", "priced"], p.env, p.root).returncode == 0  # that pipeline's position
    r = run_kafkaops(["produce", "--table", "priced", "--mapper", "moneymapper:f"], p.env, p.root)
    assert r.returncode == 0, r.stderr
    assert [m.value for m in p.events()[4:]] == [{"p": "12.34"}, {"p": "1234567.89"}, {"p": "-5.00"}, {"p": None}]


# --- item 18: a mapper that exits, raises or returns what JSON cannot hold ------------------------------

MAPPER = """\
import sys


def to_event(row):
    if row["id"] < 3:
        return {"n": row["id"]}
    return BAD
"""


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("sys.exit(3)", "error: --mapper badmapper:to_event called sys.exit(3) on row id=3 instead of returning an event"),
        ("{1, 2}", "error: --mapper badmapper:to_event returned a value JSON cannot hold for row id=3: Object of type set is not JSON serializable"),
        ("b'raw'", "error: --mapper badmapper:to_event returned a value JSON cannot hold for row id=3: Object of type bytes is not JSON serializable"),
        (
            "{'x': float('nan')}",
            "error: --mapper badmapper:to_event returned a value JSON cannot hold for row id=3: Out of range float values are not JSON compliant",
        ),
        ("1 / 0", "error: --mapper badmapper:to_event failed on row id=3: ZeroDivisionError: division by zero"),
    ],
)
def test_a_mapper_that_exits_raises_or_returns_no_json_stops_with_the_row(pipeline: Pipeline, bad: str, message: str) -> None:
    p = pipeline
    db.init(p.settings, demo=True)
    db.seed(p.settings, 5)
    (p.root / "badmapper.py").write_text(MAPPER.replace("return BAD", f"return {bad}" if "exit" not in bad else bad))
    for extra in (["--dry-run"], ["--batch-size", "2"]):
        r = _kafkaops(p, "produce", "--mapper", "badmapper:to_event", *extra)
        assert r.returncode == 2, (extra, r.stderr)
        assert _error_lines(r.stderr) == [message], (extra, r.stderr)
        assert "hint: fix the mapper, then rerun `kafkaops produce`: the offset stands before row id=3" in r.stderr
    assert p.offset() == 2  # the batch [1, 2] before the row was sent and committed; nothing after it
    assert [m.value for m in p.events()] == [{"n": 1}, {"n": 2}]


def test_a_mapper_module_that_exits_while_imported(pipeline: Pipeline) -> None:
    p = pipeline
    db.init(p.settings, demo=True)
    db.seed(p.settings, 2)
    (p.root / "exitmapper.py").write_text("import sys\nsys.exit(4)\n")
    r = _kafkaops(p, "produce", "--mapper", "exitmapper:f")
    assert r.returncode == 2, r.stderr
    assert _error_lines(r.stderr) == ["error: --mapper: importing exitmapper called sys.exit(4)"]
    assert p.offset() == 0


# --- item 8: a row whose event is over the topic's max.message.bytes ----------------------------------

BIG = 10 * 1024 * 1024  # a 10 MB bytea: base64 makes it a ~13.3 MB event
TOO_LARGE = re.compile(
    r"error: row id=6 of public\.livedb is too large for topic (\S+): its event is ([\d,]+) bytes, and the topic's "
    r"max\.message\.bytes is 1,048,588 \(with Kafka's framing it must fit in that\)"
)


@pytest.fixture
def big_row(pipeline: Pipeline) -> tuple[Pipeline, bytes]:
    """Rows 1..5 and 7..10 ordinary, row 6 with a 10 MB bytea."""
    p = pipeline
    db.init(p.settings, demo=True)
    db.seed(p.settings, 5)
    blob = os.urandom(BIG)
    p.sql("INSERT INTO livedb (name, amount, blob) VALUES ('big', 1, %s)", (blob,))
    db.seed(p.settings, 4)
    return p, blob


def test_a_row_over_the_topic_limit_is_named_with_the_choices_and_doctor_names_it(big_row: tuple[Pipeline, bytes]) -> None:
    p, _ = big_row
    r = _kafkaops(p, "produce", "--dry-run")  # the dry run tells the same story
    assert r.returncode == 0, r.stderr
    assert re.search(
        rf"warning: row id=6 of public\.livedb is too large for topic {p.topic}: its event is [\d,]+ bytes, over max\.message\.bytes of 1,048,588; a real run stops before it",
        r.stderr,
    ), r.stderr
    assert "Would send 5 events to" in r.stderr and "the offset would move from 0 to 5" in r.stderr
    assert [line.split("\t")[0] for line in r.stdout.splitlines()] == ["1", "2", "3", "4", "5"]
    for _ in range(2):  # the second run stops at the same row, sending nothing again
        r = _kafkaops(p, "produce", "--batch-size", "3")
        assert r.returncode == 1, r.stderr
        [line] = _error_lines(r.stderr)
        m = TOO_LARGE.fullmatch(line)
        assert m, line
        assert m.group(1) == p.topic
        assert 13_981_013 < int(m.group(2).replace(",", "")) < 13_983_000  # 4/3 of 10 MiB, plus the other columns
        assert f"--entity-name {p.topic} --add-config max.message.bytes=14680064" in r.stderr  # rounded up to 14 MiB
        assert "UPDATE public.livedb SET ... WHERE id = 6" in r.stderr
        assert "`kafkaops produce --skip-oversize`" in r.stderr
        assert "unexpected" not in r.stderr
        assert p.offset() == 5  # everything before the row was sent and committed
        assert [m.row_id for m in p.events()] == [1, 2, 3, 4, 5]

    # doctor's pending-rows check names the row (and exits 3: the pipeline is stuck)
    r = _kafkaops(p, "doctor", "--json")
    doc = json.loads(r.stdout)
    pending = next(c for c in doc["checks"] if c["id"] == "database.pending")
    assert pending["status"] == "FAIL", pending
    assert pending["finding"].startswith("row id=6 of livedb makes an event of 13,98"), pending
    assert f"over topic {p.topic}'s max.message.bytes of 1,048,588: `kafkaops produce` stops before it, 5 row(s) wait" in pending["finding"]
    assert "--skip-oversize" in pending["remedy"] and "max.message.bytes" in pending["remedy"]
    assert r.returncode == 3, r.stderr


def test_skip_oversize_records_the_row_and_moves_on(big_row: tuple[Pipeline, bytes]) -> None:
    p, _ = big_row
    r = _kafkaops(p, "produce", "--dry-run", "--skip-oversize")
    assert r.returncode == 0, r.stderr
    assert f"warning: 1 row(s) too large for topic {p.topic} would be skipped and recorded in producer_skipped (ids 6)" in r.stderr
    assert "Would send 9 events to" in r.stderr and "the offset would move from 0 to 10" in r.stderr
    assert p.sql("SELECT to_regclass('producer_skipped')") == [(None,)]  # a dry run writes nothing
    r = _kafkaops(p, "produce", "--batch-size", "3", "--skip-oversize")
    assert r.returncode == 0, r.stderr
    assert re.search(
        rf"warning: skipped row id=6 of public\.livedb: its event is [\d,]+ bytes, over topic {p.topic}'s max\.message\.bytes of 1,048,588; recorded in producer_skipped",
        r.stderr,
    ), r.stderr
    assert "Sent 9 events to Kafka; offset now 10 (1 row too large skipped: see producer_skipped)" in r.stderr
    assert [m.row_id for m in p.events()] == [1, 2, 3, 4, 5, 7, 8, 9, 10]
    [(table, topic, row_id, size, limit, reason)] = p.sql("SELECT source_table, topic, row_id, size_bytes, limit_bytes, reason FROM producer_skipped")
    assert (table, topic, row_id, limit) == ("public.livedb", p.topic, 6, 1_048_588)
    assert 13_981_013 < size < 13_983_000
    assert reason == "event larger than the topic's max.message.bytes"
    r = _kafkaops(p, "doctor", "--json")
    pending = next(c for c in json.loads(r.stdout)["checks"] if c["id"] == "database.pending")
    assert pending["status"] == "PASS", pending
    assert any("1 row(s) too large were skipped (see producer_skipped)" in d for d in pending["details"]), pending


def test_raising_the_topic_limit_lets_the_row_through(big_row: tuple[Pipeline, bytes]) -> None:
    p, blob = big_row
    assert _kafkaops(p, "produce").returncode == 1
    from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType

    from kafkaops.adapters.kafka import client_config

    resource = ConfigResource(
        ResourceType.TOPIC, p.topic, incremental_configs=[ConfigEntry("max.message.bytes", "14680064", incremental_operation=AlterConfigOpType.SET)]
    )
    client = AdminClient(client_config(p.settings))
    for future in client.incremental_alter_configs([resource]).values():
        future.result(timeout=30)
    r = _kafkaops(p, "produce")
    assert r.returncode == 0, r.stderr
    assert "Sent 5 events to Kafka; offset now 10" in r.stderr
    events = p.events(timeout=60)
    assert [m.row_id for m in events] == list(range(1, 11))
    assert base64.b64decode(events[5].value["after"]["blob"]) == blob
