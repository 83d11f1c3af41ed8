"""The Kafka side of a run: batches in flight and their delivery reports, and what a failure means."""

from __future__ import annotations

import functools
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from kafkaops.adapters import producer as kafka_producer
from kafkaops.errors import KafkaopsError, NotReady, UnreachableError
from kafkaops.settings import Settings


class Batch:
    """One batch of events in flight: its last row (where the offset moves once it is acknowledged)
    and the count of delivery reports still to come, with the failures among them."""

    __slots__ = ("last_id", "last_created_at", "count", "pending", "errors", "failed_keys", "sent_at")

    def __init__(self, last_id: int, last_created_at: Any, count: int) -> None:
        self.last_id = last_id
        self.last_created_at = last_created_at
        self.count = count
        self.pending = count
        self.errors: list[Any] = []
        self.failed_keys: list[str] = []  # the rows (keys) whose delivery failed
        self.sent_at = time.monotonic()

    def ack(self, err: Any, msg: Any) -> None:
        self.pending -= 1
        if err is not None:
            self.errors.append(err)
            key = msg.key() if msg is not None else None
            if key is not None:
                self.failed_keys.append(key.decode() if isinstance(key, bytes) else str(key))


def delivery_error(errors: list[Any], topic: str, delivery_timeout: float, broker: str, keys: list[str] | None = None) -> KafkaopsError:
    """The first failed delivery report as the user's error: the row, a missing topic, a broker
    that did not answer (exit 4), or a rejection."""
    code, text = kafka_producer.error_text(errors[0])
    kind = kafka_producer.failure_kind(code)
    if kind == "too-large" and keys:
        return KafkaopsError(
            f"Kafka refused row id={keys[0]} as too large for topic {topic} ({code}: {text})",
            hint="raise the topic's max.message.bytes, make the row smaller, or rerun with `kafkaops produce --skip-oversize`",
            runbook="failures row-too-large",
        )
    if kind == "missing-topic":
        return NotReady(f"topic {topic} does not exist (Kafka: {text})", hint=f"create it with `kafkaops topics create {topic}`")
    if kind == "retriable":
        return UnreachableError(
            f"Kafka at {broker} did not acknowledge {len(errors)} event(s) within {delivery_timeout:g}s ({code})",
            hint="check the broker with `kafkaops status`; rerun `kafkaops produce` once it is up (nothing acknowledged is lost)",
        )
    return KafkaopsError(f"Kafka rejected {len(errors)} event(s): {code}: {text}", hint="see `kafkaops runbook producer`")


def check_topic(settings: Settings, topic: str) -> None:
    """Refuse (exit 3) a topic the broker does not have: produce never relies on auto-creation."""
    from kafkaops.adapters.kafka import MISSING_TOPIC, metadata

    md = metadata(settings, timeout=5.0)
    info = md.topics.get(topic)
    if info is None or (info.error is not None and info.error.name() in MISSING_TOPIC):
        raise NotReady(f"topic {topic} does not exist on {settings.kafka_broker}", hint=f"create it with `kafkaops topics create {topic}`")


# How long a producer that says _FATAL is given to report why through its error callback.
FATAL_REASON_WAIT_S = 2.0


class DeliveryTracker:
    """The batches in flight, in order, and their delivery reports.

    ``send`` queues a batch's events; ``drain`` serves delivery reports and hands each fully
    acknowledged batch at the head to ``commit`` (so the offset only ever moves past an acknowledged
    prefix); the first failure stops the run once what came before it is committed.
    """

    def __init__(self, commit: Callable[[Batch], None], *, topic: str, table: str, broker: str, delivery_timeout: float) -> None:
        self.commit = commit
        self.topic, self.table, self.broker, self.delivery_timeout = topic, table, broker, delivery_timeout
        self.producer: Any = None
        self.fatal: list[Any] = []
        self.inflight: deque[Batch] = deque()

    def open(self, settings: Settings, max_message_bytes: int, partitioner: str | None = None) -> None:
        """The idempotent producer, its size limits following the topic's max.message.bytes
        (``partitioner``: see ``debezium.partitioner``)."""
        self.producer = kafka_producer.open_producer(settings, self.delivery_timeout, max_message_bytes, self.fatal.append, partitioner)

    def send(self, batch: Batch, rows: list[tuple[Any, ...]], headers: Any = None) -> int:
        """Queue a batch's events (key, created_at, value; None: not sent, the offset passes it),
        each with ``headers`` if given."""
        refused = kafka_producer.refusal_class()
        topic, produce, poll, ack = self.topic, self.producer.produce, self.producer.poll, batch.ack
        if headers is not None:
            produce = functools.partial(produce, headers=headers)
        n = 0
        for key, _created, v in rows:
            if v is None:  # skipped (by the mapper, or too large with --skip-oversize)
                batch.pending -= 1
                continue
            while True:
                try:
                    produce(topic, v, key, on_delivery=ack)
                    break
                except BufferError:  # the local queue is full: serve delivery reports, then retry
                    poll(0.05)
                except refused as exc:  # refused before sending (a size or config limit of librdkafka, or a failed producer)
                    if kafka_producer.is_fatal_refusal(exc):
                        self._stop_on_fatal()
                    raise KafkaopsError(
                        f"Kafka's client refused row id={key} of {self.table}: {kafka_producer.refusal_text(exc)}", hint="see `kafkaops runbook producer`"
                    ) from None
            n += 1
        poll(0)
        return n

    def drain(self, *, until_below: int) -> None:
        """Serve delivery reports and commit fully acknowledged batches (in order) until fewer than
        ``until_below`` batches are in flight. A failed batch stops the run after what came before it
        is committed."""
        poll = self.producer.poll
        grace = self.delivery_timeout + 15.0
        while self.inflight:
            head = self.inflight[0]
            if head.pending <= 0:
                if head.errors:
                    self._fail()
                self.commit(head)
                self.inflight.popleft()
                continue
            if self.fatal:
                self._stop_with_fatal()
            if len(self.inflight) < until_below:
                poll(0)
                return
            poll(0.1)
            if time.monotonic() - head.sent_at > grace:
                raise UnreachableError(
                    f"Kafka at {self.broker} sent no delivery report for {head.pending} event(s) within {grace:g}s",
                    hint="check the broker with `kafkaops status`; rerun `kafkaops produce` once it is up",
                )

    def flush(self) -> None:
        """Wait (bounded) for the delivery reports of everything in flight."""
        self.producer.flush(self.delivery_timeout + 5)

    def acknowledged(self) -> Iterator[Batch]:
        """Take the fully and successfully acknowledged batches off the head, in order."""
        while self.inflight and self.inflight[0].pending <= 0 and not self.inflight[0].errors:
            yield self.inflight[0]
            self.inflight.popleft()

    def _stop_on_fatal(self) -> None:
        """The producer failed for good (fenced, ...): produce() only says _FATAL, and the reason reaches the
        error callback on a later poll (kafka.FatalToErrorCallback). Serve it (bounded), then stop with that reason."""
        deadline = time.monotonic() + FATAL_REASON_WAIT_S
        while not self.fatal and time.monotonic() < deadline:
            self.producer.poll(0.05)
        if self.fatal:
            self._stop_with_fatal()

    def _stop_with_fatal(self) -> None:
        """Stop because librdkafka reported a fatal error (``self.fatal``); the transactional tracker aborts first."""
        self._fail()

    def _fail(self) -> None:
        """Stop: wait (bounded) for the reports of what is still in flight, commit the acknowledged
        prefix, then raise the first failure."""
        self.flush()
        errors = [e for b in self.inflight for e in b.errors] + list(self.fatal)
        keys = [k for b in self.inflight for k in b.failed_keys]
        for batch in self.acknowledged():
            self.commit(batch)
        if self.fatal and not [b for b in self.inflight if b.errors]:
            code, text = kafka_producer.error_text(self.fatal[0])
            raise KafkaopsError(f"the Kafka producer failed: {code}: {text}")
        raise delivery_error(errors or list(self.fatal), self.topic, self.delivery_timeout, self.broker, keys)
