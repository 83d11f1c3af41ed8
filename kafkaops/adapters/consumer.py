"""A consumer of one topic (confluent-kafka), behind plain Python types.

Procedures get a :class:`TopicConsumer` from :func:`open_consumer` and talk to it in partitions and
offsets (ints, :class:`PartitionOffset`), :class:`StreamEvent` for what librdkafka reports in the
message stream, and messages (read through :class:`Message`'s methods, never copied: the consumer
reads hundreds of thousands a second). TopicPartition, the OFFSET_* constants, KafkaException and
KafkaError stay here, imported lazily so that ``kafkaops --help`` never loads confluent_kafka.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from kafkaops.adapters import kafka
from kafkaops.errors import KafkaopsError

if TYPE_CHECKING:  # settings reads server.properties through adapters.javaprops: no run-time import back
    from kafkaops.settings import Settings

# Errors in the message stream that end the read: nothing will come from this topic for this client.
_FATAL_CODES = frozenset({"UNKNOWN_TOPIC_OR_PART", "TOPIC_AUTHORIZATION_FAILED", "GROUP_AUTHORIZATION_FAILED"})
# The group coordinator is moving or still loading (a fresh cluster creating __consumer_offsets): ask again.
_COORDINATOR_CODES = frozenset({"NOT_COORDINATOR", "COORDINATOR_LOAD_IN_PROGRESS", "COORDINATOR_NOT_AVAILABLE"})
_COORDINATOR_BACKOFF, _COORDINATOR_BACKOFF_MAX = 0.05, 0.5  # seconds between two asks: doubled each time, up to the max


class Message(Protocol):
    """What kafkaops reads of a consumed message (confluent_kafka.Message has these methods)."""

    def topic(self) -> str: ...
    def partition(self) -> int: ...
    def offset(self) -> int: ...
    def timestamp(self) -> tuple[int, int]: ...  # (type, ms): type 0 means no timestamp
    def key(self) -> bytes | None: ...
    def value(self) -> bytes | None: ...
    def headers(self) -> list[tuple[str, bytes | None]] | None: ...


@dataclass(frozen=True)
class PartitionOffset:
    partition: int
    offset: int


@dataclass(frozen=True)
class StreamEvent:
    """Something librdkafka reported in the message stream instead of a message.

    ``end``: the partition is read up to ``offset`` (its end when it was reported); ``fatal``: reading
    cannot go on (an unknown topic, a refused authorization, a fatal client error); ``transient``:
    librdkafka retries by itself (a dropped broker connection, ...), worth a warning.
    """

    kind: Literal["end", "fatal", "transient"]
    partition: int
    offset: int
    text: str


def kafka_error(exc: BaseException, what: str) -> KafkaopsError:
    """A KafkaException as one line: ``what`` and librdkafka's reason."""
    err = exc.args[0] if exc.args else None
    text = err.str() if err is not None and hasattr(err, "str") else str(exc)
    return KafkaopsError(f"{what}: {text}", hint="check the broker with `kafkaops status` or `kafkaops doctor`")


def _error_name(err: Any) -> str | None:
    """A KafkaError's code name (NOT_COORDINATOR, ...), None for anything else."""
    name = getattr(err, "name", None)
    return name() if callable(name) else None


def classify(message: Any) -> StreamEvent:
    """The event a message carrying an error stands for."""
    err = message.error()
    name = err.name()
    if name == "_PARTITION_EOF":
        kind: Literal["end", "fatal", "transient"] = "end"
    elif err.fatal() or name in _FATAL_CODES:
        kind = "fatal"
    else:
        kind = "transient"
    return StreamEvent(kind, message.partition(), message.offset(), err.str())


def _config(settings: Settings, group_id: str, from_beginning: bool, isolation: str = "read_committed") -> dict[str, Any]:
    return kafka.client_config(
        settings,
        **{
            "group.id": group_id,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest" if from_beginning else "latest",
            "isolation.level": isolation,  # read_committed: events of aborted (or still open) transactions are not shown
            # Read-ahead: once librdkafka's queue holds queued.min.messages (100,000, its default) it
            # pauses fetching for fetch.queue.backoff.ms, 1 s by default: a consumer that drains the
            # queue fast would wait for that second over and over. 10 ms keeps it fed.
            "fetch.queue.backoff.ms": 10,
        },
    )


def open_consumer(settings: Settings, topic: str, group_id: str, from_beginning: bool, isolation: str = "read_committed") -> TopicConsumer:
    """A consumer for ``topic`` in group ``group_id`` that commits only when told to and reports partition
    ends; bad client settings raise one readable error (exit 2)."""
    return TopicConsumer(settings, topic, kafka.consumer(settings, _config(settings, group_id, from_beginning, isolation)))


class TopicConsumer:
    """One confluent-kafka Consumer reading one topic."""

    def __init__(self, settings: Settings, topic: str, client: Any) -> None:
        self.settings = settings
        self.topic = topic
        self._client = client

    # --- before reading ---

    def topic_partitions(self, timeout: float = 5.0) -> tuple[list[int] | None, list[str]]:
        """(this topic's partitions, or None when the cluster does not have it; every topic's name)."""
        md = kafka.metadata(self.settings, timeout=timeout, client=self._client)
        found = md.topics.get(self.topic)
        if found is None or (found.error is not None and not found.partitions):
            return None, sorted(md.topics)
        return sorted(found.partitions), sorted(md.topics)

    def watermarks(self, partitions: Sequence[int], timeout: float = 10.0) -> dict[int, kafka.Watermark]:
        return kafka.watermarks(self._client, self.topic, list(partitions), timeout)

    def offsets_for_time(self, partitions: Sequence[int], timestamp_ms: int, timeout: float = 10.0) -> dict[int, int | None]:
        """Per partition the offset of the first message with a timestamp at or after ``timestamp_ms``
        (the broker's offsets-for-times lookup); None when no message is that late."""
        from confluent_kafka import KafkaException, TopicPartition

        try:
            tps = self._client.offsets_for_times([TopicPartition(self.topic, p, timestamp_ms) for p in partitions], timeout=timeout)
        except KafkaException as exc:
            raise kafka_error(exc, f"cannot look up the offsets of {self.topic} by time") from None
        for tp in tps:
            if tp.error is not None:
                raise KafkaopsError(f"cannot look up the offsets of {self.topic} partition {tp.partition} by time: {tp.error.str()}")
        return {tp.partition: (tp.offset if tp.offset >= 0 else None) for tp in tps}

    def pause(self, partitions: Sequence[int]) -> None:
        """Fetch nothing more from these partitions (best effort: a paused partition's messages are dropped anyway)."""
        from confluent_kafka import TopicPartition

        with suppress(Exception):
            self._client.pause([TopicPartition(self.topic, p) for p in partitions])

    def committed(self, partitions: Sequence[int], timeout: float = 10.0) -> dict[int, int | None]:
        """The group's committed offset per partition (None: nothing committed).

        The group's coordinator may not be ready yet: on a fresh cluster the first group request makes
        Kafka create __consumer_offsets, and until its partition has loaded the brokers answer
        NOT_COORDINATOR (or COORDINATOR_LOAD_IN_PROGRESS / COORDINATOR_NOT_AVAILABLE). Those are retried,
        with a short backoff, until ``timeout`` is spent; any other error is raised at once.
        """
        from confluent_kafka import KafkaException, TopicPartition

        deadline = time.monotonic() + timeout
        backoff = _COORDINATOR_BACKOFF
        while True:
            try:
                tps = self._client.committed([TopicPartition(self.topic, p) for p in partitions], timeout=max(deadline - time.monotonic(), 0.1))
            except KafkaException as exc:
                left = deadline - time.monotonic()
                if _error_name(exc.args[0] if exc.args else None) not in _COORDINATOR_CODES or left <= backoff:
                    raise kafka_error(exc, "cannot read the group's committed offsets") from None
                time.sleep(backoff)
                backoff = min(backoff * 2, _COORDINATOR_BACKOFF_MAX)
                continue
            return {tp.partition: (tp.offset if tp.offset >= 0 else None) for tp in tps}

    def assign(self, starts: Sequence[PartitionOffset]) -> None:
        """Read these partitions from these offsets, outside any group."""
        from confluent_kafka import TopicPartition

        self._client.assign([TopicPartition(self.topic, s.partition, s.offset) for s in starts])

    def subscribe(
        self,
        on_assign: Callable[[list[int]], dict[int, int]],
        on_revoke: Callable[[list[int]], None],
        on_lost: Callable[[list[int]], None],
    ) -> None:
        """Join the group. ``on_assign`` gets the partitions given to this consumer and returns where to
        start on some of them; the others start at the group's committed offset (else auto.offset.reset).
        librdkafka calls these from inside :meth:`consume`."""
        from confluent_kafka import OFFSET_INVALID

        def assigned(client: Any, tps: list[Any]) -> None:
            starts = on_assign([tp.partition for tp in tps])
            for tp in tps:
                tp.offset = starts.get(tp.partition, OFFSET_INVALID)
            client.assign(tps)

        def revoked(client: Any, tps: list[Any]) -> None:
            on_revoke([tp.partition for tp in tps])
            client.unassign()

        def lost(client: Any, tps: list[Any]) -> None:
            on_lost([tp.partition for tp in tps])
            client.unassign()

        self._client.subscribe([self.topic], on_assign=assigned, on_revoke=revoked, on_lost=lost)

    # --- reading ---

    def consume(self, count: int, timeout: float) -> tuple[list[Any], list[StreamEvent]]:
        """Up to ``count`` messages within ``timeout`` seconds, and the events that came with them."""
        from confluent_kafka import KafkaException

        try:
            msgs = self._client.consume(num_messages=count, timeout=timeout)
        except KafkaException as exc:
            raise kafka_error(exc, f"reading {self.topic} failed") from None
        batch = [m for m in msgs if m.error() is None]
        if len(batch) == len(msgs):
            return batch, []
        return batch, [classify(m) for m in msgs if m.error() is not None]

    def positions(self, partitions: Sequence[int]) -> list[PartitionOffset]:
        """The next offset the consumer will read per partition (a negative one: none yet); [] when
        the consumer cannot say (best effort)."""
        from confluent_kafka import TopicPartition

        try:
            tps = self._client.position([TopicPartition(self.topic, p) for p in partitions])
        except Exception:  # noqa: BLE001 - best effort: callers have other signals
            return []
        return [PartitionOffset(tp.partition, tp.offset) for tp in tps]

    def commit(self, offsets: dict[int, int], asynchronous: bool) -> str | None:
        """Commit ``offsets`` (partition -> next offset) for the group; the reason when it failed."""
        from confluent_kafka import KafkaException, TopicPartition

        try:
            self._client.commit(offsets=[TopicPartition(self.topic, p, o) for p, o in offsets.items()], asynchronous=asynchronous)
        except KafkaException as exc:
            err = exc.args[0] if exc.args else exc
            return str(getattr(err, "str", lambda: err)())
        return None

    def close(self) -> None:
        with suppress(Exception):  # closing is best effort: the broker forgets a silent member anyway
            self._client.close()
