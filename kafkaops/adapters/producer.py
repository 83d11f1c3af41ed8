"""The producer's side of Kafka (confluent-kafka): event sizes against a topic's limit, the idempotent
producer's settings and factory, and what a refusal or a delivery report's error means.

confluent_kafka is imported only when a producer is made or a refusal is caught, so that
``kafkaops --help`` stays fast.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kafkaops.adapters.kafka import MISSING_TOPIC, RETRIABLE, client_config
from kafkaops.adapters.kafka import producer as _producer

if TYPE_CHECKING:  # settings reads server.properties through adapters.javaprops: no run-time import back
    from kafkaops.settings import Settings

# Kafka's default max.message.bytes (the broker's, which a topic inherits unless it sets its own).
DEFAULT_MAX_MESSAGE_BYTES = 1048588

# librdkafka's partitioner that puts a keyed message where Java's default partitioner (Kafka
# Connect's producers) puts the same key bytes: murmur2 of the key, positive, modulo the partition
# count. librdkafka's own default (consistent_random) hashes with CRC32 and picks other partitions.
JAVA_PARTITIONER = "murmur2_random"


def record_size(event_bytes: int) -> int:
    """The largest record batch one event (key and value, ``event_bytes``) can make: the batch and
    record headers (61 + at most 32 bytes) and lz4's worst case (1/255 more, plus 16) on top of it.
    The broker refuses a batch over the topic's max.message.bytes."""
    return event_bytes + event_bytes // 255 + 128


def max_event_bytes(limit: int) -> int:
    """The largest event (key and value) whose record batch fits in ``limit`` bytes."""
    n = max(0, (limit - 128) * 255 // 256)
    while record_size(n + 1) <= limit:
        n += 1
    while n > 0 and record_size(n) > limit:
        n -= 1
    return n


def producer_config(
    settings: Settings, delivery_timeout: float, max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES, partitioner: str | None = None
) -> dict[str, Any]:
    """The idempotent producer's settings. Its size limits follow the topic's max.message.bytes: one
    event as large as the topic takes is accepted (librdkafka's own default, 1,000,000 bytes, would
    refuse it), and a batch of many events stays within what the broker accepts. ``partitioner``
    (None: librdkafka's default) gives way to one the user set (-X partitioner=..., a profile)."""
    conf = client_config(
        settings,
        **{
            "message.max.bytes": max(1_000_000, max_message_bytes),
            "batch.size": max(1, min(1_000_000, max_event_bytes(max_message_bytes))),
            "enable.idempotence": True,
            "acks": "all",
            "allow.auto.create.topics": False,
            "message.timeout.ms": int(delivery_timeout * 1000),
            "linger.ms": 5,
            "batch.num.messages": 10000,
            "compression.type": "lz4",
            "queue.buffering.max.kbytes": 65536,  # bounds memory whatever the backlog
        },
    )
    if partitioner is not None:
        conf.setdefault("partitioner", partitioner)  # the user's setting is already in conf
    return conf


def open_producer(settings: Settings, delivery_timeout: float, max_message_bytes: int, on_fatal: Callable[[Any], None], partitioner: str | None = None) -> Any:
    """The idempotent producer (bad settings: one readable error, exit 2); ``on_fatal`` gets each
    fatal error librdkafka reports (the producer cannot go on after one); ``partitioner``: see
    :func:`producer_config`."""

    def on_error(err: Any) -> None:
        if err.fatal():
            on_fatal(err)

    conf = producer_config(settings, delivery_timeout, max_message_bytes, partitioner)
    conf["error_cb"] = on_error
    return _producer(settings, conf)


@functools.cache
def refusal_class() -> type[BaseException]:
    """The exception ``Producer.produce`` raises when librdkafka refuses an event before sending it."""
    from confluent_kafka import KafkaException

    return KafkaException  # type: ignore[no-any-return]


def is_fatal_refusal(exc: BaseException) -> bool:
    """Whether a refusal only says the producer has failed for good (its reason comes to the error callback)."""
    err: Any = exc.args[0] if exc.args else None
    return hasattr(err, "name") and err.name() == "_FATAL"


def refusal_text(exc: BaseException) -> str:
    """``NAME: text`` of a refusal (:func:`refusal_class`)."""
    err = exc.args[0]
    return f"{err.name()}: {err.str()}"


def error_text(err: Any) -> tuple[str, str]:
    """(code, text) of a KafkaError from a delivery report or the error callback."""
    code = err.name() if hasattr(err, "name") else str(err)
    text = err.str() if hasattr(err, "str") else str(err)
    return code, text


def failure_kind(code: str) -> str:
    """What a delivery failure's code means: "too-large", "missing-topic", "retriable" or "rejected"."""
    if code == "MSG_SIZE_TOO_LARGE":
        return "too-large"
    if code in MISSING_TOPIC:
        return "missing-topic"
    if code in RETRIABLE:
        return "retriable"
    return "rejected"
