"""`kafkaops status` without services: a broken local config is named (exit 2), a missing one is not an error."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from kafkaops.adapters.javaprops import write_properties
from kafkaops.cli import app
from tests.conftest import free_port


def test_a_broken_local_config_is_named_not_taken_for_another_cluster(env: dict[str, str], tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    write_properties(conf / "zookeeper.properties", {"dataDir": str(tmp_path / "zk"), "clientPort": str(free_port())})
    write_properties(conf / "server.properties", {"broker.id": "0", "listeners": "localhost-without-a-scheme", "log.dirs": str(tmp_path / "logs")})
    env.update({"KAFKAOPS_SERVER_PROPERTIES": str(conf / "server.properties"), "KAFKAOPS_ZOOKEEPER_PROPERTIES": str(conf / "zookeeper.properties")})
    result = CliRunner().invoke(app, ["status"], env=env)
    assert result.exit_code == 2
    assert "error: listener 'localhost-without-a-scheme' is not of the form NAME://host:port" in result.stderr


def test_no_local_install_and_nothing_answering_is_not_up(env: dict[str, str]) -> None:
    result = CliRunner().invoke(app, ["status", "--json"], env=env)
    assert result.exit_code == 3
    doc = json.loads(result.stdout)
    assert (doc["up"], doc["local"]) == (False, False)
    assert [(s["service"], s["state"], s["pid"]) for s in doc["services"]] == [("kafka", "unreachable", None)]
    assert doc["reasons"][0].startswith("no local stack is configured here (config file not found: ")
