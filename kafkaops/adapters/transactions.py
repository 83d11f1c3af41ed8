"""Kafka transactions for ``produce --exactly-once`` (confluent-kafka): the transactional producer, its
begin/commit/abort with errors translated, and the read_committed look at the end of a topic that
recovers a pipeline's position after a crash between a Kafka commit and the offset update.

confluent_kafka is imported only when a producer or consumer is made or an error is translated.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from kafkaops.adapters.kafka import client_config, consumer
from kafkaops.adapters.kafka import producer as _producer
from kafkaops.adapters.producer import producer_config
from kafkaops.errors import KafkaopsError, RefusedError, UnreachableError

if TYPE_CHECKING:
    from kafkaops.settings import Settings

TXN_HEADER = "kafkaops.txn"  # <producer_offsets.txn_token>:<last_id> as the transaction began, then ":<batch's last id>"
MAX_TXN_ID = 200  # transactional.id longer than this: hashed (the broker keeps it in __transaction_state)
FENCED = ("_FENCED", "PRODUCER_FENCED", "INVALID_PRODUCER_EPOCH", "INVALID_PRODUCER_ID_MAPPING")


def transactional_id(table: str, topic: str) -> str:
    """The pipeline's stable transactional.id: a restarted run fences the one before it.
    ``kafkaops-<schema.table>-<topic>``, or a hash of it when that is over MAX_TXN_ID characters."""
    plain = f"kafkaops-{table}-{topic}"
    if len(plain) <= MAX_TXN_ID:
        return plain
    return f"kafkaops-{hashlib.sha256(plain.encode()).hexdigest()[:32]}"


def new_token() -> str:
    """A fresh transaction token: unique, so that no earlier event can carry it."""
    return uuid.uuid4().hex


class FencedError(RefusedError):
    """Another producer with this pipeline's transactional.id started: this one may not go on (exit 5)."""


def fenced(txn_id: str) -> FencedError:
    return FencedError(
        f"this producer was fenced: another producer with transactional.id {txn_id} started (a newer run of the same pipeline); "
        "its open transaction was aborted and the offset stays at the last committed one",
        hint="only one producer per pipeline may run; check which one should, then rerun `kafkaops produce --exactly-once` if needed",
    )


def _code(exc: BaseException) -> tuple[str, Any]:
    err: Any = exc.args[0] if exc.args else None
    return (err.name() if hasattr(err, "name") else str(exc)), err


def translate(exc: BaseException, txn_id: str, broker: str, what: str) -> KafkaopsError:
    """A KafkaException from a transaction call as the user's error: fenced (exit 5), the broker
    not answering (exit 4), or a failure (exit 1)."""
    code, err = _code(exc)
    if code in FENCED:
        return fenced(txn_id)
    text = err.str() if hasattr(err, "str") else str(exc)
    if (hasattr(err, "retriable") and err.retriable()) or code in (
        "_TIMED_OUT",
        "_TRANSPORT",
        "_ALL_BROKERS_DOWN",
        "_MSG_TIMED_OUT",
        "COORDINATOR_NOT_AVAILABLE",
    ):
        return UnreachableError(
            f"Kafka at {broker} did not complete the transaction ({what}: {code})",
            hint="check the broker with `kafkaops status`; rerun `kafkaops produce --exactly-once` once it is up (nothing committed is lost or re-sent)",
        )
    return KafkaopsError(f"the Kafka transaction failed ({what}): {code}: {text}", hint="see `kafkaops runbook producer exactly-once`")


class Transactions:
    """One transactional producer: ``open`` (init_transactions fences an earlier producer of the pipeline),
    ``begin``, ``commit``, ``abort``; errors come out translated (:func:`translate`)."""

    def __init__(self, settings: Settings, txn_id: str, delivery_timeout: float, partitioner: str | None = None) -> None:
        self.settings, self.txn_id, self.timeout, self.partitioner = settings, txn_id, delivery_timeout, partitioner
        self.producer: Any = None
        self.open_txn = False
        self.fatal: list[Any] = []  # fatal errors librdkafka reported (fenced, ...): the producer cannot go on

    def open(self, max_message_bytes: int) -> Any:
        from confluent_kafka import KafkaException

        def on_error(err: Any) -> None:
            if err.fatal():
                self.fatal.append(err)

        conf = producer_config(self.settings, self.timeout, max_message_bytes, self.partitioner)
        # message.timeout.ms may not exceed transaction.timeout.ms (librdkafka refuses the config)
        conf.update({"transactional.id": self.txn_id, "transaction.timeout.ms": max(60_000, int(self.timeout * 1000) + 5000), "error_cb": on_error})
        self.producer = _producer(self.settings, conf)
        try:
            self.producer.init_transactions(self.timeout + 5)
        except KafkaException as exc:
            raise translate(exc, self.txn_id, self.settings.kafka_broker, "init_transactions") from None
        return self.producer

    def begin(self) -> None:
        from confluent_kafka import KafkaException

        try:
            self.producer.begin_transaction()
        except KafkaException as exc:
            raise translate(exc, self.txn_id, self.settings.kafka_broker, "begin_transaction") from None
        self.open_txn = True

    def commit(self) -> None:
        """Commit (flushing first); on failure abort what can be aborted and raise. When the abort finds
        this producer fenced, that is the error: a Kafka 3.9 coordinator answers a commit that arrives
        while it fences the epoch for a newer producer with UNKNOWN_SERVER_ERROR (an IllegalStateException
        in TransactionCoordinator.endTransaction), and only the abort after it says "fenced"."""
        from confluent_kafka import KafkaException

        try:
            self.producer.commit_transaction(self.timeout + 5)
        except KafkaException as exc:
            error = translate(exc, self.txn_id, self.settings.kafka_broker, "commit_transaction")
            on_abort = self.abort()
            raise on_abort if isinstance(on_abort, FencedError) else error from None
        self.open_txn = False

    def abort(self) -> KafkaopsError | None:
        """Abort the open transaction, bounded; a producer that cannot (fenced, broker gone) leaves
        it to the broker: the next run's init_transactions aborts it. Returns why it could not."""
        from confluent_kafka import KafkaException

        if not self.open_txn or self.producer is None:
            return None
        self.open_txn = False
        try:
            self.producer.abort_transaction(min(self.timeout, 10.0))
        except KafkaException as exc:
            return translate(exc, self.txn_id, self.settings.kafka_broker, "abort_transaction")
        return None


def header_values(settings: Settings, topic: str, window: int, timeout: float = 30.0) -> Iterator[bytes]:
    """The ``kafkaops.txn`` header values of the committed events in the last ``window`` offsets of
    each partition of ``topic``, read by a read_committed consumer (aborted events are not seen)."""
    from confluent_kafka import KafkaError, TopicPartition

    conf = {"group.id": f"kafkaops-recover-{uuid.uuid4().hex}", "enable.auto.commit": False, "isolation.level": "read_committed", "enable.partition.eof": True}
    c = consumer(settings, client_config(settings, **conf))
    try:
        md = c.list_topics(topic, timeout=10)
        starts = []
        for p in sorted(md.topics[topic].partitions):
            low, high = c.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout)
            if high > low:
                starts.append(TopicPartition(topic, p, max(low, high - window)))
        c.assign(starts)
        left = {tp.partition for tp in starts}
        deadline = time.monotonic() + timeout
        while left:
            if time.monotonic() > deadline:
                raise UnreachableError(
                    f"could not read the end of topic {topic} within {timeout:g}s to recover the position", hint="check the broker with `kafkaops status`"
                )
            for msg in c.consume(5000, timeout=0.5):
                err = msg.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        left.discard(msg.partition())
                    continue
                for name, value in msg.headers() or ():
                    if name == TXN_HEADER and value is not None:
                        yield value
    finally:
        c.close()
