"""Consumer groups through the admin client (confluent-kafka): listings, descriptions, committed
offsets and offset changes, as the project's own small models.

Every request has an explicit timeout; a refused or failed request raises
:class:`~kafkaops.adapters.kafka.BrokerRequestError` (Kafka's error name in ``code``), which the
caller maps to its own message.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kafkaops.adapters.kafka import BrokerRequestError
from kafkaops.adapters.kafka import request_result as _result

TopicPartitionKey = tuple[str, int]  # (topic, partition)


@dataclass(frozen=True)
class GroupListing:
    group: str
    state: str  # the broker's state name as it gives it, e.g. STABLE, EMPTY, DEAD
    simple: bool  # a "simple" group only stores offsets (no members ever joined)


@dataclass(frozen=True)
class GroupMember:
    member_id: str
    client_id: str
    host: str
    assignment: tuple[TopicPartitionKey, ...]  # sorted


@dataclass(frozen=True)
class GroupInfo:
    group: str
    state: str  # as GroupListing.state
    coordinator: str | None  # "host:port (id N)"
    assignor: str | None
    members: tuple[GroupMember, ...]


def _state(state: Any) -> str:
    return str(getattr(state, "name", None) or state)


def list_groups(client: Any, timeout: float) -> list[GroupListing]:
    """Every consumer group the cluster knows (one ListGroups request)."""
    res = _result(client.list_consumer_groups(request_timeout=timeout), timeout + 0.5)
    return [GroupListing(g.group_id, _state(g.state), bool(g.is_simple_consumer_group)) for g in res.valid]


def describe_group(client: Any, group: str, timeout: float) -> GroupInfo:
    """A group's state, coordinator and members with their assignments."""
    desc = _result(client.describe_consumer_groups([group], request_timeout=timeout)[group], timeout + 2.0)
    members = tuple(
        GroupMember(
            m.member_id,
            m.client_id,
            m.host,
            tuple(sorted((tp.topic, tp.partition) for tp in (m.assignment.topic_partitions if m.assignment else []))),
        )
        for m in desc.members
    )
    coord = f"{desc.coordinator.host}:{desc.coordinator.port} (id {desc.coordinator.id})" if desc.coordinator else None
    return GroupInfo(group, _state(desc.state), coord, desc.partition_assignor or None, members)


def _request(group: str, partitions: Iterable[TopicPartitionKey] | None) -> Any:
    from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition

    tps = [TopicPartition(t, p) for t, p in partitions] if partitions else None
    return ConsumerGroupTopicPartitions(group, tps) if tps else ConsumerGroupTopicPartitions(group)


def _offsets(res: Any) -> dict[TopicPartitionKey, int | None]:
    return {(tp.topic, tp.partition): (tp.offset if tp.offset >= 0 else None) for tp in res.topic_partitions}


def committed_offsets(client: Any, group: str, timeout: float, partitions: Iterable[TopicPartitionKey] | None = None) -> dict[TopicPartitionKey, int | None]:
    """The group's committed offset of each partition (None: nothing committed there); every partition
    it has one for, or only ``partitions``."""
    futures = client.list_consumer_group_offsets([_request(group, partitions)], request_timeout=timeout)
    return _offsets(_result(futures[group], timeout + 2.0))


def committed_offsets_of(client: Any, groups: Iterable[str], timeout: float) -> dict[str, dict[TopicPartitionKey, int | None] | None]:
    """committed_offsets of several groups, asked at once (None for a group whose request failed)."""
    futures = {g: client.list_consumer_group_offsets([_request(g, None)], request_timeout=timeout)[g] for g in groups}
    out: dict[str, dict[TopicPartitionKey, int | None] | None] = {}
    for group, future in futures.items():
        try:
            out[group] = _offsets(_result(future, timeout + 0.5))
        except BrokerRequestError:
            out[group] = None
    return out


def alter_offsets(client: Any, group: str, offsets: Mapping[TopicPartitionKey, int], timeout: float) -> list[tuple[TopicPartitionKey, str]]:
    """Set the group's committed offsets; the partitions the broker refused, with its reason."""
    from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition

    req = ConsumerGroupTopicPartitions(group, [TopicPartition(t, p, o) for (t, p), o in offsets.items()])
    res = _result(client.alter_consumer_group_offsets([req], request_timeout=timeout)[group], timeout + 2.0)
    return [((tp.topic, tp.partition), tp.error.str()) for tp in res.topic_partitions if tp.error is not None]


def offsets_for_time(client: Any, partitions: Iterable[TopicPartitionKey], timestamp_ms: int, timeout: float) -> dict[TopicPartitionKey, int | None]:
    """Per partition the offset of the first message with a timestamp at or after ``timestamp_ms``
    (ListOffsets by timestamp, as Kafka's tools ask it); None when no message is that late."""
    from confluent_kafka import TopicPartition
    from confluent_kafka.admin import OffsetSpec

    keys = list(partitions)
    if not keys:
        return {}
    futures = client.list_offsets({TopicPartition(t, p): OffsetSpec.for_timestamp(timestamp_ms) for t, p in keys}, request_timeout=timeout)
    out: dict[TopicPartitionKey, int | None] = {}
    for tp, future in futures.items():
        offset = _result(future, timeout + 1.0).offset
        out[(tp.topic, tp.partition)] = offset if offset >= 0 else None
    return out
