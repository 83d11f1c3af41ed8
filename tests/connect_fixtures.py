"""Kafka Connect for the integration tests: installed once under KAFKAOPS_TEST_HOME with `install --with connect`'s
own procedure (mvn against Maven Central). A failed resolve fails the tests (never a skip), in CI and here.

``connect_home`` is the 3.9.2 runtime (reload4j) beside the ZooKeeper-mode stack; ``connect4_home`` the 4.4.0
runtime (log4j2) beside the KRaft stack, in KAFKAOPS_TEST_HOME/connect/<version> like KAFKAOPS_HOME's default."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kafkaops.settings import DEFAULT_KAFKA_VERSION, DEFAULT_KRAFT_VERSION
from tests.conftest import Stack, free_port, make_stack, run_kafkaops, teardown_stack


def _install(version: str) -> Path:
    from kafkaops.procedures.connect.install import install_connect

    ops_home = Path(os.environ.get("KAFKAOPS_TEST_HOME", Path.home() / ".cache" / "kafkaops-test"))
    return install_connect(ops_home / "connect" / version, version).home


@pytest.fixture(scope="session")
def connect_home() -> Path:
    return _install(DEFAULT_KAFKA_VERSION)


@pytest.fixture(scope="session")
def connect4_home() -> Path:
    return _install(DEFAULT_KRAFT_VERSION)


@pytest.fixture
def connect_stack(tmp_path: Path, kafka_home: Path, connect_home: Path) -> Iterator[Stack]:
    """A stack (not started) with the embedded PostgreSQL and Kafka Connect installed; the workers and the stack stopped after."""
    s = make_stack(tmp_path, kafka_home)
    s.env.update(
        {
            "KAFKAOPS_EMBEDDED_DB": "auto",
            "KAFKAOPS_EMBEDDED_DB_PORT": str(free_port()),
            "KAFKAOPS_CONNECT_HOME": str(connect_home),
            "KAFKAOPS_START_TIMEOUT": "150",
            "KAFKA_TOPIC": "cdc-" + uuid.uuid4().hex[:8],
        }
    )
    yield s
    run_kafkaops(["connect", "down", "--force"], s.env, s.root)
    teardown_stack(s)


def assert_cdc_healthy(env: dict[str, str], root: Path) -> subprocess.CompletedProcess[str]:
    """`cdc status` sees the slot active, and doctor's four Connect checks pass; the `cdc status` run."""
    st = run_kafkaops(["cdc", "status", "--json"], env, root)
    assert st.returncode == 0, st.stderr
    assert json.loads(st.stdout)["slot"]["active"] is True
    doctor = run_kafkaops(["doctor", "--json", "connect.workers", "connect.logs", "connect.connector", "connect.slot"], env, root)
    found = {c["id"]: c["status"] for c in json.loads(doctor.stdout)["checks"]}
    assert [found.get(i) for i in ("connect.workers", "connect.logs", "connect.connector", "connect.slot")] == ["PASS"] * 4, doctor.stdout
    return st
