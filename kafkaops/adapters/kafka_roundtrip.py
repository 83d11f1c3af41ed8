"""One message there and back (doctor's canary): produce it with acks=all, then read it from the
partition and offset the broker acknowledged. Clients come from the factories in adapters.kafka
(same settings, security and quiet logging as every other client)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kafkaops.adapters.kafka import client_config, consumer, producer
from kafkaops.errors import KafkaopsError

if TYPE_CHECKING:
    from kafkaops.settings import Settings


class ClientFailure(KafkaopsError):
    """A client call failed in librdkafka (KafkaException); the message is the library's text."""


@dataclass(frozen=True)
class Delivery:
    partition: int | None
    offset: int | None
    error: str | None = None  # None: the broker acknowledged it


def _failure(exc: BaseException) -> ClientFailure:
    return ClientFailure(str(exc))


def produce_one(settings: Settings, topic: str, key: bytes, value: bytes, headers: Sequence[tuple[str, bytes]], timeout: float = 5.0) -> Delivery:
    """Produce one message (acks=all, no idempotence: nothing else is written) and wait for its report."""
    from confluent_kafka import KafkaException

    delivered: list[Any] = []
    try:
        client = producer(settings, client_config(settings, **{"acks": "all", "message.timeout.ms": 4000, "enable.idempotence": False}))
        client.produce(topic, key=key, value=value, headers=list(headers), on_delivery=lambda err, msg: delivered.append((err, msg)))
        client.flush(timeout)
    except KafkaException as exc:
        raise _failure(exc) from None
    if not delivered:
        return Delivery(None, None, "no delivery report")
    err, msg = delivered[0]
    if err is not None:
        return Delivery(None, None, str(err))
    return Delivery(msg.partition(), msg.offset())


def fetch_one(settings: Settings, topic: str, partition: int, offset: int, key: bytes, group: str, timeout: float = 5.0) -> bytes | None:
    """The value of the first message with ``key`` at or after ``offset`` of the partition; None if none
    came within ``timeout``. Nothing is committed."""
    from confluent_kafka import KafkaException, TopicPartition

    try:
        client = consumer(settings, client_config(settings, **{"group.id": group, "enable.auto.commit": False, "enable.partition.eof": False}))
        try:
            client.assign([TopicPartition(topic, partition, offset)])
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                m = client.poll(0.5)
                if m is not None and m.error() is None and m.key() == key:
                    value: bytes | None = m.value()
                    return value
        finally:
            client.close()
    except KafkaException as exc:
        raise _failure(exc) from None
    return None
