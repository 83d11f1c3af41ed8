"""Kafka clients (confluent-kafka): configuration, the admin client, and metadata requests.

Every call has a short, explicit timeout so that an unreachable broker fails in seconds, not
after librdkafka's default minute; librdkafka's own log lines are kept off the user's terminal.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from kafkaops.errors import KafkaopsError, UnreachableError
from kafkaops.settings import Settings

_quiet = logging.getLogger("kafkaops.librdkafka")
_quiet.addHandler(logging.NullHandler())
_quiet.propagate = False


def client_config(settings: Settings, bootstrap: str | None = None, **extra: Any) -> dict[str, Any]:
    """The librdkafka configuration shared by every client kafkaops creates."""
    conf: dict[str, Any] = {
        "bootstrap.servers": bootstrap or settings.kafka_broker,
        "client.id": settings.kafka_client_id,
        "logger": _quiet,
        "socket.connection.setup.timeout.ms": 5000,
        "reconnect.backoff.max.ms": 1000,
    }
    conf.update(settings.client_security)
    conf.update(extra)
    return conf


def admin(settings: Settings, bootstrap: str | None = None) -> Any:
    from confluent_kafka.admin import AdminClient

    try:
        return AdminClient(client_config(settings, bootstrap))
    except Exception as exc:  # KafkaException for a bad config value
        raise KafkaopsError(f"invalid Kafka client settings: {exc}") from None


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


def unreachable(address: str, timeout: float) -> UnreachableError:
    return UnreachableError(
        f"no Kafka broker answered at {address} within {timeout:g}s",
        hint="check the stack with `kafkaops status` or `kafkaops doctor`; start it with `kafkaops up`",
        runbook="failures broker-unreachable",
    )


def metadata(settings: Settings, timeout: float = 5.0, bootstrap: str | None = None, client: Any = None) -> ClusterInfo:
    """One metadata request (it never names a topic, so it can never auto-create one)."""
    from confluent_kafka import KafkaException

    address = bootstrap or settings.kafka_broker
    client = client or admin(settings, bootstrap)
    try:
        md = client.list_topics(timeout=timeout)
    except KafkaException as exc:
        err = exc.args[0] if exc.args else None
        code = err.name() if hasattr(err, "name") else str(exc)
        if code in ("_TRANSPORT", "_TIMED_OUT", "_ALL_BROKERS_DOWN", "_RESOLVE"):
            raise unreachable(address, timeout) from None
        raise KafkaopsError(f"metadata request to {address} failed: {err.str() if hasattr(err, 'str') else exc}") from None
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

_UNREACHABLE_CODES = frozenset({"_TRANSPORT", "_TIMED_OUT", "_ALL_BROKERS_DOWN", "_RESOLVE", "REQUEST_TIMED_OUT"})


class BrokerRequestError(KafkaopsError):
    """A broker (or librdkafka) refused or failed a request; ``code`` is the Kafka error name."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason

    @property
    def unreachable(self) -> bool:
        return self.code in _UNREACHABLE_CODES


def _request_error(exc: BaseException) -> BrokerRequestError:
    err = exc.args[0] if exc.args else None
    if hasattr(err, "name") and hasattr(err, "str"):
        return BrokerRequestError(err.name(), err.str())
    if isinstance(exc, TimeoutError):
        return BrokerRequestError("_TIMED_OUT", "no answer in time")
    return BrokerRequestError("_UNKNOWN", str(exc) or type(exc).__name__)


def _result(future: Any, timeout: float) -> Any:
    from concurrent.futures import TimeoutError as FutureTimeout

    from confluent_kafka import KafkaException

    try:
        return future.result(timeout=timeout)
    except (KafkaException, FutureTimeout, TimeoutError) as exc:
        raise _request_error(exc) from None


def create_topic(client: Any, name: str, partitions: int, replication_factor: int, config: dict[str, str], timeout: float) -> None:
    from confluent_kafka.admin import NewTopic

    topic = NewTopic(name, partitions, replication_factor, config=dict(config))
    futures = client.create_topics([topic], operation_timeout=timeout, request_timeout=timeout)
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


@dataclass(frozen=True)
class ConfigValue:
    name: str
    value: str | None
    source: str  # e.g. DYNAMIC_TOPIC_CONFIG, STATIC_BROKER_CONFIG, DEFAULT_CONFIG
    is_default: bool
    is_sensitive: bool


def topic_configs(client: Any, topic: str, timeout: float) -> list[ConfigValue]:
    """Every config entry of a topic, as the broker describes it (sensitive values are never returned)."""
    from confluent_kafka.admin import ConfigResource, ConfigSource, ResourceType

    resource = ConfigResource(ResourceType.TOPIC, topic)
    futures = client.describe_configs([resource], request_timeout=timeout)
    entries = _result(next(iter(futures.values())), timeout + 1.0)
    values = []
    for entry in entries.values():
        try:
            source = ConfigSource(entry.source).name
        except ValueError:
            source = str(entry.source)
        values.append(
            ConfigValue(
                name=entry.name,
                value=None if entry.is_sensitive else entry.value,
                source=source,
                is_default=bool(entry.is_default) or source == "DEFAULT_CONFIG",
                is_sensitive=bool(entry.is_sensitive),
            )
        )
    return sorted(values, key=lambda v: v.name)
