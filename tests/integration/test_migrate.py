"""kafkaops migrate --to kraft on real jars: a ZooKeeper-mode 3.9.2 stack with data, migrated, then checked as a user would.

Before: 3 topics (one compacted, one with 3 partitions, one with a config override), 10,000 rows sent
by `kafkaops produce`, messages with headers, a consumer group with committed offsets. After
`migrate --to kraft --yes`: every message with the same key, value, headers and offset; the group's
offsets, the override and the cluster id unchanged; ZooKeeper stopped; doctor healthy in KRaft mode;
the next `kafkaops produce` continues with no gap and no duplicate. Also: a rollback from phase 4.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kafkaops.adapters import kafka, kafka_configs, kafka_groups
from kafkaops.adapters import zookeeper as zk
from kafkaops.procedures import db, services
from kafkaops.settings import DEFAULT_KRAFT_VERSION, load_settings
from tests.conftest import Stack, make_stack, run_kafkaops, teardown_stack
from tests.integration.test_kraft import kraft_home

__all__ = ["kraft_home"]  # the session fixture, shared with test_kraft.py

THREE, COMPACT, OVERRIDE = "mig-three", "mig-compact", "mig-override"
GROUP = "mig-group"


def kraft_env(stack: Stack) -> dict[str, str]:
    """The environment of a user who relies on the stack record (no config paths set)."""
    return {k: v for k, v in stack.env.items() if k not in ("KAFKAOPS_SERVER_PROPERTIES", "KAFKAOPS_ZOOKEEPER_PROPERTIES")}


@pytest.fixture
def zk_stack(tmp_path: Path, kafka_home: Path, database_url: str) -> Iterator[Stack]:
    s = make_stack(tmp_path, kafka_home)
    s.env["DATABASE_URL"] = database_url
    s.env["KAFKA_TOPIC"] = THREE
    services.up(s.settings, ensure_topic=False)
    yield s
    kraft = load_settings(env=kraft_env(s), cwd=s.root)
    if kraft.kraft:  # migrated (or half-way): stop the KRaft nodes kafkaops started
        try:
            services.down(kraft.with_overrides(stop_timeout=30.0), force=True)
        except Exception:  # noqa: BLE001 - teardown: the ZooKeeper-mode teardown below still runs
            pass
    from kafkaops.procedures.migrate import running

    for service in (services.KAFKA, services.CONTROLLER):  # a migration stopped half-way
        running.stop(s.settings.with_overrides(stop_timeout=30.0), service, lambda _m: None)
    teardown_stack(s)


def fill(stack: Stack) -> None:
    """The data: topics, 10,000 rows through `kafkaops produce`, messages with headers, a group's offsets."""
    settings = stack.settings
    client = kafka.admin(settings)
    kafka.create_topic(client, THREE, 3, 1, {}, 20)
    kafka.create_topic(client, COMPACT, 1, 1, {"cleanup.policy": "compact"}, 20)
    kafka.create_topic(client, OVERRIDE, 2, 1, {"retention.ms": "86400000"}, 20)
    db.init(settings, demo=True)
    db.seed(settings, 10_000)
    r = run_kafkaops(["produce"], stack.env, stack.root)
    assert r.returncode == 0, r.stderr
    producer = kafka.producer(settings, kafka.client_config(settings))
    for i in range(300):
        for topic in (COMPACT, OVERRIDE):
            producer.produce(topic, key=f"k{i % 50}".encode(), value=f"v{i}".encode(), headers=[("h", f"{i}".encode()), ("trace", uuid.uuid4().bytes)])
    assert producer.flush(30) == 0
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(kafka.client_config(settings, **{"group.id": GROUP, "enable.auto.commit": False}))
    consumer.commit(offsets=[TopicPartition(THREE, 0, 1000), TopicPartition(THREE, 2, 7), TopicPartition(COMPACT, 0, 120)], asynchronous=False)
    consumer.close()


def read_all(settings: Any, topic: str) -> list[tuple[int, int, bytes | None, bytes | None, list[tuple[str, bytes]]]]:
    """Every message of a topic: (partition, offset, key, value, headers), read to the end offsets."""
    from confluent_kafka import Consumer, TopicPartition

    md = kafka.metadata(settings, timeout=20)
    consumer = Consumer(kafka.client_config(settings, **{"group.id": "read-" + uuid.uuid4().hex, "enable.auto.commit": False}))
    try:
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=20)[1] for p in md.topics[topic].partitions}
        consumer.assign([TopicPartition(topic, p, 0) for p, end in ends.items() if end > 0])
        out = []
        deadline = time.monotonic() + 60
        while sum(1 for m in out) < sum(ends.values()):
            assert time.monotonic() < deadline, f"{topic}: read {len(out)} of {sum(ends.values())}"
            for m in consumer.consume(1000, timeout=1.0):
                assert m.error() is None, m.error()
                out.append((m.partition(), m.offset(), m.key(), m.value(), list(m.headers() or [])))
        return sorted(out)
    finally:
        consumer.close()


def facts(settings: Any) -> dict[str, Any]:
    client = kafka.admin(settings)
    override = {c.name: c.value for c in kafka_configs.topic_configs(client, OVERRIDE, 20) if c.name in ("retention.ms", "cleanup.policy")}
    compact = {c.name: c.value for c in kafka_configs.topic_configs(client, COMPACT, 20) if c.name == "cleanup.policy"}
    return {
        "cluster_id": kafka.metadata(settings, timeout=20).cluster_id,
        "messages": {t: read_all(settings, t) for t in (THREE, COMPACT, OVERRIDE)},
        "offsets": kafka_groups.committed_offsets(client, GROUP, 20),
        "configs": (override, compact),
    }


def test_migrate_to_kraft_then_upgrade_keeps_every_message_offset_and_config(zk_stack: Stack, kraft_home: Path) -> None:
    fill(zk_stack)
    before = facts(zk_stack.settings)
    assert len(before["messages"][THREE]) == 10_000 and before["offsets"][(THREE, 0)] == 1000

    dry = run_kafkaops(["migrate", "--to", "kraft", "--dry-run", "--json"], zk_stack.env, zk_stack.root)
    assert dry.returncode == 0, dry.stderr
    plan = json.loads(dry.stdout)
    assert plan["cluster_id"] == before["cluster_id"] and all(c["ok"] for c in plan["checks"])
    assert not (zk_stack.root / "ops" / "migration").exists()  # a dry run writes nothing

    # kafkaops is killed (SIGKILL) in phase 3, once phase 2 is recorded, and every service stops (a reboot);
    # the same command starts what phase 2 left running and resumes from there
    t0 = time.monotonic()
    state_file = zk_stack.root / "ops" / "migration" / "state.json"
    proc = subprocess.Popen([sys.executable, "-m", "kafkaops", "migrate", "--to", "kraft", "--yes"], env=zk_stack.env, cwd=zk_stack.root,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)  # fmt: skip
    try:
        while not (state_file.is_file() and json.loads(state_file.read_text())["phase"] >= 2):
            assert proc.poll() is None, "migrate ended before phase 2 was recorded"
            assert time.monotonic() - t0 < 300
            time.sleep(0.05)
    finally:
        proc.kill()
        proc.wait()
    assert json.loads(state_file.read_text())["phase"] == 2
    from kafkaops.procedures.migrate import running

    for service in (services.KAFKA, services.CONTROLLER, services.ZOOKEEPER):  # and then the machine reboots: nothing runs
        running.stop(zk_stack.settings, service, lambda _m: None)
    status = run_kafkaops(["status"], zk_stack.env, zk_stack.root)
    assert "migrating (phase 2 of 5)" in status.stderr, status.stderr
    doctor = json.loads(run_kafkaops(["doctor", "--json"], zk_stack.env, zk_stack.root).stdout)
    finding = next(c for c in doctor["checks"] if c["id"] == "migration.state")
    assert finding["finding"].startswith("migrating (phase 2 of 5)"), finding

    r = run_kafkaops(["migrate", "--to", "kraft", "--yes", "--json"], zk_stack.env, zk_stack.root, timeout=600)
    wall = time.monotonic() - t0
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert (result["status"], result["ran"]) == ("finalized", [3, 4, 5])
    print(f"migration wall time (killed in phase 3, services stopped, resumed): {wall:.1f}s")  # reported with -s

    env = kraft_env(zk_stack)
    settings = load_settings(env=env, cwd=zk_stack.root)
    assert settings.kraft and settings.server_properties == zk_stack.root / "ops" / "migration" / "kraft" / "server.properties"
    after = facts(settings)
    assert after == before
    assert zk.srvr("127.0.0.1", zk_stack.zk_port) is None  # ZooKeeper stopped
    assert (zk_stack.zk_data / "version-2").is_dir()  # its data left as it was
    assert "zookeeper.connect" in (zk_stack.root / "conf" / "server.properties").read_text()  # the user's config not rewritten

    doctor = run_kafkaops(["doctor", "--json"], env, zk_stack.root)
    doc = json.loads(doctor.stdout)
    assert doc["cluster"]["mode"] == "kraft" and doc["verdict"]["status"] != "fail", doc["verdict"]
    status = run_kafkaops(["status"], env, zk_stack.root)
    assert status.returncode == 0 and "KRaft mode (split layout)" in status.stdout + status.stderr

    db.seed(settings, 100)
    r = run_kafkaops(["produce"], env, zk_stack.root)
    assert r.returncode == 0, r.stderr
    msgs = read_all(settings, THREE)
    ids = sorted(int(json.loads(v)["after"]["id"]) for _p, _o, _k, v, _h in msgs if v)
    assert ids == list(range(1, 10_101))  # no gap, no duplicate
    for part in (0, 1, 2):  # offsets continue where they were
        offsets = [o for p, o, *_ in msgs if p == part]
        assert offsets == list(range(len(offsets)))

    # The whole path: the migrated stack (KRaft on the 3.9 binaries) moved on to Kafka 4.x.
    # 4.x is the install KAFKAOPS_TEST_HOME holds, linked in so the test does not resolve it again.
    dists = zk_stack.root / "ops" / "kafka"
    dists.mkdir(parents=True, exist_ok=True)
    (dists / DEFAULT_KRAFT_VERSION).symlink_to(kraft_home, target_is_directory=True)
    env = {k: v for k, v in env.items() if k != "KAFKA_HOME"}  # a user relying on the stack record alone
    pre_upgrade = facts(load_settings(env=env, cwd=zk_stack.root))
    t0 = time.monotonic()
    r = run_kafkaops(["upgrade", "--version", DEFAULT_KRAFT_VERSION, "--yes", "--json"], env, zk_stack.root, timeout=600)
    assert r.returncode == 0, r.stderr
    print(f"upgrade of the migrated stack to {DEFAULT_KRAFT_VERSION}: {time.monotonic() - t0:.1f}s")
    settings = load_settings(env=env, cwd=zk_stack.root)
    assert settings.kraft and settings.kafka_version == DEFAULT_KRAFT_VERSION
    assert facts(settings) == pre_upgrade and pre_upgrade["cluster_id"] == before["cluster_id"]
    assert zk.srvr("127.0.0.1", zk_stack.zk_port) is None and (zk_stack.zk_data / "version-2").is_dir()
    doc = json.loads(run_kafkaops(["doctor", "--json"], env, zk_stack.root, timeout=120).stdout)
    assert doc["cluster"]["mode"] == "kraft" and doc["verdict"]["status"] != "fail", doc["verdict"]


def test_rollback_from_phase_4_returns_a_working_zookeeper_stack(zk_stack: Stack) -> None:
    settings = zk_stack.settings
    client = kafka.admin(settings)
    kafka.create_topic(client, THREE, 3, 1, {}, 20)  # KAFKA_TOPIC: doctor (the preflight) wants the pipeline's topic
    kafka.create_topic(client, COMPACT, 1, 1, {"cleanup.policy": "compact"}, 20)
    producer = kafka.producer(settings, kafka.client_config(settings))
    for i in range(200):
        producer.produce(COMPACT, key=f"k{i}".encode(), value=f"v{i}".encode(), headers=[("h", b"x")])
    assert producer.flush(30) == 0
    before = read_all(settings, COMPACT)

    r = run_kafkaops(["migrate", "--to", "kraft"], zk_stack.env, zk_stack.root, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "migrating (phase 4 of 5)" in r.stderr
    status = run_kafkaops(["status"], zk_stack.env, zk_stack.root)
    assert "migrating (phase 4 of 5)" in status.stdout + status.stderr

    assert run_kafkaops(["up"], zk_stack.env, zk_stack.root).returncode == 5  # a migration's stack is not started by up
    down = run_kafkaops(["down"], zk_stack.env, zk_stack.root)  # ... but down stops it, whatever config each service runs on
    assert down.returncode == 0, down.stderr
    assert zk.srvr("127.0.0.1", zk_stack.zk_port) is None and not services.status(settings).up

    r = run_kafkaops(["migrate", "--rollback"], zk_stack.env, zk_stack.root, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "rolled back to ZooKeeper mode from phase 4" in r.stderr
    st = services.status(settings)
    assert st.up and getattr(st, "mode", None) == "zookeeper"
    assert read_all(settings, COMPACT) == before
    with zk.connect(settings.zookeeper_connect) as zc:
        assert zk.migration_znode(zc) is None and zk.controller_id(zc) == 0  # the broker is the ZooKeeper controller again
    assert (zk_stack.root / "ops" / "data" / "kraft-controller" / "meta.properties").is_file()  # kept


def test_sigkill_in_every_phase_then_resume_ends_in_the_same_verified_state(zk_stack: Stack) -> None:
    """kafkaops killed (SIGKILL) once during each of phases 2 to 5, the services left as they were; each
    time the same command resumes, and the last run ends finalized with nothing lost."""
    fill(zk_stack)
    before = facts(zk_stack.settings)
    state_file = zk_stack.root / "ops" / "migration" / "state.json"
    killed_in: list[int] = []
    rng = random.Random(14)
    for recorded in (1, 2, 3, 4):  # killed once phase N is recorded, at a random point of phase N + 1
        t0 = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "kafkaops", "migrate", "--to", "kraft", "--yes"], env=zk_stack.env, cwd=zk_stack.root,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)  # fmt: skip
        try:
            while not (state_file.is_file() and json.loads(state_file.read_text())["phase"] >= recorded):
                assert proc.poll() is None, f"migrate ended before phase {recorded} was recorded"
                assert time.monotonic() - t0 < 300
                time.sleep(0.02)
            time.sleep(rng.uniform(0.0, 1.0))
            assert proc.poll() is None, "migrate finished before it could be killed"
        finally:
            proc.kill()
            proc.wait()
        killed_in.append(json.loads(state_file.read_text())["phase"] + 1)
    print(f"killed during phases {killed_in}")
    assert sorted(set(killed_in)) == killed_in and killed_in[-1] == 5, killed_in  # each kill in a later phase, the last in finalize
    r = run_kafkaops(["migrate", "--to", "kraft", "--yes", "--json"], zk_stack.env, zk_stack.root, timeout=600)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["status"] == "finalized"
    settings = load_settings(env=kraft_env(zk_stack), cwd=zk_stack.root)
    assert settings.kraft and facts(settings) == before
    assert zk.srvr("127.0.0.1", zk_stack.zk_port) is None and (zk_stack.zk_data / "version-2").is_dir()
    doc = json.loads(run_kafkaops(["doctor", "--json"], kraft_env(zk_stack), zk_stack.root, timeout=120).stdout)
    assert doc["cluster"]["mode"] == "kraft" and doc["verdict"]["status"] != "fail", doc["verdict"]
