"""The partition limits of `topics create` / `up`: computed from the znode ZooKeeper must store, not guessed."""

from __future__ import annotations

import json

import pytest

from kafkaops.errors import ExitCode, UsageError
from kafkaops.procedures import topics
from kafkaops.settings import load_settings


def _znode(partitions: int, rf: int, max_id: int) -> bytes:
    """The JSON Kafka writes to /brokers/topics/<name> (TopicZNode.encode, version 3), compact as Jackson writes it."""
    ids = list(range(max_id - rf + 1, max_id + 1))
    doc = {
        "partitions": {str(p): ids for p in range(partitions)},
        "topic_id": "A" * 22,
        "adding_replicas": {},
        "removing_replicas": {},
        "version": 3,
    }
    return json.dumps(doc, separators=(",", ":")).encode()


@pytest.mark.parametrize(("partitions", "rf", "max_id"), [(1, 1, 0), (9, 1, 0), (10, 1, 0), (1234, 3, 2), (100_000, 1, 0), (20_000, 3, 1002)])
def test_the_formula_gives_the_znode_size_exactly(partitions: int, rf: int, max_id: int) -> None:
    assert topics.assignment_znode_bytes(partitions, rf, max_id) == len(_znode(partitions, rf, max_id))


def test_the_zookeeper_limit_is_the_largest_count_that_fits() -> None:
    budget = topics.JUTE_MAXBUFFER - topics.ZK_REQUEST_RESERVE
    n = topics.max_partitions_for_zookeeper(1)
    assert n == 88_212
    assert len(_znode(n, 1, 0)) <= budget < len(_znode(n + 1, 1, 0))
    assert len(_znode(100_000, 1, 0)) > topics.JUTE_MAXBUFFER  # the count that wedged the broker


def test_the_per_broker_guidance_binds_first_on_small_clusters() -> None:
    assert topics.partition_limit(1, brokers=1).limit == 4000
    assert topics.partition_limit(3, brokers=3).limit == 4000
    assert topics.partition_limit(1, brokers=30).limit == 88_212  # then ZooKeeper's limit is the lower one


def test_a_larger_jute_maxbuffer_in_the_jvm_options_is_used() -> None:
    settings = load_settings(env={"KAFKAOPS_JVM_OPTS": "-Xss1m -Djute.maxbuffer=0x3fffff"})
    assert topics.jute_maxbuffer(settings) == 0x3FFFFF
    topics.check_partition_limit(settings, 300_000, 1)  # fits in 4 MiB
    with pytest.raises(UsageError) as info:
        topics.check_partition_limit(load_settings(env={}), 300_000, 1)
    assert info.value.exit_code == ExitCode.USAGE


def test_the_refusal_states_the_limit_and_why() -> None:
    with pytest.raises(UsageError) as info:
        topics.check_partition_limit(load_settings(env={}), 4001, 1, brokers=1, max_broker_id=0)
    assert info.value.message == "--partitions 4,001 is more than one topic can have here (at most 4,000)"
    assert info.value.details == [
        "a broker should hold at most 4,000 partition replicas (Kafka's guidance for ZooKeeper mode); "
        "1 broker with replication factor 1 can hold at most 4,000 partitions"
    ]
    topics.check_partition_limit(load_settings(env={}), 4000, 1, brokers=1)
