"""kafkaops upgrade on real jars: a split KRaft stack on the 3.9.2 binaries (what `migrate` leaves) moved to 4.4.0.

The stack is started by `kafkaops up` on 3.9.2 (KAFKA_HOME = the 3.9.2 install of KAFKAOPS_TEST_HOME,
a broker-only server.properties with controller.properties beside it), given topics (one compacted,
one with 3 partitions and a config override), keyed messages with headers and a committed group
offset; then `kafkaops upgrade --version 4.4.0 --yes`. Kafka 4.4.0 is the one KAFKAOPS_TEST_HOME
already holds, linked into the stack's KAFKAOPS_HOME so the test does not resolve it again (the
install step itself is the install procedure, tested in test_install.py).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kafkaops.adapters.features import FeatureTool
from kafkaops.settings import DEFAULT_KRAFT_VERSION
from kafkaops.stack_record import read_stack_record
from tests.conftest import make_stack, run_kafkaops
from tests.integration.test_kraft import KraftStack, kraft_home
from tests.kraft_fixtures import started_kraft_stack

__all__ = ["kraft_home"]  # the session fixture, shared with test_kraft.py

TOPICS = {"orders": 3, "compacted": 1, "plain": 1, "db_live_events": 1}
GROUP = "upgrade-readers"


@pytest.fixture
def bridge_stack(kafka_home: Path, kraft_home: Path, database_url: str) -> Iterator[KraftStack]:
    """A split KRaft stack running on Kafka 3.9.2, under /var/tmp (doctor rightly warns about data under /tmp)."""

    def link_the_new_version(root: Path) -> None:  # installed already: not resolved again
        dists = root / "ops" / "kafka"
        dists.mkdir(parents=True)
        (dists / DEFAULT_KRAFT_VERSION).symlink_to(kraft_home, target_is_directory=True)

    with started_kraft_stack(kafka_home, database_url, split=True, prefix="kafkaops-upgrade-", prepare=link_the_new_version) as stack:
        yield stack


def fill(broker: str) -> None:
    from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, NewTopic

    admin = AdminClient({"bootstrap.servers": broker})
    topics = [NewTopic(t, n, 1, config={"cleanup.policy": "compact"} if t == "compacted" else {}) for t, n in TOPICS.items() if t != "db_live_events"]
    for f in admin.create_topics(topics, operation_timeout=30).values():
        f.result(30)
    entry = ConfigEntry("retention.ms", "123456789", incremental_operation=AlterConfigOpType.SET)
    res = ConfigResource(ConfigResource.Type.TOPIC, "orders", incremental_configs=[entry])
    for f in admin.incremental_alter_configs([res]).values():  # the override kafkaops must keep
        f.result(30)
    p = Producer({"bootstrap.servers": broker, "linger.ms": 5, "log_level": 2})
    for i in range(300):
        for t in list(TOPICS)[:3]:
            p.produce(t, key=f"k{i % 40}".encode(), value=f"{t}-{i}".encode(), headers=[("n", str(i).encode())])
    assert p.flush(30) == 0
    c = Consumer({"bootstrap.servers": broker, "group.id": GROUP, "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    c.assign([TopicPartition("orders", p_, 0) for p_ in range(3)])
    got = 0
    deadline = time.monotonic() + 60
    while got < 250 and time.monotonic() < deadline:
        got += sum(1 for m in c.consume(100, 1.0) if m.error() is None)
    while True:  # whatever was read: a committed offset below the end on some partition
        try:
            c.commit(asynchronous=False)
            break
        except KafkaException as exc:  # the group coordinator may still be loading (NOT_COORDINATOR): ask again
            assert exc.args[0].retriable() or exc.args[0].code() == KafkaError.NOT_COORDINATOR, exc
            assert time.monotonic() < deadline, exc
    c.close()


def read_all(broker: str) -> list[tuple[Any, ...]]:
    """Every message of every test topic as (topic, partition, offset, key, value, headers)."""
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": broker, "group.id": "upgrade-check", "enable.auto.commit": False})
    out: list[tuple[Any, ...]] = []
    for topic, n in TOPICS.items():
        for p in range(n):
            low, high = c.get_watermark_offsets(TopicPartition(topic, p), timeout=15, cached=False)
            c.assign([TopicPartition(topic, p, low)])
            deadline = time.monotonic() + 30
            while (not out or out[-1][:3] != (topic, p, high - 1)) and high > low and time.monotonic() < deadline:
                for m in c.consume(500, 1.0):
                    assert m.error() is None, m.error()
                    out.append((m.topic(), m.partition(), m.offset(), m.key(), m.value(), tuple(m.headers() or ())))
    c.close()
    return out


def committed(broker: str) -> dict[tuple[str, int], int]:
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": broker, "group.id": GROUP})
    tps = c.committed([TopicPartition("orders", p) for p in range(3)], timeout=15)
    c.close()
    return {(tp.topic, tp.partition): tp.offset for tp in tps}


def override(broker: str) -> str | None:
    from confluent_kafka.admin import AdminClient, ConfigResource

    admin = AdminClient({"bootstrap.servers": broker})
    res = ConfigResource(ConfigResource.Type.TOPIC, "orders")
    return next(iter(admin.describe_configs([res]).values())).result(30)["retention.ms"].value


def features(stack: KraftStack, home: Path) -> dict[str, Any]:
    return FeatureTool("java", home, f"localhost:{stack.broker_port}", {}).describe()


def nodes(st: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["service"]: s for s in st["services"] if s["service"] in ("controller", "kafka")}


def status(stack: KraftStack) -> dict[str, Any]:
    res = stack.kafkaops("status", "--json")
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_upgrade_moves_a_3_9_kraft_stack_to_4_x_with_nothing_lost(bridge_stack: KraftStack, kafka_home: Path, kraft_home: Path) -> None:
    stack, broker = bridge_stack, f"localhost:{bridge_stack.broker_port}"
    before_status = status(stack)
    assert {k: s["health"].get("kafka_version") for k, s in nodes(before_status).items()} == {"controller": "3.9.2", "kafka": "3.9.2"}
    fill(broker)
    messages, offsets, cluster_id = read_all(broker), committed(broker), nodes(before_status)["kafka"]["health"]["cluster_id"]
    assert len(messages) > 800 and override(broker) == "123456789" and any(o > 0 for o in offsets.values())
    assert features(stack, kafka_home)["metadata.version"].finalized == "3.9-IV0"

    dry = stack.kafkaops("upgrade", "--version", DEFAULT_KRAFT_VERSION, "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    plan = json.loads(dry.stdout)["plan"]
    assert (plan["from_version"], plan["to_version"], plan["layout"], plan["install_needed"]) == ("3.9.2", DEFAULT_KRAFT_VERSION, "split", False)
    assert plan["metadata"]["current"] == "3.9-IV0" and plan["metadata"]["target"].startswith("4.4-")
    assert nodes(status(stack))["kafka"]["health"]["kafka_version"] == "3.9.2"  # a dry run changes nothing

    t0 = time.monotonic()
    res = stack.kafkaops("upgrade", "--version", DEFAULT_KRAFT_VERSION, "--yes", "--json", timeout=300)
    took = time.monotonic() - t0
    assert res.returncode == 0, res.stderr + res.stdout
    out = json.loads(res.stdout)
    print(f"upgrade 3.9.2 -> {DEFAULT_KRAFT_VERSION}: {took:.1f}s wall ({out['seconds']}s inside)")
    assert "step 6 of 9: start on the new binaries" in res.stderr and "metadata.version raised from 3.9-IV0" in res.stderr
    assert out["after"]["cluster_id"] == cluster_id and out["plan"]["metadata"]["raised"] is True

    after_status = status(stack)
    assert {k: (s["state"], s["health"].get("kafka_version")) for k, s in nodes(after_status).items()} == {
        "controller": ("running", DEFAULT_KRAFT_VERSION),
        "kafka": ("running", DEFAULT_KRAFT_VERSION),
    }
    assert nodes(after_status)["kafka"]["health"]["cluster_id"] == cluster_id
    assert read_all(broker) == messages and committed(broker) == offsets and override(broker) == "123456789"
    md = features(stack, kraft_home)["metadata.version"]
    assert md.finalized == out["plan"]["metadata"]["target"] and md.finalized.startswith("4.4-")
    record = read_stack_record(stack.root / "ops")
    assert record["kafka_version"] == DEFAULT_KRAFT_VERSION and Path(record["kafka_home"]) == stack.root / "ops" / "kafka" / DEFAULT_KRAFT_VERSION
    assert "KAFKA_HOME is set" in res.stderr  # it would shadow the record: said
    # Later commands read the record, not KAFKA_HOME's 3.9.2, once the user's own KAFKA_HOME goes.
    env = {k: v for k, v in stack.env.items() if k != "KAFKA_HOME"}
    for cmd in (["down"], ["up"]):
        cycled = run_kafkaops(cmd, env, stack.root)
        assert cycled.returncode == 0, cycled.stderr
    assert {s["health"].get("kafka_version") for s in nodes(status(stack)).values()} == {DEFAULT_KRAFT_VERSION}
    assert read_all(broker) == messages
    produced = run_kafkaops(["produce"], env, stack.root)  # the producer goes on from its offset: no gap, no duplicate
    assert produced.returncode == 0, produced.stderr
    assert read_all(broker) == messages
    doc = run_kafkaops(["doctor", "--json"], env, stack.root, timeout=120)
    checks = {c["id"]: (c["status"], c["finding"]) for c in json.loads(doc.stdout)["checks"]}
    assert doc.returncode == 0, {k: v for k, v in checks.items() if v[0] != "PASS"}

    again = run_kafkaops(["upgrade", "--version", DEFAULT_KRAFT_VERSION, "--yes"], env, stack.root, timeout=120)
    assert again.returncode == 0 and "already runs Kafka" in again.stderr and f"metadata.version is already {md.finalized}" in again.stderr, again.stderr


def test_upgrade_refuses_a_zookeeper_mode_stack(tmp_path: Path, kafka_home: Path) -> None:
    stack = make_stack(tmp_path, kafka_home)
    res = run_kafkaops(["upgrade", "--version", DEFAULT_KRAFT_VERSION, "--yes"], stack.env, tmp_path)
    assert res.returncode == 5, res.stderr
    assert "the stack runs in ZooKeeper mode" in res.stderr and "kafkaops migrate --to kraft" in res.stderr
    assert not (tmp_path / "ops" / "stack.json").exists() and not (tmp_path / "ops" / "kafka").exists()
