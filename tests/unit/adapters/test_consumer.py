"""TopicConsumer.committed: a coordinator that is not ready yet is asked again, anything else fails at once.

On a fresh cluster the first group request makes Kafka create __consumer_offsets; until its partition
has loaded the broker answers NOT_COORDINATOR (tests/integration/test_kraft.py sees it on a real 4.4
node). A stand-in client answers with librdkafka's own KafkaError codes.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from kafkaops.adapters.consumer import TopicConsumer
from kafkaops.errors import KafkaopsError
from kafkaops.settings import load_settings


class _Client:
    """Answers committed() with the given errors first, then the offsets (partition -> offset)."""

    def __init__(self, errors: list[int], offsets: dict[int, int]) -> None:
        self.errors = list(errors)
        self.offsets = offsets
        self.calls: list[float] = []

    def committed(self, tps: list[Any], timeout: float) -> list[Any]:
        self.calls.append(timeout)
        if self.errors:
            raise KafkaException(KafkaError(self.errors.pop(0)))
        return [TopicPartition(tp.topic, tp.partition, self.offsets.get(tp.partition, -1001)) for tp in tps]


def _consumer(client: _Client) -> TopicConsumer:
    return TopicConsumer(load_settings(env={}), "events", client)


@pytest.mark.parametrize("code", [KafkaError.NOT_COORDINATOR, KafkaError.COORDINATOR_LOAD_IN_PROGRESS, KafkaError.COORDINATOR_NOT_AVAILABLE])
def test_a_coordinator_not_ready_yet_is_asked_again(code: int) -> None:
    client = _Client([code, code, code], {0: 7})
    t0 = time.monotonic()
    assert _consumer(client).committed([0, 1], timeout=10.0) == {0: 7, 1: None}
    assert len(client.calls) == 4
    assert time.monotonic() - t0 < 1.0  # a short backoff (0.05, 0.1, 0.2 s), no fixed sleeps
    assert all(0 < t <= 10.0 for t in client.calls)  # each ask gets what is left of the timeout


def test_the_retries_stop_when_the_timeout_is_spent() -> None:
    client = _Client([KafkaError.NOT_COORDINATOR] * 1000, {})
    t0 = time.monotonic()
    with pytest.raises(KafkaopsError) as caught:
        _consumer(client).committed([0], timeout=0.6)
    assert time.monotonic() - t0 < 1.2
    assert caught.value.message.startswith("cannot read the group's committed offsets: ")
    assert "oordinator" in caught.value.message
    assert 2 <= len(client.calls) < 20


def test_any_other_error_fails_at_once() -> None:
    client = _Client([KafkaError.GROUP_AUTHORIZATION_FAILED], {0: 3})
    with pytest.raises(KafkaopsError, match="cannot read the group's committed offsets"):
        _consumer(client).committed([0], timeout=10.0)
    assert len(client.calls) == 1


def test_the_consumer_reads_committed_events_unless_told_otherwise() -> None:
    from kafkaops.adapters.consumer import _config

    settings = load_settings(env={})
    assert _config(settings, "g", True)["isolation.level"] == "read_committed"
    assert _config(settings, "g", True, "read_uncommitted")["isolation.level"] == "read_uncommitted"
