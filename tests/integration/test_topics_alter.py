"""kafkaops topics alter and topics describe --configs against a real broker (the shared stack), as
subprocesses; the configs compared with Kafka's own kafka-configs --describe."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from confluent_kafka.admin import AdminClient

from tests.conftest import Stack, run_kafkaops
from tests.integration.test_consume import new_topic, run_jvm_tool


def kafkaops(stack: Stack, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_kafkaops(list(args), env=env or stack.env, cwd=stack.root, timeout=90)


def partitions(stack: Stack, topic: str) -> int:
    return len(AdminClient({"bootstrap.servers": stack.broker}).list_topics(topic, timeout=10).topics[topic].partitions)


def kafka_configs_describe(stack: Stack, kafka_home: Path, topic: str) -> dict[str, str]:
    """kafka-configs --describe of a topic: the configs set on it, name -> value."""
    stdout = run_jvm_tool(stack, kafka_home, "kafka.admin.ConfigCommand", "--describe", "--entity-type", "topics", "--entity-name", topic)
    assert f"Dynamic configs for topic {topic} are:" in stdout, stdout
    pairs = [line.strip().split(" sensitive=")[0] for line in stdout.splitlines() if line.startswith("  ")]
    return dict(p.split("=", 1) for p in pairs)


def ours(stack: Stack, topic: str) -> dict[str, dict]:
    r = kafkaops(stack, "topics", "describe", topic, "--configs", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["name"] == topic
    return {c["name"]: c for c in doc["configs"]}


def test_configs_dry_run_then_execute_as_kafka_configs_sees_them(shared_stack: Stack, kafka_home: Path) -> None:
    topic = new_topic(shared_stack, config={"cleanup.policy": "compact"}, prefix="alter")
    dry = kafkaops(shared_stack, "topics", "alter", topic, "--config", "retention.ms=3600000", "--delete-config", "cleanup.policy")
    assert dry.returncode == 0, dry.stderr
    rows = [[c.strip() for c in line.split("│")] for line in dry.stdout.splitlines() if "│" in line]
    assert ["retention.ms", "604800000", "default", "3600000"] in rows
    assert ["cleanup.policy", "compact", "topic", "(deleted: broker's value)"] in rows
    assert f"dry run: the broker accepts this change, nothing applied; add --execute to alter topic {topic}" in dry.stderr
    assert kafka_configs_describe(shared_stack, kafka_home, topic) == {"cleanup.policy": "compact"}

    done = kafkaops(shared_stack, "topics", "alter", topic, "--config", "retention.ms=3600000", "--delete-config", "cleanup.policy", "--execute", "--json")
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    assert plan["executed"] is True and plan["new_partitions"] is None
    assert {(c["name"], c["old"], c["new"]) for c in plan["configs"]} == {("retention.ms", "604800000", "3600000"), ("cleanup.policy", "compact", None)}
    assert kafka_configs_describe(shared_stack, kafka_home, topic) == {"retention.ms": "3600000"}
    mine = ours(shared_stack, topic)
    assert mine["retention.ms"] == {"name": "retention.ms", "value": "3600000", "source": "DYNAMIC_TOPIC_CONFIG", "sensitive": False}
    assert {k for k, c in mine.items() if c["source"] == "DYNAMIC_TOPIC_CONFIG"} == set(kafka_configs_describe(shared_stack, kafka_home, topic))

    again = kafkaops(shared_stack, "topics", "alter", topic, "--config", "retention.ms=3600000", "--delete-config", "cleanup.policy", "--execute")
    assert again.returncode == 0, again.stderr
    assert "retention.ms is already 3600000 on the topic" in again.stderr
    assert "cleanup.policy is not set on the topic (it is delete from DEFAULT_CONFIG): nothing to delete" in again.stderr
    assert f"topic {topic}: nothing to change" in again.stderr

    table = kafkaops(shared_stack, "topics", "describe", topic, "--configs")
    assert table.returncode == 0, table.stderr
    assert any(line.startswith("retention.ms") and "3600000" in line and "topic" in line for line in table.stdout.splitlines()), table.stdout
    assert "partition" not in table.stdout  # --configs: only the configs


def test_a_config_the_broker_rejects_fails_in_the_dry_run_and_changes_nothing(shared_stack: Stack, kafka_home: Path) -> None:
    topic = new_topic(shared_stack, prefix="alter")
    for args, message in (
        (["--config", "retention.msec=5"], "hint: did you mean retention.ms?"),
        (["--config", "cleanup.policy=sometimes"], "error: altering the configs of topic " + topic + ": the broker rejected it"),
    ):
        for extra in ([], ["--execute"]):
            r = kafkaops(shared_stack, "topics", "alter", topic, *args, *extra)
            assert r.returncode == 2, r.stderr
            assert message in r.stderr
            assert r.stdout == ""
    assert kafka_configs_describe(shared_stack, kafka_home, topic) == {}


def test_partitions_only_grow_and_the_pipeline_topic_gets_a_warning(shared_stack: Stack) -> None:
    topic = new_topic(shared_stack, 2, prefix="alter")
    for n, message in (
        ("1", f"error: topic {topic} has 2 partitions: Kafka cannot take partitions away (asked for 1)"),
        ("2", f"error: topic {topic} already has 2 partitions"),
    ):
        r = kafkaops(shared_stack, "topics", "alter", topic, "--partitions", n, "--execute")
        assert r.returncode == 2, r.stderr
        assert message in r.stderr
    env = {**shared_stack.env, "KAFKA_TOPIC": topic}
    dry = kafkaops(shared_stack, "topics", "alter", topic, "--partitions", "4", env=env)
    assert dry.returncode == 0, dry.stderr
    assert f"warning: {topic} is the pipeline's topic (KAFKA_TOPIC): with 4 partitions a key's messages go to a different partition" in dry.stderr
    assert partitions(shared_stack, topic) == 2
    done = kafkaops(shared_stack, "topics", "alter", topic, "--partitions", "4", "--execute", env=env)
    assert done.returncode == 0, done.stderr
    assert f"topic {topic} altered (1 change(s))" in done.stderr
    assert partitions(shared_stack, topic) == 4
    internal = kafkaops(shared_stack, "topics", "alter", "__consumer_offsets", "--config", "retention.ms=1")
    assert internal.returncode == 5, internal.stderr
