"""kafkaops doctor against a real Kafka 4.x KRaft node started by hand (tests/kraft_fixtures.py).

- as a remote cluster (no local config): the local layers SKIP "remote cluster", no ZooKeeper check
  runs, the quorum leader is asked, verdict healthy, exit 0, --json says mode kraft / local false;
- as the local KRaft stack (its server.properties is the one kafkaops's settings read): the metadata
  quorum layer runs in place of the ZooKeeper layer, verdict healthy;
- broken for real: the controller stopped, a node.id that does not match its storage, a voters list
  that does not name the node's controller listener.

Every doctor run is a real `kafkaops doctor` subprocess; the database is a real PostgreSQL.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kafkaops.settings import load_settings
from tests.conftest import free_port, run_kafkaops
from tests.kraft_fixtures import KraftNode

ZOOKEEPER_ONLY = {"zookeeper.process", "zookeeper.serving", "broker.registration", "broker.controller", "broker.cluster_id", "logs.zookeeper"}
LOCAL = {"quorum.controller", "quorum.voters", "quorum.log", "broker.process", "broker.meta_properties", "logs.broker"}
LOCAL |= {"host.kafka_home", "host.java", "host.tmp_dirs", "host.disk", "host.pid_files"}


def base_env(kafkaops_home: Path, node: KraftNode) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", str(kafkaops_home)),
        "KAFKAOPS_HOME": str(kafkaops_home),
        "KAFKA_BROKER": node.broker,
        "KAFKAOPS_EMBEDDED_DB": "off",
    }
    if os.environ.get("JAVA_HOME"):
        env["JAVA_HOME"] = os.environ["JAVA_HOME"]
    return env


def healthy_pipeline(env: dict[str, str], database_url: str, cwd: Path) -> dict[str, str]:
    """A topic, the pipeline's tables with a few rows, and those rows produced: every pipeline check passes."""
    from kafkaops.procedures import db, produce
    from kafkaops.procedures.topics import ensure_topic

    env = dict(env, DATABASE_URL=database_url, KAFKA_TOPIC="kraft-" + uuid.uuid4().hex[:10])
    settings = load_settings(env=env, cwd=cwd)
    ensure_topic(settings, env["KAFKA_TOPIC"], 1, 1)
    db.init(settings, demo=True)
    db.seed(settings, 5)
    produce.produce(settings, produce.ProduceOptions())
    return env


def doctor(env: dict[str, str], cwd: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    proc = run_kafkaops(["doctor", "--json", *args], env, cwd, timeout=90)
    assert proc.stdout.strip(), proc.stderr
    return proc.returncode, json.loads(proc.stdout), proc.stderr


def by_id(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in doc["checks"]}


def not_passed(doc: dict[str, Any]) -> dict[str, str]:
    return {c["id"]: f"{c['status']}: {c['finding']}" for c in doc["checks"] if c["status"] != "PASS"}


@pytest.fixture
def elsewhere() -> Iterator[Path]:
    """A KAFKAOPS_HOME with no stack in it (no config files): the node is a cluster kafkaops did not start."""
    root = Path(tempfile.mkdtemp(prefix="kafkaops-remote-", dir="/var/tmp" if Path("/var/tmp").is_dir() else None))
    yield root
    shutil.rmtree(root, ignore_errors=True)


def test_doctor_against_a_kraft_cluster_kafkaops_did_not_start(kraft_node: KraftNode, database_url: str, elsewhere: Path) -> None:
    env = healthy_pipeline(base_env(elsewhere / "ops", kraft_node), database_url, elsewhere)
    code, doc, err = doctor(env, elsewhere)
    checks = by_id(doc)
    assert code == 0, (err, not_passed(doc))
    assert doc["verdict"]["status"] == "ok" and doc["ok"] is True, doc["verdict"]
    assert doc["schema"] == "kafkaops.doctor/1"
    assert doc["cluster"]["mode"] == "kraft" and doc["cluster"]["local"] is False, doc["cluster"]
    assert not ZOOKEEPER_ONLY & set(checks), "ZooKeeper-only checks ran against a KRaft cluster"
    for cid in LOCAL:
        c = checks[cid]
        assert c["status"] == "SKIP" and c["finding"].startswith("remote cluster"), (cid, c)
    leader = checks["quorum.leader"]
    assert leader["status"] == "PASS", leader
    assert leader["data"]["leader_id"] == 1 and [v["id"] for v in leader["data"]["voters"]] == [1], leader
    assert checks["broker.metadata"]["status"] == "PASS" and kraft_node.cluster_id in checks["broker.metadata"]["finding"]
    for layer_check in ("topic.exists", "config.advertised", "database.schema", "producer.leader", "messages.end_offsets"):
        assert checks[layer_check]["status"] == "PASS", checks[layer_check]
    assert doc["verdict"]["why"].startswith("every check passed: metadata quorum, broker")

    table = run_kafkaops(["doctor"], env, elsewhere, timeout=90)
    assert table.returncode == 0 and "verdict: healthy" in table.stdout, table.stdout + table.stderr


def local_env(node: KraftNode) -> dict[str, str]:
    """The node as the local KRaft stack: kafkaops's settings read its server.properties, logs and installation."""
    env = base_env(node.ops_home, node)
    env["KAFKAOPS_SERVER_PROPERTIES"] = str(node.config)
    env["KAFKA_HOME"] = str(node.home)
    return env


def test_doctor_on_a_local_kraft_stack_runs_the_quorum_layer(kraft_node: KraftNode, database_url: str) -> None:
    env = healthy_pipeline(local_env(kraft_node), database_url, kraft_node.root)
    kraft_node.adopt(env)  # what `kafkaops up` records for what it starts
    code, doc, err = doctor(env, kraft_node.root)
    checks = by_id(doc)
    unused = {"connect.workers", "connect.logs", "connect.connector", "connect.slot"}  # no Kafka Connect here: "not configured"
    assert code == 0 and not {k: v for k, v in not_passed(doc).items() if k not in unused}, (err, not_passed(doc))
    assert {checks[i]["status"] for i in unused} == {"SKIP"}
    assert doc["verdict"]["status"] == "ok", doc["verdict"]
    assert doc["cluster"]["mode"] == "kraft" and doc["cluster"]["local"] is True, doc["cluster"]
    assert doc["context"]["local_stack"] is True
    assert not ZOOKEEPER_ONLY & set(checks)
    ids = [c["id"] for c in doc["checks"]]
    assert ids[:4] == ["quorum.controller", "quorum.voters", "quorum.leader", "quorum.log"], ids  # in the ZooKeeper layer's place
    assert f"listens on port {kraft_node.controller_port}" in checks["quorum.controller"]["finding"]
    assert checks["quorum.voters"]["finding"] == f"node 1 (broker+controller), controller.quorum.voters=1@localhost:{kraft_node.controller_port}"
    assert checks["quorum.leader"]["finding"].startswith("quorum leader 1 (epoch "), checks["quorum.leader"]
    assert checks["broker.meta_properties"]["status"] == "PASS" and kraft_node.cluster_id in checks["broker.meta_properties"]["finding"]


def test_doctor_names_the_quorum_fault_and_its_remedy(fresh_kraft_node: KraftNode) -> None:
    node = fresh_kraft_node
    env = local_env(node)
    node.start()
    node.adopt(env)
    code, doc, _ = doctor(env, node.root, "quorum.leader", "broker.metadata")
    assert code == 0 and by_id(doc)["quorum.leader"]["status"] == "PASS", not_passed(doc)

    # The controller stopped (cleanly): the quorum layer is at fault, and `kafkaops up` is the next step.
    node.stop()
    code, doc, _ = doctor(env, node.root)
    checks = by_id(doc)
    assert code == 3
    c = checks["quorum.controller"]
    assert c["status"] == "FAIL" and c["finding"] == f"the KRaft controller is not running (nothing listens on controller port {node.controller_port})", c
    assert c["next"] == "kafkaops up" and "kafkaops up" in c["remedy"]
    assert checks["quorum.leader"]["status"] == "SKIP" and checks["quorum.leader"]["finding"] == "skipped: quorum.controller failed"
    v = doc["verdict"]
    assert (v["status"], v["layer"], v["check"], v["next"]) == ("fail", "quorum", "quorum.controller", "kafkaops up"), v

    # A node.id that does not match the formatted storage: Kafka refuses to start, and the log says why.
    node.write_config(**{"node.id": "2", "controller.quorum.voters": f"2@localhost:{node.controller_port}"})
    node.start(expect_started=False)
    code, doc, _ = doctor(env, node.root)
    checks = by_id(doc)
    assert code == 3
    assert checks["quorum.voters"]["status"] == "PASS", checks["quorum.voters"]
    c = checks["quorum.log"]
    assert c["status"] == "FAIL" and "node.id differs from the one stored in meta.properties" in c["finding"], c
    assert any("Stored node id 1 doesn't match previous node id 2" in d for d in c["details"]), c["details"]
    assert "set node.id back to the stored one" in c["remedy"]
    assert (doc["verdict"]["layer"], doc["verdict"]["check"]) == ("quorum", "quorum.log"), doc["verdict"]

    # controller.quorum.voters that does not name the node's controller listener: a clear misconfiguration.
    wrong = free_port()
    node.write_config(**{"node.id": "1", "controller.quorum.voters": f"1@localhost:{wrong}"})
    code, doc, _ = doctor(env, node.root)
    c = by_id(doc)["quorum.voters"]
    assert code == 3
    assert c["status"] == "FAIL", c
    assert c["finding"] == (
        f"quorum misconfiguration in {node.config}: controller.quorum.voters names this node as 1@localhost:{wrong}, "
        f"but its controller listener is on port {node.controller_port}: the other voters (and the brokers) cannot reach it"
    ), c["finding"]
    assert f"fix it in {node.config}" in c["remedy"]
    assert (doc["verdict"]["layer"], doc["verdict"]["check"]) == ("quorum", "quorum.voters"), doc["verdict"]


def test_status_without_a_local_stack_shows_the_kraft_cluster_and_exits_0(kraft_node: KraftNode, elsewhere: Path) -> None:
    env = base_env(elsewhere / "ops", kraft_node)
    proc = run_kafkaops(["status", "--json"], env, elsewhere, timeout=60)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["local"] is False and doc["mode"] == "kraft", doc
    [kafka] = [s for s in doc["services"] if s["service"] == "kafka"]
    assert kafka["state"] == "reachable" and kafka["pid"] is None
    assert kafka["health"]["cluster_id"] == kraft_node.cluster_id and kafka["health"]["mode"] == "kraft"
    assert kafka["health"]["broker_ids"] == [1] and kafka["health"]["controller"] is not None
