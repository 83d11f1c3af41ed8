"""doctor's migration check without services: the label and the first named failure (no controller runs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kafkaops.adapters.javaprops import write_properties
from kafkaops.doctor import FAIL, PASS
from kafkaops.doctor.runner import run_doctor
from kafkaops.procedures.migrate.state import IN_PROGRESS, MigrationState, write_state
from kafkaops.settings import load_settings
from tests.conftest import free_port


@pytest.fixture
def settings(tmp_path: Path):  # type: ignore[no-untyped-def]
    conf = tmp_path / "conf"
    zk_port, broker_port = free_port(), free_port()
    write_properties(conf / "zookeeper.properties", {"dataDir": str(tmp_path / "zk"), "clientPort": str(zk_port)})
    write_properties(
        conf / "server.properties", {"broker.id": "0", "listeners": f"PLAINTEXT://localhost:{broker_port}", "zookeeper.connect": f"localhost:{zk_port}"}
    )
    env = {
        "KAFKAOPS_HOME": str(tmp_path / "ops"),
        "KAFKA_HOME": str(tmp_path / "kafka"),
        "KAFKAOPS_SERVER_PROPERTIES": str(conf / "server.properties"),
        "KAFKAOPS_ZOOKEEPER_PROPERTIES": str(conf / "zookeeper.properties"),
        "KAFKAOPS_EMBEDDED_DB": "off",
    }
    return load_settings(env=env, cwd=tmp_path)


def test_no_migration_no_finding(settings) -> None:  # type: ignore[no-untyped-def]
    res = run_doctor(settings, only=["migration.state"]).check("migration.state")
    assert res.status == PASS and res.finding == "no ZooKeeper-to-KRaft migration in progress"  # a healthy stack passes every check


def test_a_migration_whose_controller_is_gone_is_named(settings) -> None:  # type: ignore[no-untyped-def]
    root = settings.kafkaops_home / "migration"
    state = MigrationState(
        3, IN_PROGRESS, "cid", 0, 3000, free_port(), str(settings.data_dir / "kraft-controller"), str(settings.server_properties),
        str(settings.zookeeper_properties), "/zk", str(settings.kafka_home), {"root": str(root)}, {"cluster_id": "cid", "topics": {}, "groups": {}},
    )  # fmt: skip
    write_state(root / "state.json", state)
    res = run_doctor(settings, only=["migration.state"]).check("migration.state")
    assert res.status == FAIL
    assert res.finding == "migrating (phase 3 of 5): the KRaft controller is not running"
    assert res.next == "kafkaops migrate --to kraft" and res.runbook == "failures migration-stuck"
