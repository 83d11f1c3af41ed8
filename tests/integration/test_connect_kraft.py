"""Kafka Connect and Debezium on the KRaft stack (Kafka 4.4): the 4.x Connect runtime that `install --with connect`
lays out (log4j2, not reload4j), a real distributed-mode worker whose own log is written, `cdc deploy` against the
embedded PostgreSQL switched to wal_level=logical, the rows in the topic, and `connect down`.

A Connect home of the other line (3.9.2 beside a 4.4 broker) is refused by `install` and runs under `connect up`:
Connect is a Kafka client, and 3.9 clients talk to 4.x brokers."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kafkaops.procedures.connect.install import DEBEZIUM_KAFKA
from kafkaops.settings import DEFAULT_KRAFT_VERSION
from tests.conftest import free_port, run_kafkaops
from tests.connect_fixtures import assert_cdc_healthy
from tests.integration.test_cdc import _events, _row_id, _sql
from tests.integration.test_kraft import KraftStack, kraft_home, make_kraft_stack, teardown

__all__ = ["kraft_home"]  # the session fixture, imported for pytest


def _stack(root: Path, kafka_home: Path, connect_home: Path, *, database: bool) -> KraftStack:
    s = make_kraft_stack(root, kafka_home)
    s.env.update({"KAFKAOPS_MODE": "kraft", "KAFKAOPS_CONNECT_HOME": str(connect_home), "KAFKAOPS_START_TIMEOUT": "150"})
    if database:
        s.env.update({"KAFKAOPS_EMBEDDED_DB": "auto", "KAFKAOPS_EMBEDDED_DB_PORT": str(free_port()), "KAFKA_TOPIC": "cdc4-" + uuid.uuid4().hex[:8]})
    return s


def _teardown(s: KraftStack) -> None:
    from kafkaops.adapters import embedded_pg
    from kafkaops.errors import KafkaopsError

    run_kafkaops(["connect", "down", "--force"], s.env, s.root)
    teardown(s)
    try:
        embedded_pg.stop(s.settings)
    except KafkaopsError:
        pass
    shutil.rmtree(embedded_pg.shared_dir(s.settings), ignore_errors=True)


@pytest.fixture
def kraft_cdc_stack(tmp_path: Path, kraft_home: Path, connect4_home: Path) -> Iterator[KraftStack]:
    s = _stack(tmp_path, kraft_home, connect4_home, database=True)
    yield s
    _teardown(s)


def test_install_with_connect_on_a_kraft_stack_and_a_home_of_the_other_line(kraft_home: Path, connect4_home: Path, connect_home: Path) -> None:
    test_home = connect4_home.parent.parent  # KAFKAOPS_TEST_HOME: both already installed there, so nothing is replaced
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", ""), "KAFKAOPS_HOME": str(test_home), "KAFKAOPS_MODE": "kraft"}
    res = run_kafkaops(["install", "--with", "connect"], env, test_home)
    assert res.returncode == 0, res.stderr
    assert f"Kafka Connect {DEBEZIUM_KAFKA} is already installed in {connect4_home}" in res.stderr, res.stderr
    assert f"Connect {DEBEZIUM_KAFKA}, not {DEFAULT_KRAFT_VERSION}: the Kafka release Debezium" in res.stderr

    other = run_kafkaops(["install", "--with", "connect"], {**env, "KAFKAOPS_CONNECT_HOME": str(connect_home)}, test_home)
    assert other.returncode == 1
    assert f"{connect_home} holds Connect for Kafka 3.9.2, not {DEFAULT_KRAFT_VERSION}" in other.stderr and "KAFKAOPS_CONNECT_HOME" in other.stderr
    assert json.loads((connect_home / "kafkaops-connect.json").read_text())["kafka_version"] == "3.9.2"  # left as it was


def test_connect_and_cdc_on_kafka_4(kraft_cdc_stack: KraftStack) -> None:
    env, root = kraft_cdc_stack.env, kraft_cdc_stack.root
    broker, topic = env["KAFKA_BROKER"], env["KAFKA_TOPIC"]
    for args in (["up"], ["db", "init", "--demo"], ["db", "seed", "50"]):
        res = run_kafkaops(args, env, root)
        assert res.returncode == 0, (args, res.stderr)
    port = free_port()
    up = run_kafkaops(["connect", "up", "--port", str(port)], env, root)
    assert up.returncode == 0, up.stderr
    assert f"connect-1 started: http://127.0.0.1:{port}" in up.stderr and f"Kafka Connect {DEBEZIUM_KAFKA}" in up.stderr

    st = run_kafkaops(["connect", "status", "--json"], env, root)
    assert st.returncode == 0, st.stderr
    assert [(w["name"], w["state"], w["version"]) for w in json.loads(st.stdout)["workers"]] == [("connect-1", "running", DEBEZIUM_KAFKA)]
    # log4j2 wrote the worker's own log (with -Dlog4j.configuration alone a 4.x worker writes none)
    log = Path(env["KAFKAOPS_HOME"]) / "logs" / "connect-1" / "server.log"
    assert "Kafka Connect started" in log.read_text(encoding="utf-8")
    logs = run_kafkaops(["connect", "logs", "-n", "1000000"], env, root)
    assert logs.returncode == 0 and "Kafka Connect started" in logs.stdout and "(org.apache.kafka.connect" in logs.stdout

    deploy = run_kafkaops(["cdc", "deploy", "--yes", "--json"], env, root)  # switches the database to wal_level=logical
    assert deploy.returncode == 0, deploy.stderr
    assert json.loads(deploy.stdout)["state"] == "RUNNING"
    from kafkaops.adapters import embedded_pg

    url = embedded_pg.database_url(kraft_cdc_stack.settings)
    _sql(url, "INSERT INTO livedb (name, amount) SELECT 'streamed', 2 FROM generate_series(1, 20)")
    events = _events(broker, topic, lambda ev: len({_row_id(v) for _op, v in ev}) >= 70)
    assert {_row_id(v) for _op, v in events} == set(range(1, 71))
    assert {_row_id(v) for op, v in events if op == "r"} == set(range(1, 51))  # the snapshot
    assert {_row_id(v) for op, v in events if op == "c"} == set(range(51, 71))  # streamed from the WAL

    assert_cdc_healthy(env, root)

    assert run_kafkaops(["cdc", "delete", "--yes"], env, root).returncode == 0
    down = run_kafkaops(["connect", "down"], env, root)
    assert down.returncode == 0 and "connect-1 stopped" in down.stderr, down.stderr
    assert run_kafkaops(["connect", "status"], env, root).returncode == 3


def test_a_3x_connect_home_runs_against_the_4x_broker(tmp_path: Path, kraft_home: Path, connect_home: Path) -> None:
    s = _stack(tmp_path, kraft_home, connect_home, database=False)
    try:
        assert s.kafkaops("up").returncode == 0
        port = free_port()
        up = s.kafkaops("connect", "up", "--port", str(port))
        assert up.returncode == 0, up.stderr
        assert "Kafka Connect 3.9.2" in up.stderr  # the version the Connect home holds, not the stack's
        log = Path(s.env["KAFKAOPS_HOME"]) / "logs" / "connect-1" / "server.log"
        assert "Kafka Connect started" in log.read_text(encoding="utf-8")  # reload4j for a 3.x runtime
        assert s.kafkaops("connect", "down").returncode == 0
    finally:
        _teardown(s)
