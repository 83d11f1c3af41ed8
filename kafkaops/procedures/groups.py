"""Consumer groups: list them, describe one (committed offset, end offset and lag per partition,
members, state), and reset a group's offsets, as a plan first.

A reset names its scope as Kafka's kafka-consumer-groups does: the topics given (every partition of
each), or all topics (every partition the group has a committed offset for). An offset outside what
a partition holds is clamped to its oldest kept offset or its end, as Kafka's tool does, and the
plan says so. A reset is refused while the group has active members: their next commit would
overwrite it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kafkaops.adapters.kafka import UNREACHABLE, admin, metadata, unreachable
from kafkaops.errors import KafkaopsError, RefusedError, UsageError
from kafkaops.settings import Settings
from kafkaops.text import did_you_mean

TIMEOUT = 10.0


@dataclass(frozen=True)
class GroupSummary:
    group: str
    state: str
    simple: bool  # a "simple" group only stores offsets (no members ever joined)


@dataclass(frozen=True)
class Member:
    member_id: str
    client_id: str
    host: str
    assignment: tuple[tuple[str, int], ...]  # (topic, partition)


@dataclass(frozen=True)
class PartitionLag:
    topic: str
    partition: int
    committed: int | None  # None: the group has no committed offset here
    end: int  # the high watermark
    lag: int | None  # end - committed
    member: str | None  # client id of the member that has it, if any


@dataclass(frozen=True)
class GroupDescription:
    group: str
    state: str
    coordinator: str | None
    assignor: str | None
    members: tuple[Member, ...]
    partitions: tuple[PartitionLag, ...]

    @property
    def total_lag(self) -> int:
        return sum(p.lag for p in self.partitions if p.lag is not None)


@dataclass(frozen=True)
class ResetRow:
    topic: str
    partition: int
    current: int | None
    new: int
    low: int
    high: int
    note: str = ""


@dataclass(frozen=True)
class ResetPlan:
    group: str
    topics: tuple[str, ...]
    to: str  # earliest | latest | offset N
    rows: tuple[ResetRow, ...]
    state: str
    members: int

    @property
    def changes(self) -> int:
        return sum(1 for r in self.rows if r.current != r.new)


def _state(state: Any) -> str:
    name = getattr(state, "name", None) or str(state)
    return name.lower()


def _fail(exc: BaseException, what: str, settings: Settings) -> KafkaopsError:
    err = exc.args[0] if exc.args else None
    name = err.name() if err is not None and hasattr(err, "name") else ""
    if name in UNREACHABLE or isinstance(exc, TimeoutError):
        return unreachable(settings.kafka_broker, TIMEOUT)
    text = err.str() if err is not None and hasattr(err, "str") else (str(exc) or type(exc).__name__)
    return KafkaopsError(f"{what}: {text}", hint="check the broker with `kafkaops status` or `kafkaops doctor`")


def _result(future: Any, what: str, settings: Settings) -> Any:
    from concurrent.futures import TimeoutError as FutureTimeout

    from confluent_kafka import KafkaException

    try:
        return future.result(timeout=TIMEOUT + 2)
    except (KafkaException, FutureTimeout, TimeoutError) as exc:
        raise _fail(exc, what, settings) from None


def list_groups(settings: Settings, client: Any = None) -> list[GroupSummary]:
    client = client or admin(settings)
    metadata(settings, timeout=5.0, client=client)  # fail fast (exit 4) when no broker answers
    res = _result(client.list_consumer_groups(request_timeout=TIMEOUT), "listing consumer groups failed", settings)
    groups = [GroupSummary(g.group_id, _state(g.state), bool(g.is_simple_consumer_group)) for g in res.valid]
    return sorted(groups, key=lambda g: g.group)


def _missing_group(group: str, settings: Settings, client: Any) -> UsageError:
    names = [g.group for g in list_groups(settings, client)]
    hint = did_you_mean(group, names) or "list the groups with `kafkaops groups list`"
    return UsageError(f"consumer group {group} does not exist (no members, no committed offsets)", hint=hint)


def _end_offsets(settings: Settings, client: Any, tps: Sequence[tuple[str, int]], spec: str = "latest") -> dict[tuple[str, int], int]:
    from confluent_kafka import TopicPartition
    from confluent_kafka.admin import OffsetSpec

    if not tps:
        return {}
    which = OffsetSpec.latest() if spec == "latest" else OffsetSpec.earliest()
    futures = client.list_offsets({TopicPartition(t, p): which for t, p in tps}, request_timeout=TIMEOUT)
    out = {}
    for tp, fut in futures.items():
        out[(tp.topic, tp.partition)] = _result(fut, f"reading the offsets of {tp.topic} partition {tp.partition} failed", settings).offset
    return out


def _committed(settings: Settings, client: Any, group: str, topic_partitions: list[Any] | None = None) -> dict[tuple[str, int], int | None]:
    from confluent_kafka import ConsumerGroupTopicPartitions

    req = ConsumerGroupTopicPartitions(group, topic_partitions) if topic_partitions else ConsumerGroupTopicPartitions(group)
    futures = client.list_consumer_group_offsets([req], request_timeout=TIMEOUT)
    res = _result(futures[group], f"reading the committed offsets of group {group} failed", settings)
    return {(tp.topic, tp.partition): (tp.offset if tp.offset >= 0 else None) for tp in res.topic_partitions}


def _describe_raw(settings: Settings, client: Any, group: str) -> Any:
    futures = client.describe_consumer_groups([group], request_timeout=TIMEOUT)
    return _result(futures[group], f"describing consumer group {group} failed", settings)


def describe(settings: Settings, group: str) -> GroupDescription:
    """Members, state, and per partition: committed offset, end offset and lag."""
    client = admin(settings)
    metadata(settings, timeout=5.0, client=client)
    desc = _describe_raw(settings, client, group)
    state = _state(desc.state)
    committed = _committed(settings, client, group)
    members = []
    owner: dict[tuple[str, int], str] = {}
    for m in desc.members:
        assigned = tuple(sorted((tp.topic, tp.partition) for tp in (m.assignment.topic_partitions if m.assignment else [])))
        for tp in assigned:
            owner[tp] = m.client_id
        members.append(Member(m.member_id, m.client_id, m.host, assigned))
    if state == "dead" and not committed and not members:
        raise _missing_group(group, settings, client)
    keys = sorted(set(committed) | set(owner))
    ends = _end_offsets(settings, client, keys)
    rows = []
    for key in keys:
        c = committed.get(key)
        end = ends[key]
        rows.append(PartitionLag(key[0], key[1], c, end, (max(end - c, 0) if c is not None else None), owner.get(key)))
    coord = f"{desc.coordinator.host}:{desc.coordinator.port} (id {desc.coordinator.id})" if desc.coordinator else None
    return GroupDescription(group, state, coord, desc.partition_assignor or None, tuple(members), tuple(rows))


def plan_rows(
    to: str,
    offset: int | None,
    partitions: Sequence[tuple[str, int]],
    current: dict[tuple[str, int], int | None],
    low: dict[tuple[str, int], int],
    high: dict[tuple[str, int], int],
) -> tuple[ResetRow, ...]:
    """The new offset of every (topic, partition). Pure. An offset outside what exists (a negative one
    included) is clamped to the oldest kept offset or the end, as Kafka's tool does, and noted."""
    rows = []
    for tp in partitions:
        lo, hi = low[tp], high[tp]
        note = ""
        if to == "earliest":
            new = lo
        elif to == "latest":
            new = hi
        else:
            assert offset is not None
            new = offset
            if new < lo:
                new, note = lo, f"{offset} is older than the oldest kept offset {lo}: using {lo}"
            elif new > hi:
                new, note = hi, f"{offset} is past the end {hi}: using {hi}"
        rows.append(ResetRow(tp[0], tp[1], current.get(tp), new, lo, hi, note))
    return tuple(rows)


def plan_reset(
    settings: Settings,
    group: str,
    topics: Sequence[str],
    to: str,
    offset: int | None = None,
    all_topics: bool = False,
) -> ResetPlan:
    """What a reset would change, on ``topics`` (every partition of each) or, with ``all_topics``, on
    every partition the group has a committed offset for. Raises RefusedError (exit 5) while the
    group has active members."""
    if to not in ("earliest", "latest", "offset"):
        raise UsageError(f"unknown reset target {to!r}")
    if to == "offset" and offset is None:
        raise UsageError("--to-offset needs an offset")
    if bool(topics) == all_topics:
        raise UsageError("give topics or all_topics, exactly one")
    from confluent_kafka import TopicPartition

    from kafkaops.procedures.consume import missing_topic

    client = admin(settings)
    md = metadata(settings, timeout=5.0, client=client)
    keys: list[tuple[str, int]] = []
    for topic in dict.fromkeys(topics):
        t = md.topics.get(topic)
        if t is None or not t.partitions:
            raise missing_topic(topic, sorted(md.topics), settings.kafka_broker)
        keys += [(topic, p) for p in sorted(t.partitions)]
    desc = _describe_raw(settings, client, group)
    state = _state(desc.state)
    if desc.members:
        who = ", ".join(sorted({f"{m.client_id}@{m.host}" for m in desc.members}))
        raise RefusedError(
            f"group {group} has {len(desc.members)} active member(s) ({who}), state {state}: a reset now would be overwritten by their next commit",
            hint="stop the consumers of this group (Ctrl+C on `kafkaops consume --group`), then run the reset again",
        )
    if all_topics:
        committed = _committed(settings, client, group)
        keys = sorted(tp for tp, c in committed.items() if c is not None and tp[0] in md.topics)  # a deleted topic's offsets go with it
        if not keys:
            if state == "dead":
                raise _missing_group(group, settings, client)
            raise UsageError(
                f"group {group} has no committed offsets, so --all-topics names nothing to reset",
                hint=f"name the topic: kafkaops groups reset {group} --topic T ...",
            )
    else:
        committed = _committed(settings, client, group, [TopicPartition(t, p) for t, p in keys])
    lows = _end_offsets(settings, client, keys, "earliest")
    highs = _end_offsets(settings, client, keys, "latest")
    rows = plan_rows(to, offset, keys, committed, lows, highs)
    label = f"offset {offset}" if to == "offset" else to
    return ResetPlan(group, tuple(dict.fromkeys(t for t, _ in keys)), label, rows, state, len(desc.members))


def execute_reset(settings: Settings, plan: ResetPlan) -> ResetPlan:
    """Apply a plan (after checking again that the group has no members). Returns the plan applied."""
    from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition

    client = admin(settings)
    desc = _describe_raw(settings, client, plan.group)
    if desc.members:
        raise RefusedError(
            f"group {plan.group} got {len(desc.members)} active member(s) since the plan was made; nothing was changed",
            hint="stop its consumers, then run the reset again",
        )
    req = ConsumerGroupTopicPartitions(plan.group, [TopicPartition(r.topic, r.partition, r.new) for r in plan.rows])
    futures = client.alter_consumer_group_offsets([req], request_timeout=TIMEOUT)
    res = _result(futures[plan.group], f"resetting the offsets of group {plan.group} failed", settings)
    for tp in res.topic_partitions:
        if tp.error is not None:
            raise KafkaopsError(f"resetting group {plan.group} partition {tp.partition} failed: {tp.error.str()}")
    return plan
