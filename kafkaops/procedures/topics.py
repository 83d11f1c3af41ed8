"""Topics: create (and wait until usable), list, describe, delete, through the admin client."""

from __future__ import annotations

import time
from dataclasses import dataclass

from kafkaops.adapters.kafka import admin, metadata
from kafkaops.errors import KafkaopsError, UnreachableError
from kafkaops.settings import Settings


@dataclass(frozen=True)
class EnsureResult:
    name: str
    created: bool
    partitions: int
    replication_factor: int


def _wait_leaders(settings: Settings, client: object, name: str, timeout: float) -> tuple[int, int]:
    deadline = time.monotonic() + timeout
    while True:
        md = metadata(settings, timeout=5.0, client=client)
        topic = md.topics.get(name)
        if topic is not None and topic.error is None and topic.partitions:
            parts = list(topic.partitions.values())
            if all(p.leader >= 0 for p in parts):
                return len(parts), len(parts[0].replicas)
        if time.monotonic() > deadline:
            raise KafkaopsError(f"topic {name} has no leader for every partition after {timeout:g}s", hint="run `kafkaops doctor`")
        time.sleep(0.1)


def ensure_topic(settings: Settings, name: str, partitions: int, replication_factor: int, timeout: float = 30.0) -> EnsureResult:
    """Create the topic if it does not exist, and return once every partition has a leader."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import NewTopic

    client = admin(settings)
    md = metadata(settings, timeout=5.0, client=client)
    created = False
    if name not in md.topics:
        futures = client.create_topics([NewTopic(name, partitions, replication_factor)], operation_timeout=timeout)
        try:
            futures[name].result(timeout=timeout)
            created = True
        except KafkaException as exc:
            err = exc.args[0]
            if err.name() != "TOPIC_ALREADY_EXISTS":
                raise KafkaopsError(f"cannot create topic {name}: {err.str()}") from None
        except TimeoutError:
            raise UnreachableError(f"creating topic {name} timed out after {timeout:g}s") from None
    parts, rf = _wait_leaders(settings, client, name, timeout)
    return EnsureResult(name, created, parts, rf)
