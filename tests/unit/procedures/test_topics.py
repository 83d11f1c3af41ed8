"""Topic name, count and config checks; broker error translation; partition arithmetic (no broker)."""

from __future__ import annotations

import pytest

from kafkaops.adapters.kafka import BrokerRequestError
from kafkaops.errors import ExitCode, KafkaopsError, UsageError
from kafkaops.procedures import topics
from kafkaops.settings import load_settings


@pytest.mark.parametrize("name", ["db_live_events", "a", "A-b.c", "x" * 249, "__consumer_offsets", "...", "-"])
def test_valid_names_pass(name: str) -> None:
    topics.validate_name(name)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "the topic name is empty"),
        (".", "'.' cannot be a topic name"),
        ("..", "'..' cannot be a topic name"),
        ("x" * 250, "the topic name is 250 characters long; Kafka allows at most 249"),
        ("a b", "the topic name 'a b' contains ' '"),
        ("orders/2024", "the topic name 'orders/2024' contains '/'"),
        ("café", "the topic name 'café' contains 'é'"),
        ("a:b*c", "the topic name 'a:b*c' contains '*:'"),
    ],
)
def test_invalid_names_are_usage_errors(name: str, message: str) -> None:
    with pytest.raises(UsageError) as info:
        topics.validate_name(name)
    assert info.value.message == message
    assert info.value.exit_code == ExitCode.USAGE


def test_mixing_dot_and_underscore_warns_with_the_colliding_name() -> None:
    (warning,) = topics.name_warnings("db.live_events")
    assert "mixes '.' and '_'" in warning
    assert "'db_live_events'" in warning


@pytest.mark.parametrize("name", ["db_live_events", "db.live.events", "orders-v2"])
def test_names_using_one_separator_do_not_warn(name: str) -> None:
    assert topics.name_warnings(name) == []


def test_internal_looking_name_warns() -> None:
    (warning,) = topics.name_warnings("__mine")
    assert "internal" in warning


def test_internal_is_the_double_underscore_prefix() -> None:
    assert topics.is_internal("__consumer_offsets")
    assert topics.is_internal("__transaction_state")
    assert not topics.is_internal("_single")
    assert not topics.is_internal("db_live_events")


@pytest.mark.parametrize(
    ("partitions", "rf", "message"),
    [
        (0, 1, "--partitions must be at least 1 (got 0)"),
        (-3, 1, "--partitions must be at least 1 (got -3)"),
        (1, 0, "--replication-factor must be at least 1 (got 0)"),
    ],
)
def test_counts_below_one_are_rejected(partitions: int, rf: int, message: str) -> None:
    with pytest.raises(UsageError) as info:
        topics.validate_counts(partitions, rf)
    assert info.value.message == message


def test_parse_configs() -> None:
    assert topics.parse_configs(None) == {}
    assert topics.parse_configs(["retention.ms=60000", "cleanup.policy=compact,delete", "x="]) == {
        "retention.ms": "60000",
        "cleanup.policy": "compact,delete",
        "x": "",
    }


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        (["retention.ms"], "--config 'retention.ms' is not key=value"),
        (["=5"], "--config '=5' is not key=value"),
        (["a b=1"], "--config 'a b=1' is not key=value"),
        (["a=1", "a=2"], "--config a is given twice"),
    ],
)
def test_bad_configs_are_rejected(pairs: list[str], message: str) -> None:
    with pytest.raises(UsageError) as info:
        topics.parse_configs(pairs)
    assert info.value.message == message


def test_create_validates_before_contacting_a_broker() -> None:
    # An address nothing can answer on: if create reached the network the error would be UnreachableError.
    settings = load_settings(env={"KAFKA_BROKER": "192.0.2.1:9", "KAFKAOPS_HOME": "/nonexistent"})
    with pytest.raises(UsageError, match="contains"):
        topics.create_topic(settings, "bad name")
    with pytest.raises(UsageError, match="--partitions"):
        topics.create_topic(settings, "ok", partitions=0)


SETTINGS = load_settings(env={"KAFKA_BROKER": "broker.example:9093", "KAFKAOPS_HOME": "/nonexistent"})


@pytest.mark.parametrize(
    ("code", "reason", "kind", "exit_code", "message"),
    [
        ("TOPIC_ALREADY_EXISTS", "Topic 't' already exists.", topics.TopicExists, ExitCode.ERROR, "cannot create topic t: Topic 't' already exists."),
        ("UNKNOWN_TOPIC_OR_PART", "Broker: Unknown topic or partition", topics.TopicNotFound, ExitCode.ERROR, "topic t does not exist"),
        (
            "INVALID_CONFIG",
            "Unknown topic config name: retention.bogus",
            UsageError,
            ExitCode.USAGE,
            "cannot create topic t: the broker rejected it: Unknown topic config name: retention.bogus",
        ),
        (
            "TOPIC_EXCEPTION",
            "Topic 'a.b' collides with existing topics: a_b",
            UsageError,
            ExitCode.USAGE,
            "cannot create topic t: the broker rejected it: Topic 'a.b' collides with existing topics: a_b",
        ),
        (
            "TOPIC_AUTHORIZATION_FAILED",
            "Broker: Topic authorization failed",
            KafkaopsError,
            ExitCode.ERROR,
            "cannot create topic t: not allowed (Broker: Topic authorization failed)",
        ),
        (
            "_TRANSPORT",
            "Broker transport failure",
            KafkaopsError,
            ExitCode.UNREACHABLE,
            "cannot create topic t: no answer from the broker at broker.example:9093 within 5s (Broker transport failure)",
        ),
        ("SOMETHING_NEW", "Broker: odd", KafkaopsError, ExitCode.ERROR, "cannot create topic t: Broker: odd (SOMETHING_NEW)"),
    ],
)
def test_broker_errors_become_one_line_and_an_exit_code(code: str, reason: str, kind: type[KafkaopsError], exit_code: ExitCode, message: str) -> None:
    err = topics._translate(BrokerRequestError(code, reason), "cannot create topic", "t", SETTINGS, 5.0)
    assert isinstance(err, kind)
    assert err.exit_code == exit_code
    assert err.message == message
    assert "\n" not in err.message


def test_topic_marked_for_deletion_hints_to_wait() -> None:
    err = topics._translate(BrokerRequestError("TOPIC_ALREADY_EXISTS", "Topic 't' is marked for deletion."), "cannot create topic", "t", SETTINGS, 5.0)
    assert err.hint == "wait a few seconds and try again"


def test_unreachable_hint_names_status_and_doctor() -> None:
    err = topics._translate(BrokerRequestError("_TIMED_OUT", "timed out"), "cannot delete topic", "t", SETTINGS, 5.0)
    assert err.hint is not None and "kafkaops status" in err.hint and "kafkaops doctor" in err.hint
    assert err.runbook == "failures broker-unreachable"


def _part(pid: int, leader: int | None, replicas: list[int], isr: list[int], low: int | None, high: int | None) -> topics.PartitionInfo:
    return topics.PartitionInfo(pid, leader, replicas, isr, low, high)


def test_partition_flags_and_message_counts() -> None:
    healthy = _part(0, 1, [1, 2], [1, 2], 3, 10)
    lagging = _part(1, 1, [1, 2], [1], 0, 4)
    offline = _part(2, None, [2], [], None, None)
    assert (healthy.messages, healthy.under_replicated, healthy.offline) == (7, False, False)
    assert (lagging.messages, lagging.under_replicated, lagging.offline) == (4, True, False)
    assert (offline.messages, offline.offline) == (None, True)

    d = topics.TopicDescription("t", False, 2, [healthy, lagging], [])
    assert d.messages == 11
    assert d.under_replicated == [1]
    assert d.offline == []
    d = topics.TopicDescription("t", False, 2, [healthy, lagging, offline], [])
    assert d.messages is None  # unknown, not a wrong total
    assert d.offline == [2]
    assert topics.DeletePlan("t", [healthy, lagging]).messages == 11


def test_shape_reads_naturally() -> None:
    assert topics.shape(1, 1) == "1 partition, replication factor 1"
    assert topics.shape(3, 2) == "3 partitions, replication factor 2"


def test_create_result_differs() -> None:
    same = topics.CreateResult("t", False, 3, 1, 3, 1)
    other = topics.CreateResult("t", False, 3, 1, 1, 1)
    assert not same.differs
    assert other.differs


def test_not_found_names_the_closest_topic() -> None:
    assert topics.not_found("db_live_event", ["db_live_events", "orders"]).hint == ("did you mean db_live_events? see the topics with `kafkaops topics list`")
    assert topics.not_found("zzz", ["db_live_events"]).hint == "see the topics with `kafkaops topics list`"
    assert topics.not_found("__consumer_offset", ["__consumer_offsets"]).hint == "see the topics with `kafkaops topics list`"
