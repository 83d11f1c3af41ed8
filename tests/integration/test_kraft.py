"""The KRaft stack (Kafka 4.x) through kafkaops's own code: real nodes on free ports, no ZooKeeper.

A session fixture installs the KRaft distribution (`kafkaops install --mode kraft`'s procedure) into
KAFKAOPS_TEST_HOME once; every test writes its own configs on free ports in a temporary folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kafkaops.adapters.javaprops import write_properties
from kafkaops.procedures.layout import kraft_broker_config, kraft_combined_config, kraft_controller_config
from kafkaops.settings import DEFAULT_KRAFT_VERSION, Settings, load_settings
from tests.conftest import free_port, run_kafkaops

FORMATTED = "formatted the KRaft storage with a new cluster id"


@pytest.fixture(scope="session")
def kraft_home() -> Path:
    """Kafka 4.x installed with kafkaops's own install procedure (once per KAFKAOPS_TEST_HOME)."""
    ops_home = Path(os.environ.get("KAFKAOPS_TEST_HOME", Path.home() / ".cache" / "kafkaops-test"))
    from kafkaops.procedures.install import install

    result = install(dists_dir=ops_home / "kafka", data_dir=ops_home / "data", version=DEFAULT_KRAFT_VERSION)
    assert result.mode == "kraft"
    return result.kafka_home


@dataclass
class KraftStack:
    root: Path
    env: dict[str, str]
    broker_port: int
    controller_port: int
    log_dir: Path  # the broker's (the combined node's) log dir
    controller_dir: Path | None = None  # split layout: the controller's metadata dir

    @property
    def settings(self) -> Settings:
        return load_settings(env=self.env, cwd=self.root)

    def kafkaops(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return run_kafkaops(list(args), self.env, self.root, timeout=timeout)


def make_kraft_stack(root: Path, kafka_home: Path, *, split: bool = False) -> KraftStack:
    port, cport = free_port(), free_port()
    conf = root / "conf"
    log_dir = root / "data" / ("broker" if split else "kraft-logs")
    controller_dir = root / "data" / "controller" if split else None
    if split:
        assert controller_dir is not None
        write_properties(conf / "controller.properties", kraft_controller_config(controller_dir, cport, node_id=1))
        write_properties(conf / "server.properties", kraft_broker_config(log_dir, port, cport, node_id=2, controller_id=1))
    else:
        write_properties(conf / "server.properties", kraft_combined_config(log_dir, port, cport))
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", str(root)),
        "KAFKA_HOME": str(kafka_home),
        "KAFKAOPS_HOME": str(root / "ops"),
        "KAFKAOPS_SERVER_PROPERTIES": str(conf / "server.properties"),
        "KAFKA_BROKER": f"localhost:{port}",
        "KAFKAOPS_KAFKA_HEAP": "384m",
        "KAFKAOPS_START_TIMEOUT": "90",
        "KAFKAOPS_EMBEDDED_DB": "off",
    }
    if os.environ.get("JAVA_HOME"):
        env["JAVA_HOME"] = os.environ["JAVA_HOME"]
    return KraftStack(root, env, port, cport, log_dir, controller_dir)


def teardown(stack: KraftStack) -> None:
    from kafkaops.adapters import processes
    from kafkaops.errors import KafkaopsError
    from kafkaops.procedures import services

    settings = stack.settings.with_overrides(stop_timeout=30.0)
    try:
        services.down(settings, force=True)
    except KafkaopsError:
        pass
    for svc in (services.KAFKA, services.CONTROLLER):
        rec = services.read_pid(settings, svc)
        if rec and services.live_process(rec):
            processes.kill(rec.pid)


@pytest.fixture
def kraft_stack(tmp_path: Path, kraft_home: Path) -> Iterator[KraftStack]:
    s = make_kraft_stack(tmp_path, kraft_home)
    yield s
    teardown(s)


@pytest.fixture
def split_stack(tmp_path: Path, kraft_home: Path) -> Iterator[KraftStack]:
    s = make_kraft_stack(tmp_path, kraft_home, split=True)
    yield s
    teardown(s)


def meta(d: Path) -> dict[str, str]:
    lines = (d / "meta.properties").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))


def test_up_status_down_and_a_second_up_never_formats_again(kraft_stack: KraftStack) -> None:
    s = kraft_stack
    r = s.kafkaops("up")
    assert r.returncode == 0, r.stderr
    assert FORMATTED in r.stderr and "Kafka (KRaft) started" in r.stderr
    cluster_id = meta(s.log_dir)["cluster.id"]
    assert f"{FORMATTED} {cluster_id}" in r.stderr and meta(s.log_dir)["node.id"] == "1"

    st = s.kafkaops("status", "--json")
    assert st.returncode == 0, st.stderr
    doc = json.loads(st.stdout)
    assert doc["mode"] == "kraft" and doc["layout"] == "combined" and doc["local"] is True and doc["up"] is True
    assert doc["quorum"]["leader_id"] == 1 and doc["quorum"]["voters"] == [1]
    assert doc["nodes"] == [{"node_id": 1, "roles": ["broker", "controller"], "service": "kafka"}]
    [kafka] = doc["services"]
    assert kafka["state"] == "running" and kafka["health"]["cluster_id"] == cluster_id and kafka["health"]["broker_ids"] == [1]
    assert kafka["health"]["kafka_version"] == DEFAULT_KRAFT_VERSION
    assert "ZooKeeper" not in st.stderr

    text = s.kafkaops("status")
    assert "quorum leader 1, voters 1" in text.stderr and "node 1 (broker,controller)" in text.stdout
    logs = s.kafkaops("logs", "controller", "-n", "1000000")
    assert logs.returncode == 0 and "KafkaRaftServer" in logs.stdout  # a combined node: one process, one log

    # No local config files at all, the broker reachable: status shows that cluster (its mode asked over the wire), exit 0.
    elsewhere = run_kafkaops(
        ["status", "--json"], {**s.env, "KAFKAOPS_SERVER_PROPERTIES": str(s.root / "missing.properties"), "KAFKAOPS_HOME": str(s.root / "other")}, s.root
    )
    assert elsewhere.returncode == 0, elsewhere.stderr
    remote = json.loads(elsewhere.stdout)
    assert remote["local"] is False and remote["mode"] == "kraft" and remote["up"] is True
    assert remote["services"][0]["health"]["cluster_id"] == cluster_id and remote["services"][0]["health"]["broker_ids"] == [1]

    again = s.kafkaops("up")
    assert again.returncode == 0 and "already running" in again.stderr and FORMATTED not in again.stderr

    down = s.kafkaops("down")
    assert down.returncode == 0, down.stderr
    assert "Kafka (KRaft) stopped cleanly" in down.stderr
    stopped = s.kafkaops("status", "--json")
    assert stopped.returncode == 3
    assert json.loads(stopped.stdout)["quorum"]["leader_id"] is None  # quorum-state keeps the last leader; nothing runs

    second = s.kafkaops("up", "--no-topic")
    assert second.returncode == 0, second.stderr
    assert FORMATTED not in second.stderr and meta(s.log_dir)["cluster.id"] == cluster_id
    assert json.loads(s.kafkaops("status", "--json").stdout)["services"][0]["health"]["cluster_id"] == cluster_id
    assert s.kafkaops("down").returncode == 0


def _kafka_cmdline(stack: KraftStack) -> tuple[str, ...]:
    from kafkaops.adapters import processes
    from kafkaops.procedures import services

    rec = services.read_pid(stack.settings, services.KAFKA)
    assert rec is not None
    info = processes.proc_info(rec.pid)
    assert info is not None
    return info.cmdline


def test_class_data_sharing_made_at_exit_checked_used_and_a_truncated_archive_never_breaks_up(kraft_stack: KraftStack) -> None:
    s = kraft_stack
    cds = s.root / "ops" / "cds"
    assert s.kafkaops("up", "--no-topic").returncode == 0
    assert any(a.startswith("-XX:ArchiveClassesAtExit=") for a in _kafka_cmdline(s))
    assert s.kafkaops("down").returncode == 0
    (part,) = cds.glob("kafka-*.jsa.part")  # written by the JVM when it exited
    archive = part.with_name(part.name.removesuffix(".part"))

    assert s.kafkaops("up", "--no-topic").returncode == 0
    assert f"-XX:SharedArchiveFile={archive}" in _kafka_cmdline(s) and "-Xshare:auto" in _kafka_cmdline(s)
    assert archive.is_file() and not part.exists() and (cds / (archive.name + ".ok")).is_file()
    assert s.kafkaops("down").returncode == 0

    archive.chmod(0o644)  # the JVM writes it read-only
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 2])  # truncated: the JVM would crash on it, even with -Xshare:auto
    r = s.kafkaops("up", "--no-topic")
    assert r.returncode == 0, r.stdout + r.stderr
    assert not archive.exists() and any(a.startswith("-XX:ArchiveClassesAtExit=") for a in _kafka_cmdline(s))
    assert s.kafkaops("down").returncode == 0

    s.env["KAFKAOPS_CDS"] = "off"
    assert s.kafkaops("up", "--no-topic").returncode == 0
    assert not any("Archive" in a or "Xshare" in a for a in _kafka_cmdline(s))


def test_an_unformatted_nonempty_log_dir_is_refused_before_start(kraft_stack: KraftStack) -> None:
    s = kraft_stack
    s.log_dir.mkdir(parents=True)
    (s.log_dir / "left-over.txt").write_text("not Kafka's\n")
    r = s.kafkaops("up")
    assert r.returncode == 5, r.stderr
    assert f"error: cannot start Kafka (KRaft): {s.log_dir} is not empty but was never formatted (no meta.properties)" in r.stderr
    assert "kafkaops reset --confirm" in r.stderr and "see: kafkaops runbook failures kraft-storage" in r.stderr
    assert not (s.root / "ops" / "run" / "kafka.json").exists()  # nothing was started
    assert sorted(p.name for p in s.log_dir.iterdir()) == ["left-over.txt"]  # nothing was formatted either


def test_a_foreign_cluster_log_dir_is_refused_before_start(kraft_stack: KraftStack) -> None:
    s = kraft_stack
    assert s.kafkaops("up", "--no-topic").returncode == 0
    assert s.kafkaops("down").returncode == 0
    ours = meta(s.log_dir)["cluster.id"]
    # Another cluster's dir in its place: formatted by Kafka's own tool with another id.
    import shutil

    shutil.rmtree(s.log_dir)
    foreign = "AAAAAAAAAAAAAAAAAAAAAA"
    fmt = subprocess.run(
        [
            "java",
            "-cp",
            str(Path(s.env["KAFKA_HOME"]) / "libs" / "*"),
            "kafka.tools.StorageTool",
            "format",
            "-t",
            foreign,
            "-c",
            s.env["KAFKAOPS_SERVER_PROPERTIES"],
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr
    r = s.kafkaops("up")
    assert r.returncode == 5, r.stderr
    assert f"belongs to cluster {foreign}, but kafkaops formatted this stack as cluster {ours} (a foreign cluster's log dir)" in r.stderr
    assert "kafkaops reset --confirm" in r.stderr
    assert not (s.root / "ops" / "run" / "kafka.json").exists()


def test_a_taken_controller_port_is_refused_naming_its_owner(kraft_stack: KraftStack) -> None:
    import socket

    s = kraft_stack
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", s.controller_port))
        holder.listen()
        r = s.kafkaops("up", "--no-topic")
    assert r.returncode == 5, r.stderr
    assert f"error: cannot start kafka: port {s.controller_port} is in use by python" in r.stderr
    assert "see: kafkaops runbook failures port-in-use" in r.stderr
    assert not (s.root / "ops" / "run" / "kafka.json").exists() and not s.log_dir.exists()  # nothing started, nothing formatted


def test_topics_produce_consume_and_groups_through_the_kraft_stack(kraft_stack: KraftStack, database_url: str) -> None:
    s = kraft_stack
    s.env.update({"DATABASE_URL": database_url, "KAFKA_TOPIC": "kraft-events"})
    assert s.kafkaops("up").returncode == 0
    other = "kraft-" + uuid.uuid4().hex[:8]
    created = s.kafkaops("topics", "create", other, "--partitions", "2")
    assert created.returncode == 0, created.stderr
    listed = json.loads(s.kafkaops("topics", "list", "--json").stdout)
    assert {"kraft-events", other} <= {t["name"] for t in listed["topics"]}

    for cmd in (["db", "init", "--demo"], ["db", "seed", "7"]):
        r = s.kafkaops(*cmd)
        assert r.returncode == 0, r.stderr
    produced = s.kafkaops("produce")
    assert produced.returncode == 0, produced.stderr
    assert produced.stderr.rstrip().endswith("Sent 7 events to Kafka; offset now 7")

    group = "kraft-g-" + uuid.uuid4().hex[:6]
    consumed = s.kafkaops("consume", "--group", group, "--from-beginning", "--max-messages", "7", "--timeout", "60")
    assert consumed.returncode == 0, consumed.stderr
    assert len([line for line in consumed.stdout.splitlines() if line.strip()]) >= 7

    groups = s.kafkaops("groups", "describe", group, "--json")
    assert groups.returncode == 0, groups.stderr
    assert '"lag": 0' in groups.stdout.replace('"lag":0', '"lag": 0')
    assert s.kafkaops("down").returncode == 0


def test_the_first_group_consume_on_a_fresh_kraft_cluster(kraft_stack: KraftStack) -> None:
    """Regression: the first group request on a fresh cluster creates __consumer_offsets, and until its
    coordinator has loaded the broker answers NOT_COORDINATOR; reading the group's offsets retries that."""
    s = kraft_stack
    s.env["KAFKA_TOPIC"] = "kraft-first"
    assert s.kafkaops("up").returncode == 0
    r = s.kafkaops("consume", "--group", "first", "--from-beginning", "--timeout", "3")
    assert "Not coordinator" not in r.stderr
    assert r.returncode == 0, r.stderr


def test_the_split_layout_starts_the_controller_first_and_stops_it_last(split_stack: KraftStack) -> None:
    s = split_stack
    r = s.kafkaops("up", "--no-topic")
    assert r.returncode == 0, r.stderr
    assert r.stderr.index("KRaft controller started") < r.stderr.index("Kafka (KRaft) started")
    assert s.controller_dir is not None
    cluster_id = meta(s.controller_dir)["cluster.id"]
    assert meta(s.log_dir)["cluster.id"] == cluster_id and meta(s.log_dir)["node.id"] == "2"

    doc = json.loads(s.kafkaops("status", "--json").stdout)
    assert doc["mode"] == "kraft" and doc["layout"] == "split" and doc["up"] is True
    assert doc["quorum"]["leader_id"] == 1
    assert doc["nodes"] == [{"node_id": 1, "roles": ["controller"], "service": "controller"}, {"node_id": 2, "roles": ["broker"], "service": "kafka"}]
    assert [(x["service"], x["state"]) for x in doc["services"]] == [("controller", "running"), ("kafka", "running")]
    assert doc["services"][1]["health"]["broker_ids"] == [2]
    assert "KafkaRaftServer" in s.kafkaops("logs", "controller", "-n", "1000000").stdout

    down = s.kafkaops("down")
    assert down.returncode == 0, down.stderr
    assert down.stderr.index("Kafka (KRaft) stopped cleanly") < down.stderr.index("KRaft controller stopped")
    assert not (s.root / "ops" / "run" / "controller.json").exists() and not (s.root / "ops" / "run" / "kafka.json").exists()
