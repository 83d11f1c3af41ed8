"""`kafkaops doctor` through Typer's CliRunner, pointed at a cluster and a database that are not on this
machine (names that never resolve, a closed port): remote checks SKIP with the reason, the verdict and
exit code follow, and the database password never appears in either output format. No services needed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kafkaops.cli import app

SECRET = "Remote-Pw-5521"


@pytest.fixture
def remote_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)  # no .env file from the working tree
    for var in ("KAFKA_HOME", "KAFKAOPS_SERVER_PROPERTIES", "KAFKAOPS_ZOOKEEPER_PROPERTIES", "KAFKA_TOPIC"):
        monkeypatch.delenv(var, raising=False)
    return {
        "KAFKAOPS_HOME": str(tmp_path / "ops"),
        "KAFKA_BROKER": "kafka.kafkaops-remote.invalid:9092",
        "ZOOKEEPER_CONNECT": "zk.kafkaops-remote.invalid:2181",
        "DATABASE_URL": f"postgresql://app:{SECRET}@127.0.0.1:1/livedb",
    }


def test_remote_cluster_json(remote_env: dict[str, str]) -> None:
    result = CliRunner().invoke(app, ["doctor", "--json"], env=remote_env)
    assert result.exit_code == 3, result.output
    assert SECRET not in result.output
    doc = json.loads(result.stdout)
    by_id = {c["id"]: c for c in doc["checks"]}
    for local in ("zookeeper.process", "broker.process", "broker.cluster_id", "logs.zookeeper", "logs.broker", "host.java", "host.disk"):
        assert by_id[local]["status"] == "SKIP", local
        assert "not this machine" in by_id[local]["finding"] or "not on this machine" in by_id[local]["finding"], local
    assert by_id["zookeeper.serving"]["status"] == "FAIL"
    assert by_id["broker.metadata"]["status"] == "FAIL"
    assert by_id["database.reachable"]["status"] == "FAIL"
    assert doc["context"]["database"] == "postgresql://app:***@127.0.0.1:1/livedb"
    assert (doc["context"]["zookeeper_local"], doc["context"]["broker_local"]) == (False, False)
    assert doc["verdict"]["layer"] == "zookeeper" and doc["verdict"]["check"] == "zookeeper.serving"
    assert doc["exit_code"] == 3 and doc["ok"] is False


def test_remote_cluster_table(remote_env: dict[str, str]) -> None:
    result = CliRunner().invoke(app, ["doctor"], env=remote_env)
    assert result.exit_code == 3
    assert SECRET not in result.output
    assert "verdict: fault in zookeeper layer" in result.stdout
    assert "next: kafkaops up" in result.stdout
