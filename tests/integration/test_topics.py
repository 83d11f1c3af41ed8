"""kafkaops topics against a real broker (the session's shared stack; every test uses its own topic names)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kafkaops.adapters.java import find_java
from kafkaops.procedures import services, topics
from tests.conftest import Stack, make_stack, run_kafkaops, teardown_stack


def _name(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _kafkaops(stack: Stack, *args: str, input: str | None = None) -> Any:
    return run_kafkaops(list(args), stack.env, stack.root, input=input)


def _json(stack: Stack, *args: str) -> Any:
    res = _kafkaops(stack, *args, "--json")
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def _admin(stack: Stack) -> Any:
    from confluent_kafka.admin import AdminClient

    return AdminClient({"bootstrap.servers": stack.broker})


def _broker_topics(stack: Stack) -> dict[str, Any]:
    """What the broker itself lists (not through kafkaops)."""
    return dict(_admin(stack).list_topics(timeout=10).topics)


def _produce(stack: Stack, topic: str, per_partition: dict[int, int]) -> None:
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": stack.broker, "enable.idempotence": True})
    for partition, n in per_partition.items():
        for i in range(n):
            p.produce(topic, key=f"k{i}", value=f"p{partition}-m{i}", partition=partition)
    assert p.flush(30) == 0


def _commit_offset(stack: Stack, topic: str) -> None:
    """Commit one offset for a consumer group: the broker then creates __consumer_offsets."""
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": stack.broker, "group.id": _name("group"), "enable.auto.commit": False})
    try:
        c.commit(offsets=[TopicPartition(topic, 0, 0)], asynchronous=False)
    finally:
        c.close()


# --------------------------------------------------------------------------------------------
# create


def test_create_makes_a_usable_topic_with_the_asked_shape(shared_stack: Stack) -> None:
    name = _name()
    res = _kafkaops(shared_stack, "topics", "create", name, "--partitions", "3")
    assert res.returncode == 0, res.stderr
    assert res.stderr.startswith(f"✓ topic {name} created (3 partitions, replication factor 1), ready in ")

    tmeta = _broker_topics(shared_stack)[name]
    assert sorted(tmeta.partitions) == [0, 1, 2]
    assert all(p.leader == 0 for p in tmeta.partitions.values())  # usable the moment create returns


def test_create_again_is_exit_1_and_says_how_the_existing_topic_differs(shared_stack: Stack) -> None:
    name = _name()
    assert _kafkaops(shared_stack, "topics", "create", name, "--partitions", "2").returncode == 0

    same = _kafkaops(shared_stack, "topics", "create", name, "--partitions", "2")
    assert same.returncode == 1
    assert same.stderr.splitlines() == [
        f"error: topic {name} already exists",
        f"hint: add --if-not-exists to accept an existing topic; see it with `kafkaops topics describe {name}`",
        "see: kafkaops runbook topics creating-a-topic",
    ]

    other = _kafkaops(shared_stack, "topics", "create", name)
    assert other.returncode == 1
    assert other.stderr.splitlines()[:2] == [
        f"error: topic {name} already exists",
        "  it has 2 partitions, replication factor 1; you asked for 1 partition, replication factor 1",
    ]
    assert len(_broker_topics(shared_stack)[name].partitions) == 2  # left as it was


def test_create_if_not_exists_is_a_no_op_that_says_so(shared_stack: Stack) -> None:
    name = _name()
    first = _kafkaops(shared_stack, "topics", "create", name, "--if-not-exists")
    assert first.returncode == 0, first.stderr
    assert f"topic {name} created" in first.stderr

    again = _kafkaops(shared_stack, "topics", "create", name, "--if-not-exists")
    assert again.returncode == 0, again.stderr
    assert again.stderr == f"topic {name} already exists (1 partition, replication factor 1); nothing to do\n"

    differs = _kafkaops(shared_stack, "topics", "create", name, "--if-not-exists", "--partitions", "4")
    assert differs.returncode == 0
    assert differs.stderr.splitlines() == [
        f"topic {name} already exists (1 partition, replication factor 1); nothing to do",
        "warning: you asked for 4 partitions, replication factor 1; the existing topic was left as it is",
    ]
    assert len(_broker_topics(shared_stack)[name].partitions) == 1


def test_create_with_configs_shows_them_in_describe(shared_stack: Stack) -> None:
    name = _name()
    res = _kafkaops(shared_stack, "topics", "create", name, "--config", "retention.ms=3600000", "-c", "cleanup.policy=compact")
    assert res.returncode == 0, res.stderr

    doc = _json(shared_stack, "topics", "describe", name)
    assert doc["configs"] == [
        {"name": "cleanup.policy", "value": "compact", "source": "DYNAMIC_TOPIC_CONFIG", "sensitive": False},
        {"name": "retention.ms", "value": "3600000", "source": "DYNAMIC_TOPIC_CONFIG", "sensitive": False},
    ]
    human = _kafkaops(shared_stack, "topics", "describe", name)
    assert "non-default configs:" in human.stdout
    assert "retention.ms" in human.stdout and "3600000" in human.stdout


def test_a_config_the_broker_rejects_is_exit_2_and_creates_nothing(shared_stack: Stack) -> None:
    name = _name()
    res = _kafkaops(shared_stack, "topics", "create", name, "--config", "retention.bogus=1")
    assert res.returncode == 2
    assert res.stderr.startswith(f"error: cannot create topic {name}: the broker rejected it: ")
    assert "retention.bogus" in res.stderr
    assert len(res.stderr.splitlines()) == 1
    assert name not in _broker_topics(shared_stack)


def test_replication_factor_above_the_live_brokers_is_exit_2_and_creates_nothing(shared_stack: Stack) -> None:
    name = _name()
    res = _kafkaops(shared_stack, "topics", "create", name, "--replication-factor", "3")
    assert res.returncode == 2
    assert res.stderr.splitlines() == [
        f"error: replication factor 3 needs 3 brokers; 1 live broker at {shared_stack.broker}",
        "hint: use --replication-factor 1 or less",
    ]
    assert name not in _broker_topics(shared_stack)


def test_a_name_colliding_in_metric_names_is_exit_2_and_creates_nothing(shared_stack: Stack) -> None:
    base = _name("m").replace("-", "_")
    assert _kafkaops(shared_stack, "topics", "create", f"{base}_x").returncode == 0
    res = _kafkaops(shared_stack, "topics", "create", f"{base}.x")
    assert res.returncode == 2
    warning, *rest = res.stderr.splitlines()
    assert warning.startswith(f"warning: topic name '{base}.x' mixes '.' and '_'")
    assert rest == [
        f"error: topic name {base}.x collides with the existing topic {base}_x",
        "hint: Kafka's metric names treat '.' and '_' alike, so it refuses both; pick another name",
    ]
    assert f"{base}.x" not in _broker_topics(shared_stack)


def test_ensure_topic_creates_once_then_finds_it(shared_stack: Stack) -> None:
    name = _name()
    first = topics.ensure_topic(shared_stack.settings, name, 2, 1)
    second = topics.ensure_topic(shared_stack.settings, name, 2, 1)
    assert first == topics.EnsureResult(name, True, 2, 1)
    assert second == topics.EnsureResult(name, False, 2, 1)


# --------------------------------------------------------------------------------------------
# list


def test_list_hides_internal_topics_and_all_shows_them(shared_stack: Stack) -> None:
    name = _name()
    assert _kafkaops(shared_stack, "topics", "create", name, "--partitions", "2").returncode == 0
    _commit_offset(shared_stack, name)
    assert "__consumer_offsets" in _broker_topics(shared_stack)

    doc = _json(shared_stack, "topics", "list")
    names = [t["name"] for t in doc["topics"]]
    assert {"name": name, "partitions": 2, "replication_factor": 1, "internal": False} in doc["topics"]
    assert not [n for n in names if n.startswith("__")]
    assert doc["hidden_internal"] >= 1

    everything = _json(shared_stack, "topics", "list", "--all")
    offsets = [t for t in everything["topics"] if t["name"] == "__consumer_offsets"]
    assert offsets and offsets[0]["internal"] is True
    assert everything["hidden_internal"] == 0
    assert len(everything["topics"]) == len(doc["topics"]) + doc["hidden_internal"]

    human = _kafkaops(shared_stack, "topics", "list")
    assert human.returncode == 0
    assert name in human.stdout
    assert "__consumer_offsets" not in human.stdout
    hidden = doc["hidden_internal"]
    assert f"{hidden} internal topic{'s' if hidden > 1 else ''} hidden (--all shows them)" in human.stderr

    shown = _kafkaops(shared_stack, "topics", "list", "--all")
    assert "__consumer_offsets" in shown.stdout
    assert "hidden" not in shown.stderr


def test_list_on_a_pipe_never_cuts_a_long_name(shared_stack: Stack) -> None:
    name = _name("long-" + "x" * 200)
    assert _kafkaops(shared_stack, "topics", "create", name).returncode == 0
    res = _kafkaops(shared_stack, "topics", "list")
    assert res.returncode == 0
    assert [line.split()[0] for line in res.stdout.splitlines() if line.startswith("long-")] == [name]


# --------------------------------------------------------------------------------------------
# describe


def test_describe_reports_leaders_replicas_and_watermarks(shared_stack: Stack) -> None:
    name = _name()
    assert _kafkaops(shared_stack, "topics", "create", name, "--partitions", "3").returncode == 0
    _produce(shared_stack, name, {0: 5, 1: 0, 2: 2})

    doc = _json(shared_stack, "topics", "describe", name)
    assert doc["name"] == name
    assert doc["messages"] == 7
    assert doc["under_replicated_partitions"] == [] and doc["offline_partitions"] == []
    assert [(p["partition"], p["leader"], p["replicas"], p["isr"], p["low"], p["high"], p["messages"]) for p in doc["partitions"]] == [
        (0, 0, [0], [0], 0, 5, 5),
        (1, 0, [0], [0], 0, 0, 0),
        (2, 0, [0], [0], 0, 2, 2),
    ]
    assert doc["configs"] == []

    human = _kafkaops(shared_stack, "topics", "describe", name)
    assert human.returncode == 0
    assert human.stdout.splitlines()[0] == f"topic {name}: 3 partitions, replication factor 1, 7 messages"
    assert "configs: all defaults" in human.stdout


def test_describe_low_watermark_moves_when_records_are_deleted(shared_stack: Stack) -> None:
    from confluent_kafka import TopicPartition

    name = _name()
    assert _kafkaops(shared_stack, "topics", "create", name).returncode == 0
    _produce(shared_stack, name, {0: 6})
    client = _admin(shared_stack)  # keep it alive until the futures resolve
    for future in client.delete_records([TopicPartition(name, 0, 4)], operation_timeout=20).values():
        future.result(timeout=30)

    (p,) = _json(shared_stack, "topics", "describe", name)["partitions"]
    assert (p["low"], p["high"], p["messages"]) == (4, 6, 2)


def test_describe_a_misspelt_topic_names_the_close_one(shared_stack: Stack) -> None:
    name = _name()
    assert _kafkaops(shared_stack, "topics", "create", name).returncode == 0
    res = _kafkaops(shared_stack, "topics", "describe", name[:-1])
    assert res.returncode == 1
    assert res.stderr.splitlines()[:2] == [
        f"error: topic {name[:-1]} does not exist",
        f"hint: did you mean {name}? see the topics with `kafkaops topics list`",
    ]


def test_describe_unknown_topic_is_exit_1(shared_stack: Stack) -> None:
    name = _name("missing")
    res = _kafkaops(shared_stack, "topics", "describe", name)
    assert res.returncode == 1
    assert res.stderr.splitlines() == [
        f"error: topic {name} does not exist",
        "hint: see the topics with `kafkaops topics list`",
        "see: kafkaops runbook failures topic-missing",
    ]


# --------------------------------------------------------------------------------------------
# delete


def test_delete_with_yes_shows_the_loss_and_removes_the_topic(shared_stack: Stack) -> None:
    name = _name()
    assert _kafkaops(shared_stack, "topics", "create", name, "--partitions", "2").returncode == 0
    _produce(shared_stack, name, {0: 3, 1: 1})

    res = _kafkaops(shared_stack, "topics", "delete", name, "--yes")
    assert res.returncode == 0, res.stderr
    lines = res.stderr.splitlines()
    assert lines[:3] == [
        f"deleting topic {name} loses 4 messages in 2 partition(s):",
        "  partition 0: 3 messages (offsets 0 to 3)",
        "  partition 1: 1 messages (offsets 0 to 1)",
    ]
    assert lines[3].startswith(f"✓ topic {name} deleted (4 messages) in ")
    assert name not in _broker_topics(shared_stack)  # gone when the command returns
    assert _kafkaops(shared_stack, "topics", "describe", name).returncode == 1


def test_after_delete_the_name_can_be_reused_at_once_and_the_old_messages_are_gone(shared_stack: Stack) -> None:
    name = _name()
    assert _kafkaops(shared_stack, "topics", "create", name).returncode == 0
    _produce(shared_stack, name, {0: 5})
    assert _kafkaops(shared_stack, "topics", "delete", name, "--yes").returncode == 0

    again = _kafkaops(shared_stack, "topics", "create", name, "--partitions", "2")
    assert again.returncode == 0, again.stderr  # not "marked for deletion": the delete had taken effect
    doc = _json(shared_stack, "topics", "describe", name)
    assert (len(doc["partitions"]), doc["messages"]) == (2, 0)


def test_delete_without_terminal_and_without_yes_refuses_and_deletes_nothing(shared_stack: Stack) -> None:
    name = _name()
    assert _kafkaops(shared_stack, "topics", "create", name).returncode == 0
    _produce(shared_stack, name, {0: 3})

    res = _kafkaops(shared_stack, "topics", "delete", name)  # stdin is /dev/null: no terminal
    assert res.returncode == 5
    assert res.stderr.splitlines()[-3:] == [
        f"error: not deleting topic {name}: no terminal to confirm on",
        f"hint: rerun with --yes to delete it: kafkaops topics delete {name} --yes",
        "see: kafkaops runbook topics deleting-a-topic",
    ]
    piped = _kafkaops(shared_stack, "topics", "delete", name, input="y\n")  # an answer on a pipe is not a confirmation
    assert piped.returncode == 5

    assert name in _broker_topics(shared_stack)
    assert _json(shared_stack, "topics", "describe", name)["messages"] == 3


def test_delete_dry_run_deletes_nothing(shared_stack: Stack) -> None:
    name = _name()
    assert _kafkaops(shared_stack, "topics", "create", name).returncode == 0
    res = _kafkaops(shared_stack, "topics", "delete", name, "--dry-run")
    assert res.returncode == 0
    assert res.stderr.splitlines()[-1] == "dry run: nothing deleted"
    assert name in _broker_topics(shared_stack)


def test_deleting_the_pipeline_topic_warns_about_the_producer_position(shared_stack: Stack) -> None:
    res = _kafkaops(shared_stack, "topics", "delete", "db_live_events", "--dry-run")
    assert res.returncode == 0
    assert (
        "warning: db_live_events is the pipeline's topic (KAFKA_TOPIC): after it is re-created, the producer's position in "
        "producer_offsets still points past the rows already sent (see: kafkaops runbook producer the-offset-table)"
    ) in res.stderr.splitlines()
    assert "db_live_events" in _broker_topics(shared_stack)


def test_deleting_consumer_offsets_is_refused(shared_stack: Stack) -> None:
    name = _name()
    assert _kafkaops(shared_stack, "topics", "create", name).returncode == 0
    _commit_offset(shared_stack, name)

    res = _kafkaops(shared_stack, "topics", "delete", "__consumer_offsets", "--yes")
    assert res.returncode == 5
    assert res.stderr.splitlines()[0] == (
        "error: __consumer_offsets is an internal topic (its name starts with '__'); kafkaops does not delete internal topics"
    )
    assert "__consumer_offsets" in _broker_topics(shared_stack)


def test_delete_unknown_topic_is_exit_1(shared_stack: Stack) -> None:
    name = _name("missing")
    res = _kafkaops(shared_stack, "topics", "delete", name, "--yes")
    assert res.returncode == 1
    assert res.stderr.splitlines()[0] == f"error: topic {name} does not exist"


# --------------------------------------------------------------------------------------------
# failures


def test_stopped_broker_is_exit_4_with_the_address_and_next_commands(stack: Stack) -> None:
    """A stack whose services are not running: every topics command fails fast and says where it looked."""
    for args in (["topics", "list"], ["topics", "create", _name()], ["topics", "delete", _name(), "--yes"]):
        res = _kafkaops(stack, *args)
        assert res.returncode == 4, res.stderr
        assert res.stdout == ""
        assert res.stderr.splitlines() == [
            f"error: no Kafka broker answered at {stack.broker} within 5s",
            "hint: check the stack with `kafkaops status` or `kafkaops doctor`; start it with `kafkaops up`",
            "see: kafkaops runbook failures broker-unreachable",
        ]


def test_security_settings_reach_the_client_and_secrets_never_reach_output(shared_stack: Stack) -> None:
    """SASL against a PLAINTEXT listener cannot work: the command fails, and the password is in no output."""
    env = dict(shared_stack.env)
    env.update(
        {
            "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "KAFKA_SASL_MECHANISM": "PLAIN",
            "KAFKA_SASL_USERNAME": "ops",
            "KAFKA_SASL_PASSWORD": "pa55-never-shown",
        }
    )
    res = run_kafkaops(["topics", "list"], env, shared_stack.root)
    assert res.returncode == 2  # the settings were used: a plain client would have listed the topics
    assert res.stderr.startswith(
        f"error: SASL handshake failed at {shared_stack.broker}: that listener does not speak SASL, but KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT does\n"
    )
    assert "pa55-never-shown" not in res.stdout + res.stderr


def _delete_on_a_terminal(stack: Stack, name: str, answer: str) -> tuple[int, str]:
    """`topics delete NAME` with a pseudo-terminal as stdin, answering the question with ``answer``."""
    import os
    import pty
    import subprocess
    import sys

    primary, secondary = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "kafkaops", "topics", "delete", name],
            env=stack.env,
            cwd=stack.root,
            stdin=secondary,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        os.write(primary, answer.encode() + b"\n")
        _, err = proc.communicate(timeout=120)
        return proc.returncode, err
    finally:
        os.close(primary)
        os.close(secondary)


def test_delete_on_a_terminal_asks_and_no_keeps_the_topic(shared_stack: Stack) -> None:
    name = _name()
    assert _kafkaops(shared_stack, "topics", "create", name).returncode == 0
    _produce(shared_stack, name, {0: 2})

    code, err = _delete_on_a_terminal(shared_stack, name, "n")
    assert code == 1
    assert f"Delete topic {name} and its 2 messages?" in err
    assert err.endswith(f"topic {name} not deleted\n")  # the answer is echoed on the terminal, not on stderr
    assert name in _broker_topics(shared_stack)

    code, err = _delete_on_a_terminal(shared_stack, name, "y")
    assert code == 0, err
    assert f"✓ topic {name} deleted (2 messages) in " in err.splitlines()[-1]
    assert name not in _broker_topics(shared_stack)


# --------------------------------------------------------------------------------------------
# a real two-broker cluster: replication and the under-replicated / offline flags


@pytest.fixture
def second_broker(running_stack: Stack, kafka_home: Path, tmp_path: Path) -> Iterator[Stack]:
    """Broker id 1 joining running_stack's ZooKeeper (its own port, log dir and KAFKAOPS_HOME)."""
    zk_connect = f"localhost:{running_stack.zk_port}"
    second = make_stack(tmp_path / "broker-1", kafka_home, **{"broker.id": "1", "zookeeper.connect": zk_connect})
    second.env["ZOOKEEPER_CONNECT"] = zk_connect
    settings = second.settings
    services.start_broker(settings, services.read_stack_config(settings), find_java(settings.java).path, lambda _msg: None)
    yield second
    teardown_stack(second)


def test_describe_flags_under_replicated_and_offline_partitions(running_stack: Stack, second_broker: Stack) -> None:
    replicated, single = _name("rf2"), _name("rf1")
    assert _kafkaops(running_stack, "topics", "create", replicated, "-p", "2", "-r", "2").returncode == 0
    assert _kafkaops(running_stack, "topics", "create", single, "-p", "2").returncode == 0
    _produce(running_stack, replicated, {0: 3, 1: 1})

    healthy = _json(running_stack, "topics", "describe", replicated)
    assert healthy["replication_factor"] == 2
    assert [sorted(p["isr"]) for p in healthy["partitions"]] == [[0, 1], [0, 1]]
    assert healthy["under_replicated_partitions"] == [] and healthy["offline_partitions"] == []
    on_broker_1 = [p["partition"] for p in _json(running_stack, "topics", "describe", single)["partitions"] if p["leader"] == 1]
    assert len(on_broker_1) == 1  # two single-replica partitions are spread over the two brokers

    services.down(second_broker.settings)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(_json(running_stack, "topics", "describe", replicated)["under_replicated_partitions"]) < 2:
        time.sleep(0.5)  # the controller drops broker 1 from the ISRs

    degraded = _json(running_stack, "topics", "describe", replicated)
    assert degraded["under_replicated_partitions"] == [0, 1]
    assert degraded["offline_partitions"] == []
    assert degraded["messages"] == 4  # every message still readable from broker 0
    lost = _json(running_stack, "topics", "describe", single)
    assert lost["offline_partitions"] == on_broker_1
    offline = next(p for p in lost["partitions"] if p["partition"] == on_broker_1[0])
    assert (offline["leader"], offline["offline"], offline["messages"]) == (None, True, None)
    assert lost["messages"] is None  # unknown, not a wrong total

    human = _kafkaops(running_stack, "topics", "describe", single)
    assert human.returncode == 0
    assert human.stdout.splitlines()[0] == f"topic {single}: 2 partitions, replication factor 1, ? messages"
    assert f"warning: partitions without a leader (offline): {on_broker_1[0]}" in human.stderr
    assert "under-replicated" in _kafkaops(running_stack, "topics", "describe", replicated).stdout


def test_more_partitions_than_a_broker_should_hold_are_refused_before_the_broker_is_asked(shared_stack: Stack) -> None:
    # 100,000 partitions wedged the broker (a ZooKeeper write over jute.maxbuffer, retried forever);
    # with one broker the limit is Kafka's per-broker guidance, 4,000 partition replicas.
    name = _name("many")
    res = _kafkaops(shared_stack, "topics", "create", name, "--partitions", "4001")
    assert res.returncode == 2, res.stderr
    assert res.stderr.splitlines()[:2] == [
        "error: --partitions 4,001 is more than one topic can have here (at most 4,000)",
        "  a broker should hold at most 4,000 partition replicas (Kafka's guidance for ZooKeeper mode); "
        "1 broker with replication factor 1 can hold at most 4,000 partitions",
    ]
    assert name not in _broker_topics(shared_stack)


def test_the_assignment_znode_is_as_large_as_the_limit_computes(shared_stack: Stack) -> None:
    """The formula behind the ZooKeeper limit, checked against what a real broker writes."""
    from kafkaops.adapters import zookeeper

    name = _name("sized")
    res = _kafkaops(shared_stack, "topics", "create", name, "--partitions", "120")
    assert res.returncode == 0, res.stderr
    with zookeeper.connect(f"localhost:{shared_stack.zk_port}") as zk:
        data, _ = zk.get(f"/brokers/topics/{name}")
    assert len(data) == topics.assignment_znode_bytes(120, 1, 0), data[:200]
    assert len(_broker_topics(shared_stack)[name].partitions) == 120
