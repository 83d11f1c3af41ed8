"""doctor's verdict names a next step that can succeed: `kafkaops up` is never proposed while what `up`
needs is missing. No service runs: the addresses are closed ports on this machine.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from kafkaops.adapters.javaprops import write_properties
from kafkaops.cli import app
from tests.conftest import free_port


def doctor(env: dict[str, str]) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(app, ["doctor", "--json"], env=env)
    return result.exit_code, json.loads(result.stdout)


def check(doc: dict[str, Any], check_id: str) -> dict[str, Any]:
    return next(c for c in doc["checks"] if c["id"] == check_id)


def test_an_empty_kafka_home_with_nothing_answering_says_install_not_up(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "kafka").mkdir()  # KAFKA_HOME is set, and empty
    env["ZOOKEEPER_CONNECT"] = f"127.0.0.1:{free_port()}"
    code, doc = doctor(env)
    assert code == 3
    assert doc["verdict"]["next"] == f"point KAFKA_HOME at a Kafka installation (now {tmp_path / 'kafka'}), or unset it and run kafkaops install"
    assert doc["verdict"]["check"] == "host.kafka_home"
    c = check(doc, "host.kafka_home")
    assert c["status"] == "FAIL"
    assert c["finding"].startswith(f"KAFKA_HOME {tmp_path / 'kafka'} is not a Kafka installation (no libs/kafka_2.*.jar)")

    del env["KAFKA_HOME"]  # the default KAFKA_HOME (under KAFKAOPS_HOME) is what `kafkaops install` fills
    code, doc = doctor(env)
    assert code == 3
    assert (doc["verdict"]["check"], doc["verdict"]["next"]) == ("host.kafka_home", "kafkaops install")


def test_an_empty_kafka_home_under_a_configured_stopped_stack_says_install_not_up(env: dict[str, str], tmp_path: Path) -> None:
    zk_port, broker_port = free_port(), free_port()
    conf = tmp_path / "conf"
    write_properties(conf / "zookeeper.properties", {"dataDir": str(tmp_path / "zk"), "clientPort": str(zk_port)})
    write_properties(conf / "server.properties", {"broker.id": "0", "listeners": f"PLAINTEXT://localhost:{broker_port}",
                                                  "log.dirs": str(tmp_path / "logs"), "zookeeper.connect": f"localhost:{zk_port}"})  # fmt: skip
    env.update({"KAFKAOPS_SERVER_PROPERTIES": str(conf / "server.properties"), "KAFKAOPS_ZOOKEEPER_PROPERTIES": str(conf / "zookeeper.properties")})
    del env["KAFKA_HOME"], env["KAFKA_BROKER"]
    code, doc = doctor(env)
    assert code == 3
    assert check(doc, "zookeeper.process")["next"] == "kafkaops up"  # true, but up cannot start without Kafka...
    assert (doc["verdict"]["check"], doc["verdict"]["next"]) == ("host.kafka_home", "kafkaops install")  # ...so this comes first
    assert doc["context"]["local_stack"] is True
