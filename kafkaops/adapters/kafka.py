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
