"""Kafka clients (confluent-kafka): configuration, the admin client, and metadata requests.

Every call has a short, explicit timeout so that an unreachable broker fails in seconds, not
after librdkafka's default minute; librdkafka's own log lines are kept off the user's terminal.
"""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kafkaops.adapters.kafka_security import (  # noqa: F401 - re-exported: callers import these from here
    SECURITY_VARIABLES,
    ClientSecurityError,
    _check_files,
    _handshake_closed,
    classify,
    config_error,
    setting_is,
    setting_name,
)
from kafkaops.errors import KafkaopsError, UnreachableError

if TYPE_CHECKING:  # settings reads server.properties through adapters.javaprops: no run-time import back
    from kafkaops.settings import Settings

_quiet = logging.getLogger("kafkaops.librdkafka")
_quiet.addHandler(logging.NullHandler())
_quiet.propagate = False

# Kafka and librdkafka error names (KafkaError.name()), grouped by what kafkaops makes of them.
# The one copy: procedures import these rather than spelling the names again.
NO_ANSWER = frozenset({"_TRANSPORT", "_TIMED_OUT", "_ALL_BROKERS_DOWN", "_RESOLVE"})  # no broker answered the client
UNREACHABLE = NO_ANSWER | {"REQUEST_TIMED_OUT"}  # ... or a broker's answer came too late: "unreachable" (exit 4)
# A metadata answer cut short ("Local: Partial response"), seen from a broker that has just started while the
# cluster's controller changes (a ZooKeeper-to-KRaft migration): asked again within the timeout, like no answer.
METADATA_RETRY = NO_ANSWER | {"_PARTIAL"}
# A delivery that failed for a reason a rerun fixes once the broker is back (nothing acknowledged is lost).
RETRIABLE = frozenset(
    {
        "_MSG_TIMED_OUT",
        "_TRANSPORT",
        "_ALL_BROKERS_DOWN",
        "_TIMED_OUT",
        "REQUEST_TIMED_OUT",
        "NOT_ENOUGH_REPLICAS",
        "LEADER_NOT_AVAILABLE",
        "NOT_LEADER_FOR_PARTITION",
    }
)
MISSING_TOPIC = frozenset({"UNKNOWN_TOPIC_OR_PART", "_UNKNOWN_TOPIC", "_UNKNOWN_PARTITION"})  # a producer's topic is not there
UNKNOWN_TOPIC = frozenset({"UNKNOWN_TOPIC_OR_PART", "UNKNOWN_TOPIC_ID"})  # an admin request named a topic the broker does not know


def client_config(settings: Settings, bootstrap: str | None = None, /, **extra: Any) -> dict[str, Any]:
    """The librdkafka configuration shared by every client kafkaops creates; ``extra`` holds librdkafka
    properties (e.g. ``**{"group.id": ...}``), which is why the two parameters are positional-only."""
    conf: dict[str, Any] = {
        "bootstrap.servers": bootstrap or settings.kafka_broker,
        "client.id": settings.kafka_client_id,
        "logger": _quiet,
        "socket.connection.setup.timeout.ms": 5000,
        # librdkafka connects to a broker it learned from the first metadata answer at most once per
        # reconnect.backoff.ms / 2 (its "sparse connection" interval, 11 ms at least): at the default
        # 100 ms every short command waited ~50 ms for its first request. See bench/README.md.
        "reconnect.backoff.ms": 22,
        "reconnect.backoff.max.ms": 1000,
    }
    conf.update(settings.client_security)
    conf.update(extra)
    return conf


class ClientWatch:
    """What librdkafka reported about one client's connections: its error callbacks and log lines.

    librdkafka retries a refused login or a failed TLS handshake until the caller's timeout, and the
    caller only sees "transport failure"; the reason is in these reports (served by ``poll``).
    """

    MAX_EVENTS = 200

    def __init__(self, chained_error_cb: Any = None) -> None:
        self.events: list[tuple[str, str]] = []  # (error name or "LOG", text)
        self.chained = chained_error_cb  # the caller's own error_cb

    def error(self, err: Any) -> None:
        self._add(err.name() if hasattr(err, "name") else "_UNKNOWN", err.str() if hasattr(err, "str") else str(err))
        if self.chained is not None:
            self.chained(err)

    def log(self, level: int, msg: str, *args: Any) -> None:  # the interface librdkafka's logger uses
        try:
            text = msg % args if args else msg
        except (TypeError, ValueError):
            text = " ".join([msg, *map(str, args)])
        self._add("LOG", text)

    def _add(self, code: str, text: str) -> None:
        if len(self.events) < self.MAX_EVENTS:
            self.events.append((code, text))


def _build(kind: str, settings: Settings, conf: dict[str, Any]) -> Any:
    """Create a client that reports its connection problems to a ClientWatch (``metadata`` reads it)."""
    _check_files(settings)
    watch = ClientWatch(conf.get("error_cb"))
    conf = {**conf, "error_cb": watch.error, "logger": watch}
    try:
        client = _client_classes()[kind](conf)
    except Exception as exc:  # KafkaException (or ValueError/TypeError) for a configuration librdkafka refuses
        raise config_error(exc, settings) from None
    client.kafkaops_watch = watch
    return client


def pass_fatal(client: Any, exc: BaseException) -> None:
    """Hand a fatal error that confluent-kafka raised from ``poll``/``flush`` to the client's own error callback;
    raise it again when the caller gave none (or it is not a fatal error)."""
    err: Any = exc.args[0] if exc.args else None
    watch: ClientWatch | None = getattr(client, "kafkaops_watch", None)
    if watch is None or watch.chained is None or not (hasattr(err, "fatal") and err.fatal()):
        raise exc
    watch.error(err)


class FatalToErrorCallback:
    """Mixed into the Producer. confluent-kafka raises a fatal error (a fenced transactional producer, a broken
    idempotent sequence) from ``poll()`` and ``flush()`` instead of passing it to ``error_cb`` (confluent_kafka.c,
    ``error_cb``), so the call that meets it depends on timing. Here it goes to the caller's error callback like
    any other error, and the caller stops where it checks for fatal errors; ``flush`` then returns what is still
    queued."""

    def poll(self, *args: Any, **kwargs: Any) -> int:
        from confluent_kafka import KafkaException

        try:
            return super().poll(*args, **kwargs)  # type: ignore[misc,no-any-return]
        except KafkaException as exc:
            pass_fatal(self, exc)
            return 0

    def flush(self, *args: Any, **kwargs: Any) -> int:
        from confluent_kafka import KafkaException

        try:
            return super().flush(*args, **kwargs)  # type: ignore[misc,no-any-return]
        except KafkaException as exc:
            pass_fatal(self, exc)
            return len(self)  # type: ignore[arg-type]


@functools.cache
def _client_classes() -> dict[str, type]:
    """confluent-kafka's clients, subclassed so that each can carry its watch (its own are C types); the
    Producer also hands fatal errors to its error callback (FatalToErrorCallback)."""
    from confluent_kafka import Consumer, Producer
    from confluent_kafka.admin import AdminClient

    return {
        "admin": type("WatchedAdminClient", (AdminClient,), {}),
        "producer": type("WatchedProducer", (FatalToErrorCallback, Producer), {}),
        "consumer": type("WatchedConsumer", (Consumer,), {}),
    }


def preload_clients() -> None:
    """Import confluent-kafka now (about 0.05 s), e.g. while a broker starts, rather than when it answers."""
    _client_classes()


def admin(settings: Settings, bootstrap: str | None = None) -> Any:
    return _build("admin", settings, client_config(settings, bootstrap))


def producer(settings: Settings, conf: dict[str, Any]) -> Any:
    """A Producer from ``conf`` (built with client_config); bad settings raise ClientSecurityError."""
    return _build("producer", settings, conf)


def consumer(settings: Settings, conf: dict[str, Any]) -> Any:
    """A Consumer from ``conf`` (built with client_config); bad settings raise ClientSecurityError."""
    return _build("consumer", settings, conf)


@dataclass(frozen=True)
class BrokerInfo:
    id: int
    host: str
    port: int


@dataclass(frozen=True)
class ClusterInfo:
    cluster_id: str | None
    controller_id: int | None
    brokers: tuple[BrokerInfo, ...]
    topics: dict[str, Any]  # name -> confluent TopicMetadata


def unreachable(address: str, timeout: float, handshake_closed: bool = False) -> UnreachableError:
    details = []
    if handshake_closed:
        details.append(
            "the broker closed every connection before answering: if that listener is SSL or SASL, "
            "set KAFKA_SECURITY_PROTOCOL (and the KAFKA_SASL_*/KAFKA_SSL_* settings)"
        )
    return UnreachableError(
        f"no Kafka broker answered at {address} within {timeout:g}s",
        hint="check the stack with `kafkaops status` or `kafkaops doctor`; start it with `kafkaops up`",
        details=details,
        runbook="failures broker-unreachable",
    )


# The metadata waits: 0.25 s, 0.5 s, 1 s, then the rest of the timeout. A refused login or TLS handshake
# is reported within ~0.3 s of connecting, so it is seen after the first or second wait; the last wait
# lets a slow answer (a big cluster's metadata) arrive as it would in one long wait.
_FIRST_WAIT = 0.25
_LAST_SHORT_WAIT = 1.0


def metadata(settings: Settings, timeout: float = 5.0, bootstrap: str | None = None, client: Any = None) -> ClusterInfo:
    """One metadata request (it never names a topic, so it can never auto-create one).

    A client built here (admin/producer/consumer) is asked in short waits; between them its reports
    are read, so that a refused login or TLS handshake fails at once (ClientSecurityError, exit 2)
    instead of after ``timeout`` as "unreachable". Pass a consumer only before it subscribes.
    """
    from confluent_kafka import KafkaException

    address = bootstrap or settings.kafka_broker
    client = client if client is not None else admin(settings, bootstrap)  # a client with nothing queued is falsy (len 0)
    watch: ClientWatch | None = getattr(client, "kafkaops_watch", None)
    deadline = time.monotonic() + timeout
    wait = _FIRST_WAIT if watch is not None else timeout
    while True:
        try:
            md = client.list_topics(timeout=max(min(wait, deadline - time.monotonic()), 0.01))
            break
        except KafkaException as exc:
            err = exc.args[0] if exc.args else None
            code = err.name() if err is not None and hasattr(err, "name") else str(exc)
            if code not in METADATA_RETRY:
                raise KafkaopsError(f"metadata request to {address} failed: {err.str() if err is not None and hasattr(err, 'str') else exc}") from None
        if watch is not None:
            client.poll(0)  # serves the error and log reports into the watch
            problem = classify(watch.events, settings, address)
            if problem is not None:
                client = None  # see below
                raise problem
        if time.monotonic() >= deadline - 0.005:
            # Drop this frame's reference first: a client made here is then destroyed now, its threads joined, rather than
            # at interpreter exit, where a broker thread still in a TLS handshake crashed the process (SIGSEGV) in
            # about 1 of 40 runs against a broker with an expired certificate (OpenSSL's exit-time clean-up).
            client = None
            raise unreachable(address, timeout, watch is not None and _handshake_closed(watch.events)) from None
        wait = wait * 2 if wait < _LAST_SHORT_WAIT else timeout
    brokers = tuple(BrokerInfo(b.id, b.host, b.port) for b in md.brokers.values())
    return ClusterInfo(
        cluster_id=md.cluster_id,
        controller_id=md.controller_id if md.controller_id is not None and md.controller_id >= 0 else None,
        brokers=brokers,
        topics=dict(md.topics),
    )


# --------------------------------------------------------------------------------------------
# Topic administration: thin wrappers that turn confluent-kafka futures and KafkaException into
# plain values or a BrokerRequestError that keeps the broker's error code for the caller to map.


class BrokerRequestError(KafkaopsError):
    """A broker (or librdkafka) refused or failed a request; ``code`` is the Kafka error name."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason

    @property
    def unreachable(self) -> bool:
        return self.code in UNREACHABLE


def _request_error(exc: BaseException) -> BrokerRequestError:
    err = exc.args[0] if exc.args else None
    if err is not None and hasattr(err, "name") and hasattr(err, "str"):
        return BrokerRequestError(err.name(), err.str())
    if isinstance(exc, TimeoutError):
        return BrokerRequestError("_TIMED_OUT", "no answer in time")
    return BrokerRequestError("_UNKNOWN", str(exc) or type(exc).__name__)


def request_result(future: Any, timeout: float) -> Any:
    """A request future's value, or BrokerRequestError (Kafka's error name, or _TIMED_OUT after ``timeout``)."""
    from concurrent.futures import TimeoutError as FutureTimeout

    from confluent_kafka import KafkaException

    try:
        return future.result(timeout=timeout)
    except (KafkaException, FutureTimeout, TimeoutError) as exc:
        raise _request_error(exc) from None


_result = request_result  # the short name this module uses


def create_topic(
    client: Any, name: str, partitions: int, replication_factor: int, config: dict[str, str], timeout: float, *, validate_only: bool = False
) -> None:
    from confluent_kafka.admin import NewTopic

    topic = NewTopic(name, partitions, replication_factor, config=dict(config))
    futures = client.create_topics([topic], operation_timeout=timeout, request_timeout=timeout, validate_only=validate_only)
    _result(futures[name], timeout + 1.0)


def delete_topic(client: Any, name: str, timeout: float) -> None:
    futures = client.delete_topics([name], operation_timeout=timeout, request_timeout=timeout)
    _result(futures[name], timeout + 1.0)


@dataclass(frozen=True)
class Watermark:
    partition: int
    low: int | None
    high: int | None
    error: str | None = None


def watermarks(client: Any, topic: str, partitions: list[int], timeout: float) -> dict[int, Watermark]:
    """Earliest and latest offset of each partition (one ListOffsets request per end)."""
    if not hasattr(client, "list_offsets"):  # a Consumer has no ListOffsets: it is asked its own way
        return _consumer_watermarks(client, topic, partitions, timeout)
    from confluent_kafka import TopicPartition
    from confluent_kafka.admin import OffsetSpec

    ends: dict[str, dict[int, int | None]] = {"low": {}, "high": {}}
    errors: dict[int, str] = {}
    for end, spec in (("low", OffsetSpec.earliest()), ("high", OffsetSpec.latest())):
        if not partitions:
            break
        futures = client.list_offsets({TopicPartition(topic, p): spec for p in partitions}, request_timeout=timeout)
        for tp, future in futures.items():
            try:
                ends[end][tp.partition] = _result(future, timeout + 1.0).offset
            except BrokerRequestError as exc:
                if exc.unreachable:
                    raise
                ends[end][tp.partition] = None
                errors[tp.partition] = exc.reason
    return {p: Watermark(p, ends["low"].get(p), ends["high"].get(p), errors.get(p)) for p in partitions}


# --------------------------------------------------------------------------------------------
# Watermarks through a consumer: ``watermarks`` given a Consumer (it has no ListOffsets of its own)
# asks the consumer, so that consume reads them through the same function as doctor, groups and topics.


def _consumer_watermarks(client: Any, topic: str, partitions: list[int], timeout: float) -> dict[int, Watermark]:
    """One query per partition; a partition that fails keeps the reason in ``error``. Once no broker
    answers, the partitions left are not asked (each would wait ``timeout``): they get the same reason."""
    from confluent_kafka import KafkaException, TopicPartition

    marks: dict[int, Watermark] = {}
    gone: str | None = None
    for p in partitions:
        if gone is not None:
            marks[p] = Watermark(p, None, None, gone)
            continue
        try:
            ends = client.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout, cached=False)
        except KafkaException as exc:
            err = _request_error(exc)
            marks[p] = Watermark(p, None, None, err.reason)
            gone = err.reason if err.unreachable else None
            continue
        marks[p] = Watermark(p, ends[0], ends[1]) if ends is not None else Watermark(p, None, None, f"no answer within {timeout:g}s")
    return marks
