"""Where reading starts, and why: the request, its checks, and the start plan (pure).

* Without a group nothing is committed, so running twice behaves the same: partitions are
  *assigned* (never subscribed) from start offsets computed now, from the watermarks.
* With a group, the group's committed offsets decide the start, and the plan says so; with
  ``--from-beginning`` the consumer really seeks to the beginning for this run instead of the
  option being silently ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kafkaops import text as wording
from kafkaops.errors import UsageError
from kafkaops.procedures.consume.encode import iso_ms


@dataclass(frozen=True)
class ConsumeRequest:
    topic: str
    group: str | None = None
    from_beginning: bool = False
    partition: int | None = None
    offset: int | str | None = None  # a number, "earliest" or "latest" (with partition)
    max_messages: int | None = None
    timeout: float | None = None  # stop after this many seconds without a message
    exit_at_end: bool = False
    from_time: int | None = None  # epoch ms: start at the first message at or after it (--from)
    until_time: int | None = None  # epoch ms: stop each partition at the first message after it (--until)
    isolation: str = "read_committed"  # or read_uncommitted: also events of aborted and open transactions


ISOLATION_LEVELS = ("read_committed", "read_uncommitted")


@dataclass(frozen=True)
class PartitionPlan:
    partition: int
    low: int  # oldest offset still kept
    high: int  # next offset to be written (the high watermark, captured at start)
    committed: int | None  # the group's committed offset, if any
    start: int  # where this run starts reading
    source: str  # latest | beginning | committed | offset | clamped | time | end (no message at or after --from)

    @property
    def backlog(self) -> int:
        return max(self.high - self.start, 0)


@dataclass(frozen=True)
class StartPlan:
    topic: str
    group: str | None
    partitions: tuple[PartitionPlan, ...]
    notes: tuple[str, ...]  # why reading starts where it does, in the operator's words


def _visible(names: Sequence[str]) -> list[str]:
    return [n for n in names if not n.startswith("__")]


def close_matches(name: str, names: Sequence[str]) -> list[str]:
    """The topics most like `name`, Kafka's internal ones left out."""
    return wording.close_matches(name, _visible(names))


def missing_topic(topic: str, names: Sequence[str], broker: str) -> UsageError:
    hint = wording.did_you_mean(topic, _visible(names))
    if not hint:
        hint = "list the topics with `kafkaops topics list`; create one with `kafkaops topics create`"
    return UsageError(f"topic {topic} does not exist on {broker}", hint=hint)


def validate(req: ConsumeRequest) -> None:
    if req.offset is not None and req.partition is None:
        raise UsageError("--offset needs --partition", hint="e.g. kafkaops consume --partition 0 --offset 42")
    if req.partition is not None and req.group:
        raise UsageError(
            "--partition reads one partition outside any group; it cannot be combined with --group",
            hint="drop --group to read a partition, or drop --partition to read as the group",
        )
    if req.offset is not None and req.from_beginning:
        raise UsageError("--offset and --from-beginning both choose where to start; give one", hint="--offset earliest is the beginning")
    _validate_times(req)
    if isinstance(req.offset, str) and req.offset not in ("earliest", "latest"):
        raise UsageError(f"--offset {req.offset!r} is not a number, 'earliest' or 'latest'")
    if isinstance(req.offset, int) and req.offset < 0:
        raise UsageError(f"--offset must be 0 or more (got {req.offset})")
    if req.max_messages is not None and req.max_messages < 1:
        raise UsageError(f"--max-messages must be at least 1 (got {req.max_messages})")
    if req.timeout is not None and req.timeout <= 0:
        raise UsageError(f"--timeout must be more than 0 seconds (got {req.timeout:g})")
    if req.isolation not in ISOLATION_LEVELS:
        raise UsageError(f"--isolation must be {' or '.join(ISOLATION_LEVELS)} (got {req.isolation!r})")


def _validate_times(req: ConsumeRequest) -> None:
    """--from / --until against the other ways of choosing where to start, and each other."""
    if req.from_time is None:
        return
    for flag, on in (("--from-beginning", req.from_beginning), ("--offset", req.offset is not None)):
        if on:
            raise UsageError(f"--from and {flag} both choose where to start; give one", hint="--from picks the first message at or after a time")
    if req.until_time is not None and req.until_time < req.from_time:
        raise UsageError(
            f"--until ({iso_ms(req.until_time)}) is before --from ({iso_ms(req.from_time)}): nothing lies between them",
            hint="give --until a later time than --from",
        )


def parse_offset(raw: str | None) -> int | str | None:
    if raw is None:
        return None
    raw = raw.strip().lower()
    if raw in ("earliest", "latest"):
        return raw
    try:
        return int(raw)
    except ValueError:
        raise UsageError(f"--offset {raw!r} is not a number, 'earliest' or 'latest'") from None


def _offsets(plans: Sequence[PartitionPlan], attr: str) -> str:
    if len(plans) == 1:
        return f"offset {getattr(plans[0], attr)}"
    return "offsets " + ", ".join(f"{p.partition}:{getattr(p, attr)}" for p in plans)


def _partition_start(req: ConsumeRequest, p: int, low: int, high: int) -> tuple[int, str]:
    """--partition: the start that --offset (or --from-beginning) asks for, within the offsets kept."""
    if req.offset == "earliest" or (req.offset is None and req.from_beginning):
        return low, "beginning"
    if req.offset is None or req.offset == "latest":
        return high, "latest"
    assert isinstance(req.offset, int)
    if not low <= req.offset <= high:
        raise UsageError(
            f"offset {req.offset} is outside partition {p}'s offsets {low}..{high}",
            hint=f"use an offset from {low} to {high}, or --offset earliest|latest",
        )
    return req.offset, "offset"


def _group_start(req: ConsumeRequest, low: int, high: int, committed: int) -> tuple[int, str]:
    """A group with a committed offset: it decides, unless --from-beginning; clamped to what is kept."""
    if req.from_beginning:
        return low, "beginning"
    if committed < low:
        return low, "clamped"
    if committed > high:
        return high, "clamped"
    return committed, "committed"


def _time_start(low: int, high: int, found: int | None) -> tuple[int, str]:
    """--from: the first message at or after the time (within what is kept), else the end."""
    if found is None:
        return high, "end"
    return min(max(found, low), high), "time"


def _partition_plans(
    req: ConsumeRequest, watermarks: dict[int, tuple[int, int]], committed: dict[int, int | None], found: dict[int, int | None]
) -> list[PartitionPlan]:
    plans: list[PartitionPlan] = []
    parts = [req.partition] if req.partition is not None else sorted(watermarks)
    for p in parts:
        if p not in watermarks:
            raise UsageError(
                f"topic {req.topic} has no partition {p}",
                hint=f"its partitions are {', '.join(str(x) for x in sorted(watermarks))}",
            )
        low, high = watermarks[p]
        c = committed.get(p)
        if req.from_time is not None:
            start, source = _time_start(low, high, found.get(p))
        elif req.partition is not None:
            start, source = _partition_start(req, p, low, high)
        elif req.group and c is not None:
            start, source = _group_start(req, low, high, c)
        else:
            start, source = (low, "beginning") if req.from_beginning else (high, "latest")
        plans.append(PartitionPlan(p, low, high, c, start, source))
    return plans


def _group_notes(req: ConsumeRequest, plans: Sequence[PartitionPlan]) -> list[str]:
    """Why a group's read starts where it does: its commits, --from-beginning, clamped offsets."""
    notes: list[str] = []
    with_commits = [p for p in plans if p.committed is not None]
    if with_commits and req.from_time is not None:
        notes.append(f"group {req.group} has committed offsets ({_offsets(with_commits, 'committed')}), but --from was given: starting by time for this run")
    elif with_commits and req.from_beginning:
        notes.append(
            f"group {req.group} has committed offsets ({_offsets(with_commits, 'committed')}), "
            f"but --from-beginning was given: reading from the beginning ({_offsets(with_commits, 'start')}) for this run"
        )
    elif with_commits:
        notes.append(
            f"group {req.group} has committed offsets: reading from {_offsets(with_commits, 'start')}, not from the beginning"
            " (add --from-beginning to read everything)"
        )
        for plan in with_commits:
            if plan.source == "clamped":
                why = "records before it were deleted" if plan.committed is not None and plan.committed < plan.low else "it is past the end"
                notes.append(f"partition {plan.partition}: committed offset {plan.committed} no longer exists ({why}); reading from {plan.start}")
    without = [p for p in plans if p.committed is None]
    if without and not req.from_beginning and req.from_time is None:
        notes.append(
            f"group {req.group} has no committed offsets"
            + (f" for partition(s) {', '.join(str(p.partition) for p in without)}" if with_commits else "")
            + ": only messages that arrive from now on are shown (add --from-beginning for older ones)"
        )
    return notes


def plan_start(
    req: ConsumeRequest,
    watermarks: dict[int, tuple[int, int]],
    committed: dict[int, int | None],
    found: dict[int, int | None] | None = None,
) -> StartPlan:
    """Where each partition starts, and the notes that explain it. Pure: watermarks, commits and (with
    --from) the first offset at or after the time per partition (None: no message that late) are inputs."""
    plans = _partition_plans(req, watermarks, committed, found or {})
    notes: list[str] = []
    if req.group:
        notes = _group_notes(req, plans)
    if req.from_time is not None:
        notes += _time_notes(req.from_time, plans)
    elif not req.group and not req.from_beginning and req.partition is None:
        notes.append("reading only messages that arrive from now on (add --from-beginning for the ones already in the topic)")
    return StartPlan(req.topic, req.group, tuple(plans), tuple(notes))


def _time_notes(from_time: int, plans: Sequence[PartitionPlan]) -> list[str]:
    """Per partition, why --from starts where it does."""
    when = iso_ms(from_time)
    return [
        f"partition {p.partition}: first message at or after {when} is offset {p.start}"
        if p.source == "time"
        else f"partition {p.partition}: no message at or after {when}: starting at the end (offset {p.start})"
        for p in plans
    ]


def describe_ranges(plan: StartPlan) -> list[str]:
    """One line per partition: the offsets that exist and where this run starts."""
    lines = []
    for p in plan.partitions:
        kept = f"offsets {p.low}..{p.high - 1}" if p.high > p.low else f"empty (next offset {p.high})"
        lines.append(f"partition {p.partition}: {kept}; starting at {p.start} ({p.source}, {p.backlog} to read now)")
    return lines
