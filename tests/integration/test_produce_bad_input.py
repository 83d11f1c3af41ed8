"""kafkaops produce with bad input: one line, a documented exit code, the offset untouched, no password shown."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from kafkaops.procedures import db
from tests.conftest import free_port, run_kafkaops
from tests.pg_fixtures import PgServer, Pipeline

SECRET = "Wr0ngPassw0rd-" + uuid.uuid4().hex[:8]


def _run(p: Pipeline, env_changes: dict[str, str | None], *args: str):
    env = dict(p.env)
    for k, v in env_changes.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return run_kafkaops(["produce", *args], env, p.root, timeout=120)


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


@pytest.fixture
def ready(pipeline: Pipeline) -> Pipeline:
    db.init(pipeline.settings, demo=True)
    db.seed(pipeline.settings, 10)
    return pipeline


@pytest.mark.parametrize(
    ("url", "code", "message"),
    [
        (f"postgres//alice:{SECRET}@localhost/db", 2, "error: DATABASE_URL is malformed (libpq cannot parse it)"),
        (f"postgresql://alice:{SECRET}@localhost:notaport/db", 2, "error: DATABASE_URL has a port that is not a number ('notaport')"),
        (f"mysql://alice:{SECRET}@localhost/db", 2, "error: DATABASE_URL is not a PostgreSQL URL"),
        (f"host=localhost port=1 user=alice password={SECRET} dbname=x", 4, "is unreachable"),
    ],
)
def test_bad_database_url(ready: Pipeline, url: str, code: int, message: str) -> None:
    r = _run(ready, {"DATABASE_URL": url})
    assert r.returncode == code, r.stderr
    assert message in r.stderr
    assert len(_error_lines(r.stderr)) == 1
    assert SECRET not in r.stdout + r.stderr
    assert ready.offset() == 0


def test_wrong_credentials_are_refused_with_the_password_hidden(ready: Pipeline, pg_server: PgServer) -> None:
    dbname = ready.database_url.rsplit("/", 1)[1]
    url = f"postgresql://kafkaops:{SECRET}@localhost:{pg_server.port}/{dbname}"
    r = _run(ready, {"DATABASE_URL": url})
    assert r.returncode == 2, r.stderr
    assert "error: PostgreSQL refused the credentials in DATABASE_URL (postgresql://kafkaops:***@localhost:" in r.stderr
    assert "password authentication failed" in r.stderr
    assert "hint: check the user name and password in DATABASE_URL" in r.stderr
    assert SECRET not in r.stdout + r.stderr
    assert ready.offset() == 0


def test_database_unreachable(ready: Pipeline) -> None:
    r = _run(ready, {"DATABASE_URL": f"postgresql://kafkaops:{SECRET}@localhost:{free_port()}/x"})
    assert r.returncode == 4, r.stderr
    assert "is unreachable" in r.stderr and "Connection refused" in r.stderr
    assert SECRET not in r.stdout + r.stderr


def test_no_database_url_and_no_embedded_server(ready: Pipeline, tmp_path: Path) -> None:
    r = _run(ready, {"DATABASE_URL": None, "KAFKAOPS_HOME": str(tmp_path / "fresh"), "KAFKAOPS_EMBEDDED_DB": "auto"})
    assert r.returncode == 3, r.stderr
    assert "error: no database: DATABASE_URL is not set and the embedded PostgreSQL has not been started" in r.stderr
    assert "kafkaops up" in r.stderr


def test_the_real_password_never_shows(ready: Pipeline) -> None:
    password = ready.database_url.split(":")[2].split("@")[0]
    for args in (["--dry-run"], [], ["--table", "nosuch"]):
        r = _run(ready, {}, *args)
        assert password not in r.stdout + r.stderr
    r = run_kafkaops(["db", "status"], ready.env, ready.root)
    assert password not in r.stdout + r.stderr


def test_table_missing(ready: Pipeline) -> None:
    r = _run(ready, {}, "--table", "nosuch")
    assert r.returncode == 3, r.stderr
    assert "error: table nosuch does not exist in the database" in r.stderr
    assert "kafkaops db init" in r.stderr
    assert ready.offset() == 0


def test_offset_table_missing(pipeline: Pipeline) -> None:
    pipeline.sql("CREATE TABLE livedb (id bigserial PRIMARY KEY, v text)")
    r = _run(pipeline, {})
    assert r.returncode == 3, r.stderr
    assert "error: the offset table producer_offsets does not exist" in r.stderr
    assert "hint: create it with `kafkaops db init`" in r.stderr


def test_topic_missing_is_not_auto_created(ready: Pipeline) -> None:
    topic = "missing-" + uuid.uuid4().hex[:8]
    r = _run(ready, {}, "--topic", topic)
    assert r.returncode == 3, r.stderr
    assert f"error: topic {topic} does not exist on {ready.settings.kafka_broker}" in r.stderr
    assert f"hint: create it with `kafkaops topics create {topic}`" in r.stderr
    assert ready.offset() == 0
    from kafkaops.adapters.kafka import metadata

    assert topic not in metadata(ready.settings).topics


def test_broker_unreachable(ready: Pipeline) -> None:
    r = _run(ready, {"KAFKA_BROKER": f"localhost:{free_port()}"})
    assert r.returncode == 4, r.stderr
    assert len(_error_lines(r.stderr)) == 1
    assert "no Kafka broker answered at localhost:" in r.stderr
    assert ready.offset() == 0


def test_bad_options(ready: Pipeline) -> None:
    for args, message in (
        (["--batch-size", "0"], "--batch-size must be at least 1"),
        (["--max-rows", "0"], "--max-rows must be at least 1"),
        (["--mapper", "nomodule"], "is not module:function"),
        (["--mapper", "no_such_module_xyz:f"], "cannot import no_such_module_xyz"),
    ):
        r = _run(ready, {}, *args)
        assert r.returncode == 2, r.stderr
        assert message in r.stderr
    assert ready.offset() == 0
