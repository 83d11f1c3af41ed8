"""Which cluster is the local stack: two real stacks on one machine, settings pointing at the other one.

Stack A is the one kafkaops's home runs (its pid files, its configs); stack B is a second stack on
other ports of localhost (as a tunnel or a second checkout would be). With KAFKA_BROKER and
ZOOKEEPER_CONNECT naming B, nothing may compare A's files with B's ZooKeeper, offer to wipe A, or
show A's pids beside B's cluster id. Also: status against a cluster with no local install at all,
and a garbage meta.properties followed from doctor's verdict to a working `kafkaops up`.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kafkaops.adapters import zookeeper as zk
from kafkaops.adapters.java import find_java
from kafkaops.adapters.javaprops import read_properties, write_properties
from kafkaops.procedures import services
from tests.conftest import Stack, make_stack, run_kafkaops, teardown_stack


@pytest.fixture(scope="module")
def two_stacks(tmp_path_factory: pytest.TempPathFactory, kafka_home: Path) -> Iterator[tuple[Stack, Stack]]:
    a = make_stack(tmp_path_factory.mktemp("stack-a"), kafka_home)
    b = make_stack(tmp_path_factory.mktemp("stack-b"), kafka_home)
    try:
        services.up(a.settings)
        services.up(b.settings)
        yield a, b
    finally:
        teardown_stack(a)
        teardown_stack(b)


def at_b(a: Stack, b: Stack) -> dict[str, str]:
    """Stack A's environment (its home, its configs) with the addresses of stack B."""
    env = dict(a.env)
    env["KAFKA_BROKER"] = b.broker
    env["ZOOKEEPER_CONNECT"] = f"localhost:{b.zk_port}"
    return env


def cluster_id(stack: Stack) -> str:
    with zk.connect(f"localhost:{stack.zk_port}") as client:
        cid = zk.cluster_id(client)
    assert cid
    return cid


def pids(stack: Stack) -> set[int]:
    out = set()
    for svc in (services.ZOOKEEPER, services.KAFKA):
        rec = services.read_pid(stack.settings, svc)
        assert rec is not None and services.live_process(rec) is not None, f"{svc} of {stack.root} is not running"
        out.add(rec.pid)
    return out


def by_id(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in doc["checks"]}


def test_doctor_pointed_at_another_stack_on_localhost_does_not_judge_the_local_files(two_stacks: tuple[Stack, Stack]) -> None:
    a, b = two_stacks
    a_id, b_id = cluster_id(a), cluster_id(b)
    assert a_id != b_id
    proc = run_kafkaops(["doctor", "--json"], at_b(a, b), a.root, timeout=60)
    doc = json.loads(proc.stdout)
    checks = by_id(doc)
    c = checks["broker.cluster_id"]
    assert c["status"] == "SKIP", c
    assert c["finding"].startswith(f"remote cluster: KAFKA_BROKER={b.broker} is not the local stack's broker"), c["finding"]
    assert f"PLAINTEXT://localhost:{a.broker_port}" in c["finding"]
    for local in ("zookeeper.process", "broker.process", "broker.meta_properties", "logs.zookeeper", "logs.broker", "host.disk", "host.pid_files"):
        assert checks[local]["status"] == "SKIP", (local, checks[local])
    assert checks["broker.metadata"]["status"] == "PASS" and f"cluster id {b_id}" in checks["broker.metadata"]["finding"]
    assert not [x for x in doc["checks"] if "reset" in (x["next"] or "") + (x["remedy"] or "")]
    assert "reset" not in json.dumps(doc["verdict"])
    assert doc["context"]["local_stack"] is False
    assert a_id not in proc.stdout  # nothing of A's was read as if it were B's

    # The same home without the override is stack A, and its files are checked.
    proc = run_kafkaops(["doctor", "--json"], a.env, a.root, timeout=60)
    checks = by_id(json.loads(proc.stdout))
    assert checks["broker.cluster_id"]["status"] == "PASS"
    assert checks["broker.cluster_id"]["finding"] == f"cluster id {a_id} in every log dir's meta.properties matches ZooKeeper"
    assert checks["broker.process"]["status"] == "PASS"


def test_local_configs_whose_ports_another_cluster_holds_are_not_compared_with_it(two_stacks: tuple[Stack, Stack], tmp_path: Path) -> None:
    """The config's own ports answered by a cluster kafkaops did not start (a tunnel, a stack started by hand)."""
    a, b = two_stacks
    c = make_stack(tmp_path, Path(a.env["KAFKA_HOME"]))
    conf = Path(c.env["KAFKAOPS_SERVER_PROPERTIES"])
    props = dict(read_properties(conf).values)
    props.update({"listeners": f"PLAINTEXT://localhost:{b.broker_port}", "advertised.listeners": f"PLAINTEXT://localhost:{b.broker_port}",
                  "zookeeper.connect": f"localhost:{b.zk_port}"})  # fmt: skip
    write_properties(conf, props)
    zconf = Path(c.env["KAFKAOPS_ZOOKEEPER_PROPERTIES"])
    write_properties(zconf, {**read_properties(zconf).values, "clientPort": str(b.zk_port)})
    c.log_dir.mkdir(parents=True)
    shutil.copy(a.log_dir / "meta.properties", c.log_dir / "meta.properties")  # this stack's data: cluster A
    env = {k: v for k, v in c.env.items() if k not in ("KAFKA_BROKER", "ZOOKEEPER_CONNECT")}  # from its configs
    proc = run_kafkaops(["doctor", "--json"], env, c.root, timeout=60)
    doc = json.loads(proc.stdout)
    checks = by_id(doc)
    assert checks["broker.cluster_id"]["status"] == "SKIP", checks["broker.cluster_id"]
    assert "which kafkaops did not start: the local meta.properties is not compared" in checks["broker.cluster_id"]["finding"]
    assert checks["zookeeper.process"]["status"] == "WARN" and "not started by kafkaops" in checks["zookeeper.process"]["finding"]
    assert "reset" not in json.dumps(doc["verdict"])
    reset = run_kafkaops(["reset", "--dry-run"], env, c.root, timeout=60)
    assert reset.returncode == 5 and "NOT started by kafkaops" in reset.stdout


def test_reset_refuses_when_the_settings_name_another_stack(two_stacks: tuple[Stack, Stack]) -> None:
    a, b = two_stacks
    before = pids(a)
    segments = sorted(p.name for p in a.log_dir.rglob("*") if p.is_file())
    env = at_b(a, b)
    for args in (["reset", "--dry-run"], ["reset", "--confirm", "--yes"]):
        proc = run_kafkaops(args, env, a.root, timeout=60)
        assert proc.returncode == 5, (args, proc.stdout, proc.stderr)
        assert (
            f"error: reset refused: the configured cluster (KAFKA_BROKER={b.broker}, ZOOKEEPER_CONNECT=localhost:{b.zk_port}) "
            f"is not the local stack: KAFKA_BROKER={b.broker} is not the local stack's broker"
        ) in proc.stderr, proc.stderr
        assert "kafkaops resets only the stack it runs here" in proc.stderr
    assert pids(a) == before  # nothing was stopped
    assert sorted(p.name for p in a.log_dir.rglob("*") if p.is_file()) == segments  # nothing was deleted


def test_status_pointed_at_another_stack_shows_that_cluster_and_no_local_pid(two_stacks: tuple[Stack, Stack]) -> None:
    a, b = two_stacks
    a_pids, b_id = pids(a), cluster_id(b)
    proc = run_kafkaops(["status", "--json"], at_b(a, b), a.root, timeout=60)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert not [s for s in doc["services"] if s["pid"] in a_pids or s["managed"]]
    assert doc["local"] is False and doc["up"] is True
    zk_s, kafka_s = doc["services"]
    assert (zk_s["service"], zk_s["state"], zk_s["port"]) == ("zookeeper", "reachable", b.zk_port)
    assert (kafka_s["service"], kafka_s["state"], kafka_s["port"]) == ("kafka", "reachable", b.broker_port)
    assert kafka_s["health"]["cluster_id"] == b_id and kafka_s["health"]["broker_ids"] == [0]
    table = run_kafkaops(["status"], at_b(a, b), a.root, timeout=60)
    assert table.returncode == 0
    assert not [p for p in a_pids if str(p) in table.stdout]
    assert f"cluster {b_id}" in table.stdout
    assert f"showing the configured cluster (KAFKA_BROKER={b.broker}, ZOOKEEPER_CONNECT=localhost:{b.zk_port}), not the local stack" in table.stderr

    # Pointed at itself, the same home shows its own pids and its own cluster id.
    proc = run_kafkaops(["status", "--json"], a.env, a.root, timeout=60)
    doc = json.loads(proc.stdout)
    assert doc["local"] is True
    assert {s["pid"] for s in doc["services"]} == a_pids
    assert doc["services"][1]["health"]["cluster_id"] == cluster_id(a)


def test_status_without_a_local_install_reports_the_cluster(two_stacks: tuple[Stack, Stack], tmp_path: Path) -> None:
    _, b = two_stacks
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "KAFKAOPS_HOME": str(tmp_path / "empty-home"), "KAFKA_BROKER": b.broker}
    proc = run_kafkaops(["status", "--json"], env, tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["up"] is True and doc["local"] is False
    [kafka_s] = doc["services"]  # ZOOKEEPER_CONNECT was not set: no guessed localhost:2181, no stopped embedded database
    assert (kafka_s["service"], kafka_s["state"], kafka_s["pid"]) == ("kafka", "reachable", None)
    assert kafka_s["health"]["cluster_id"] == cluster_id(b)
    assert kafka_s["health"]["broker_ids"] == [0]
    assert kafka_s["health"]["topic"] == {"name": "db_live_events", "exists": True, "partitions": 1}

    env["ZOOKEEPER_CONNECT"] = f"localhost:{b.zk_port}"
    table = run_kafkaops(["status"], env, tmp_path, timeout=60)
    assert table.returncode == 0, table.stderr
    assert "error:" not in table.stderr
    assert "not the local stack: no local stack is configured here (config file not found: " in table.stderr
    assert f"cluster {cluster_id(b)}" in table.stdout and "topic db_live_events (1 partition(s))" in table.stdout
    assert "standalone" in table.stdout  # ZooKeeper, once it is configured


def test_garbage_meta_properties_is_named_and_the_verdict_leads_to_a_working_up(stack: Stack) -> None:
    settings = stack.settings
    services.up(settings, ensure_topic=False)
    zk_id = cluster_id(stack)
    services.down(settings)
    meta = stack.log_dir / "meta.properties"
    meta.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR garbage")

    # ZooKeeper alone, as after a half-failed start.
    services.start_zookeeper(settings, services.read_stack_config(settings), find_java(settings.java).path, lambda _m: None)
    proc = run_kafkaops(["doctor", "--json"], stack.env, stack.root, timeout=60)
    assert proc.returncode == 3
    doc = json.loads(proc.stdout)
    assert "no meta.properties" not in proc.stdout
    want = f"write {meta} with version=0, broker.id=0, cluster.id={zk_id}, then kafkaops up"
    assert (doc["verdict"]["check"], doc["verdict"]["next"]) == ("broker.meta_properties", want)
    checks = by_id(doc)
    c = checks["broker.meta_properties"]
    assert c["status"] == "FAIL", c
    assert c["finding"] == f"{meta} is not a properties file (binary content, 24 bytes)"
    assert checks["broker.cluster_id"]["status"] == "SKIP"

    # `kafkaops up` on the garbage says what is wrong, naming the file (not "disk full, permissions").
    up = run_kafkaops(["up", "--no-topic"], stack.env, stack.root, timeout=120)
    assert up.returncode != 0
    assert f"{meta} is not a properties file" in up.stderr, up.stderr
    assert "disk full" not in up.stderr

    # Doing what the verdict said makes `kafkaops up` work.
    meta.write_text(f"version=0\nbroker.id=0\ncluster.id={zk_id}\n", encoding="utf-8")
    up = run_kafkaops(["up"], stack.env, stack.root, timeout=180)
    assert up.returncode == 0, up.stderr
    proc = run_kafkaops(["doctor", "--json"], stack.env, stack.root, timeout=60)
    checks = by_id(json.loads(proc.stdout))
    assert checks["broker.meta_properties"]["status"] == "PASS" and checks["broker.cluster_id"]["status"] == "PASS"
