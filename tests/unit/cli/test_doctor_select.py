"""`kafkaops doctor --list-checks` and `kafkaops doctor ID...`: the registry as the user sees it.
No service runs: the addresses are closed ports on this machine."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from kafkaops.cli import app
from tests.conftest import free_port


def test_list_checks_shows_id_step_where_it_applies_and_what_it_checks_in_order(env: dict[str, str]) -> None:
    result = CliRunner().invoke(app, ["doctor", "--list-checks"], env=env)
    assert result.exit_code == 0, result.output
    lines = [line.rstrip() for line in result.stdout.splitlines()]
    assert lines[:10] == [
        "step ┃ check                      ┃ applies to         ┃ what it checks",
        "━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━",
        "1    │ zookeeper.process          │ local, zookeeper   │ ZooKeeper process and port",
        "1    │ zookeeper.serving          │ zookeeper          │ ZooKeeper answers srvr",
        "1    │ quorum.controller          │ local, kraft       │ KRaft controller process and port",
        "1    │ quorum.voters              │ local, kraft       │ quorum settings: voters, controller listener, node.id",
        "1    │ quorum.leader              │ kraft              │ quorum leader elected, voters and their lag",
        "1    │ quorum.log                 │ local, kraft       │ KRaft log: unformatted dir, cluster/node id, quorum settings",
        "2    │ broker.process             │ local              │ broker process and port",
        "2    │ broker.metadata            │ cluster            │ broker answers a metadata request",
    ]
    assert "6    │ producer.canary            │ cluster (--canary) │ canary: database → Kafka → consumer" in lines
    assert lines[-6] == "+    │ host.pid_files             │ local              │ no stale pid files"
    assert lines[-5] == "+    │ migration.state            │ local              │ a ZooKeeper-to-KRaft migration in progress"
    assert lines[-4] == "+    │ connect.workers            │ cluster            │ Kafka Connect workers answer their REST API"
    assert lines[-3] == "+    │ connect.logs               │ local              │ Connect worker logs: known failures since the last start"
    assert lines[-1] == "+    │ connect.slot               │ database           │ the pipeline's replication slot has a consumer"
    assert "2    │ broker.cluster_id          │ local, zookeeper   │ cluster id on disk vs ZooKeeper" in lines
    assert "8    │ logs.zookeeper             │ local, zookeeper   │ ZooKeeper log: known failures since the last start" in lines
    assert len(lines) == 2 + 39


def test_list_checks_as_json_and_for_a_selection(env: dict[str, str]) -> None:
    result = CliRunner().invoke(app, ["doctor", "--list-checks", "--json", "database.pending"], env=env)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["schema"] == "kafkaops.doctor.checks/1"
    assert [c["id"] for c in doc["checks"]] == ["database.reachable", "database.schema", "database.offset", "database.pending"]
    assert doc["checks"][-1] == {
        "id": "database.pending",
        "step": 5,
        "layer": "database",
        "title": "rows pending for the producer",
        "applies_to": "database",
        "modes": ["zookeeper", "kraft"],
        "requires": ["database.schema", "database.offset"],
        "uses": [],
        "timeout": 4.0,
        "canary_only": False,
    }


def test_an_unknown_check_id_is_a_usage_error_with_a_suggestion(env: dict[str, str]) -> None:
    for argv in (["doctor", "database.ofset"], ["doctor", "--list-checks", "database.ofset"]):
        result = CliRunner().invoke(app, argv, env=env)
        assert result.exit_code == 2, result.output
        assert result.stdout == ""
        assert (
            result.stderr
            == "error: unknown check 'database.ofset'; did you mean database.offset?\nhint: `kafkaops doctor --list-checks` lists every check id\n"
        )


def test_doctor_with_ids_runs_only_those_checks_and_what_they_require(env: dict[str, str]) -> None:
    env["ZOOKEEPER_CONNECT"] = f"127.0.0.1:{free_port()}"
    result = CliRunner().invoke(app, ["doctor", "--json", "topic.layout"], env=env)
    assert result.exit_code == 3, result.output
    doc = json.loads(result.stdout)
    assert doc["schema"] == "kafkaops.doctor/1"
    assert [c["id"] for c in doc["checks"]] == ["broker.process", "broker.metadata", "topic.exists", "topic.layout"]
    assert [c["status"] for c in doc["checks"][1:]] == ["FAIL", "SKIP", "SKIP"]
    assert doc["checks"][3]["finding"] == "skipped: broker.metadata failed"
    assert doc["verdict"]["check"] == "broker.metadata"
