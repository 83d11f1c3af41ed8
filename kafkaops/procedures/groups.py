"""Consumer groups: list them, describe one (committed offset, end offset and lag per partition,
members, state), and reset a group's offsets, as a plan first.

A reset names its scope as Kafka's kafka-consumer-groups does: the topics given (every partition of
each), or all topics (every partition the group has a committed offset for). An offset outside what
a partition holds is clamped to its oldest kept offset or its end, as Kafka's tool does, and the
plan says so. A reset is refused while the group has active members: their next commit would
overwrite it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from kafkaops.adapters import kafka_groups
from kafkaops.adapters.kafka import BrokerRequestError, Watermark, admin, metadata, unreachable, watermarks
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
    to: str  # earliest | latest | offset N | datetime T | duration D (T) | shift-by N
    rows: tuple[ResetRow, ...]
    state: str
    members: int

    @property
    def changes(self) -> int:
        return sum(1 for r in self.rows if r.current != r.new)


def _fail(exc: BrokerRequestError, what: str, settings: Settings) -> KafkaopsError:
    if exc.unreachable:
        return unreachable(settings.kafka_broker, TIMEOUT)
    return KafkaopsError(f"{what}: {exc.reason}", hint="check the broker with `kafkaops status` or `kafkaops doctor`")


@contextmanager
def _asking(what: str, settings: Settings) -> Iterator[None]:
    """A broker request whose refusal or timeout becomes ``what``'s error (exit 4 when no broker answered)."""
    try:
        yield
    except BrokerRequestError as exc:
        raise _fail(exc, what, settings) from None


def list_groups(settings: Settings, client: Any = None) -> list[GroupSummary]:
    client = client if client is not None else admin(settings)
    metadata(settings, timeout=5.0, client=client)  # fail fast (exit 4) when no broker answers
    with _asking("listing consumer groups failed", settings):
        found = kafka_groups.list_groups(client, TIMEOUT)
    return sorted((GroupSummary(g.group, g.state.lower(), g.simple) for g in found), key=lambda g: g.group)


def _missing_group(group: str, settings: Settings, client: Any) -> UsageError:
    names = [g.group for g in list_groups(settings, client)]
    hint = did_you_mean(group, names) or "list the groups with `kafkaops groups list`"
    return UsageError(f"consumer group {group} does not exist (no members, no committed offsets)", hint=hint)


def _watermarks(settings: Settings, client: Any, tps: Sequence[tuple[str, int]]) -> dict[tuple[str, int], Watermark]:
    """The oldest kept and the end offset of each (topic, partition), from adapters.kafka.watermarks."""
    out: dict[tuple[str, int], Watermark] = {}
    for topic in dict.fromkeys(t for t, _ in tps):
        parts = [p for t, p in tps if t == topic]
        with _asking(f"reading the offsets of {topic} failed", settings):
            marks = watermarks(client, topic, parts, TIMEOUT)
        for p, mark in marks.items():
            if mark.low is None or mark.high is None:
                raise _fail(BrokerRequestError("_UNKNOWN", mark.error or "no answer"), f"reading the offsets of {topic} partition {p} failed", settings)
            out[(topic, p)] = mark
    return out


def _committed(settings: Settings, client: Any, group: str, partitions: Sequence[tuple[str, int]] | None = None) -> dict[tuple[str, int], int | None]:
    with _asking(f"reading the committed offsets of group {group} failed", settings):
        return kafka_groups.committed_offsets(client, group, TIMEOUT, partitions)


def _describe_raw(settings: Settings, client: Any, group: str) -> kafka_groups.GroupInfo:
    with _asking(f"describing consumer group {group} failed", settings):
        return kafka_groups.describe_group(client, group, TIMEOUT)


def describe(settings: Settings, group: str, client: Any = None) -> GroupDescription:
    """Members, state, and per partition: committed offset, end offset and lag (``client``: an admin client to reuse)."""
    client = client if client is not None else admin(settings)
    metadata(settings, timeout=5.0, client=client)
    desc = _describe_raw(settings, client, group)
    state = desc.state.lower()
    committed = _committed(settings, client, group)
    members = [Member(m.member_id, m.client_id, m.host, m.assignment) for m in desc.members]
    owner = {tp: m.client_id for m in desc.members for tp in m.assignment}
    if state == "dead" and not committed and not members:
        raise _missing_group(group, settings, client)
    keys = sorted(set(committed) | set(owner))
    marks = _watermarks(settings, client, keys)
    rows = []
    for key in keys:
        c = committed.get(key)
        end = marks[key].high or 0
        rows.append(PartitionLag(key[0], key[1], c, end, (max(end - c, 0) if c is not None else None), owner.get(key)))
    return GroupDescription(group, state, desc.coordinator, desc.assignor, tuple(members), tuple(rows))


TARGETS = ("earliest", "latest", "offset", "datetime", "duration", "shift")


def _clamp(wanted: int, lo: int, hi: int, what: str) -> tuple[int, str]:
    """An offset outside what a partition holds, clamped to its oldest kept offset or its end, with a note."""
    if wanted < lo:
        return lo, f"{what} is older than the oldest kept offset {lo}: using {lo}"
    if wanted > hi:
        return hi, f"{what} is past the end {hi}: using {hi}"
    return wanted, ""


def _new_offset(to: str, offset: int | None, current: int | None, lo: int, hi: int, found: int | None) -> tuple[int, str]:
    if to == "earliest":
        return lo, ""
    if to == "latest":
        return hi, ""
    if to in ("datetime", "duration"):
        if found is None:
            return hi, f"no message at or after the time: using the end {hi}"
        return _clamp(found, lo, hi, f"{found}")
    assert offset is not None
    if to == "shift":
        assert current is not None
        return _clamp(current + offset, lo, hi, f"{current} {'+' if offset >= 0 else '-'} {abs(offset)} = {current + offset}")
    return _clamp(offset, lo, hi, f"{offset}")


def plan_rows(
    to: str,
    offset: int | None,
    partitions: Sequence[tuple[str, int]],
    current: dict[tuple[str, int], int | None],
    low: dict[tuple[str, int], int],
    high: dict[tuple[str, int], int],
    found: dict[tuple[str, int], int | None] | None = None,
) -> tuple[ResetRow, ...]:
    """The new offset of every (topic, partition). Pure. As Kafka's kafka-consumer-groups does it: an
    offset outside what exists (a negative one, a shift too far) is clamped to the oldest kept offset
    or the end; by time (``found``: the first offset at or after it, None for none), a partition without
    a message that late goes to its end. Every such row carries a note."""
    rows = []
    for tp in partitions:
        lo, hi = low[tp], high[tp]
        new, note = _new_offset(to, offset, current.get(tp), lo, hi, (found or {}).get(tp))
        rows.append(ResetRow(tp[0], tp[1], current.get(tp), new, lo, hi, note))
    return tuple(rows)


def _no_commit_to_shift(group: str, committed: dict[tuple[str, int], int | None], keys: Sequence[tuple[str, int]]) -> None:
    """--shift-by moves committed offsets: a partition without one is refused, as Kafka's tool does."""
    without = [f"{t} partition {p}" for t, p in keys if committed.get((t, p)) is None]
    if without:
        raise UsageError(
            f"--shift-by moves committed offsets, and group {group} has none on {', '.join(without)}",
            hint="reset those with --to-earliest, --to-latest or --to-datetime first, or name only topics the group has read",
        )


def plan_reset(
    settings: Settings,
    group: str,
    topics: Sequence[str],
    to: str,
    offset: int | None = None,
    all_topics: bool = False,
    timestamp: int | None = None,
    label: str | None = None,
) -> ResetPlan:
    """What a reset would change, on ``topics`` (every partition of each) or, with ``all_topics``, on
    every partition the group has a committed offset for. ``to`` is one of TARGETS: ``offset`` for
    offset and shift (by that many), ``timestamp`` (epoch ms) for datetime and duration. Raises
    RefusedError (exit 5) while the group has active members."""
    if to not in TARGETS:
        raise UsageError(f"unknown reset target {to!r}")
    if to in ("offset", "shift") and offset is None:
        raise UsageError(f"--{'to-offset' if to == 'offset' else 'shift-by'} needs a number")
    if to in ("datetime", "duration") and timestamp is None:
        raise UsageError(f"--{'to-datetime' if to == 'datetime' else 'by-duration'} needs a time")
    if bool(topics) == all_topics:
        raise UsageError("give topics or all_topics, exactly one")
    client = admin(settings)
    md = metadata(settings, timeout=5.0, client=client)
    keys = _topic_partitions(settings, md, topics)
    desc = _describe_raw(settings, client, group)
    state = desc.state.lower()
    _refuse_members(group, desc, state)
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
        committed = _committed(settings, client, group, keys)
    if to == "shift":
        _no_commit_to_shift(group, committed, keys)
    marks = _watermarks(settings, client, keys)
    found = None
    if timestamp is not None:
        with _asking("looking up offsets by time failed", settings):
            found = kafka_groups.offsets_for_time(client, keys, timestamp, TIMEOUT)
    lows = {tp: m.low or 0 for tp, m in marks.items()}
    highs = {tp: m.high or 0 for tp, m in marks.items()}
    rows = plan_rows(to, offset, keys, committed, lows, highs, found)
    label = label or (f"offset {offset}" if to == "offset" else to)
    return ResetPlan(group, tuple(dict.fromkeys(t for t, _ in keys)), label, rows, state, len(desc.members))


def _topic_partitions(settings: Settings, md: Any, topics: Sequence[str]) -> list[tuple[str, int]]:
    """Every partition of each topic named; a missing topic is a usage error naming close matches."""
    from kafkaops.procedures.consume import missing_topic

    keys: list[tuple[str, int]] = []
    for topic in dict.fromkeys(topics):
        t = md.topics.get(topic)
        if t is None or not t.partitions:
            raise missing_topic(topic, sorted(md.topics), settings.kafka_broker)
        keys += [(topic, p) for p in sorted(t.partitions)]
    return keys


def _refuse_members(group: str, desc: kafka_groups.GroupInfo, state: str) -> None:
    if desc.members:
        who = ", ".join(sorted({f"{m.client_id}@{m.host}" for m in desc.members}))
        raise RefusedError(
            f"group {group} has {len(desc.members)} active member(s) ({who}), state {state}: a reset now would be overwritten by their next commit",
            hint="stop the consumers of this group (Ctrl+C on `kafkaops consume --group`), then run the reset again",
        )


def execute_reset(settings: Settings, plan: ResetPlan) -> ResetPlan:
    """Apply a plan (after checking again that the group has no members). Returns the plan applied."""
    client = admin(settings)
    desc = _describe_raw(settings, client, plan.group)
    if desc.members:
        raise RefusedError(
            f"group {plan.group} got {len(desc.members)} active member(s) since the plan was made; nothing was changed",
            hint="stop its consumers, then run the reset again",
        )
    with _asking(f"resetting the offsets of group {plan.group} failed", settings):
        refused = kafka_groups.alter_offsets(client, plan.group, {(r.topic, r.partition): r.new for r in plan.rows}, TIMEOUT)
    if refused:
        (_topic, partition), reason = refused[0]
        raise KafkaopsError(f"resetting group {plan.group} partition {partition} failed: {reason}")
    return plan
