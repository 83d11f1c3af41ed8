"""Kafka Connect for the integration tests: installed once under KAFKAOPS_TEST_HOME with `install --with connect`'s
own procedure (mvn against Maven Central). A failed resolve fails the tests (never a skip), in CI and here."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kafkaops.settings import DEFAULT_KAFKA_VERSION


@pytest.fixture(scope="session")
def connect_home() -> Path:
    from kafkaops.procedures.connect.install import install_connect

    ops_home = Path(os.environ.get("KAFKAOPS_TEST_HOME", Path.home() / ".cache" / "kafkaops-test"))
    return install_connect(ops_home / "connect" / DEFAULT_KAFKA_VERSION, DEFAULT_KAFKA_VERSION).home
