"""Step 7 of the checklist: messages in the topic and consumer groups."""

from __future__ import annotations

from typing import Any

from kafkaops.adapters import kafka, kafka_groups
from kafkaops.doctor.common import _first_line
from kafkaops.doctor.context import Context
from kafkaops.doctor.registry import check
from kafkaops.doctor.results import LIVEDB, OFFSETS_TABLE, Outcome, failed, passed, warned
from kafkaops.errors import KafkaopsError


def _watermarks(ctx: Context, name: str, parts: list[int]) -> dict[int, tuple[int, int]]:
    """(low, high) of each partition; a partition the broker could not answer for raises."""
    marks = kafka.watermarks(ctx.admin(), name, parts, 2.5)
    out: dict[int, tuple[int, int]] = {}
    for p, mark in marks.items():
        if mark.low is None or mark.high is None:
            raise KafkaopsError(f"partition {p}: {mark.error or 'no answer'}")
        out[p] = (mark.low, mark.high)
    return out


@check(
    "messages.end_offsets",
    7,
    "producer",
    "messages in the topic (end offsets)",
    requires=("topic.exists", "config.advertised"),
    uses=("database.offset", "database.pending"),  # ctx.db_facts: compared with the end offsets when present
)
def check_end_offsets(ctx: Context) -> Outcome:
    name = ctx.settings.kafka_topic
    parts = sorted(ctx.md.topics[name].partitions)
    try:
        ctx.offsets = _watermarks(ctx, name, parts)
    except KafkaopsError as exc:  # BrokerRequestError: no answer in time, or a refusal
        return failed(
            f"cannot read the end offsets of {name}: {_first_line(exc)}",
            remedy="check the broker (`kafkaops status`)",
            runbook="broker-unreachable",
            next="kafkaops status",
        )
    end = sum(hi for _, hi in ctx.offsets.values())
    held = sum(hi - lo for lo, hi in ctx.offsets.values())
    details = [f"partition {p}: offsets {lo}..{hi} ({hi - lo} message(s))" for p, (lo, hi) in sorted(ctx.offsets.items())]
    data: dict[str, Any] = {
        "end_offsets": {str(p): hi for p, (_, hi) in ctx.offsets.items()},
        "start_offsets": {str(p): lo for p, (lo, _) in ctx.offsets.items()},
        "messages": held,
    }
    last_id, pending = ctx.db_facts.get("last_id"), ctx.db_facts.get("pending")
    if end == 0:
        if last_id:
            return failed(
                f"{name} is empty but {OFFSETS_TABLE}.last_id={last_id}: the topic was recreated or reset after rows were sent, "
                "and the producer will not send them again",
                remedy=f"if the rows must be in Kafka again, rewind the offset: {ctx.db_facts.get('rewind', '`kafkaops db rewind --yes`')}, then `kafkaops produce`",
                runbook="producer-offset-ahead",
                details=details,
                next="kafkaops runbook failures producer-offset-ahead",
                data=data,
            )
        if pending:
            return failed(
                f"{name} is empty while {pending} row(s) wait in {LIVEDB}: nothing was produced yet",
                remedy="run the producer: `kafkaops produce`",
                runbook="consumer-shows-nothing",
                details=details,
                next="kafkaops produce",
                data=data,
            )
        return warned(
            f"{name} is empty: nothing was produced yet",
            remedy="insert rows into livedb (`kafkaops db seed 10`), then `kafkaops produce`",
            runbook="consumer-shows-nothing",
            details=details,
            next="kafkaops produce",
            data=data,
        )
    if held == 0:
        return warned(
            f"{name} holds no messages now (end offset {end}): retention or deletion removed them",
            remedy="new messages appear after the next `kafkaops produce`",
            runbook="consumer-shows-nothing",
            details=details,
            data=data,
        )
    return passed(f"{name} holds {held} message(s) (end offset {end})", details=details, data=data)


@check("consumer.groups", 7, "consumer", "consumer groups on the topic and their lag", requires=("messages.end_offsets",), timeout=6.0)
def check_consumer_groups(ctx: Context) -> Outcome:
    name = ctx.settings.kafka_topic
    admin = ctx.admin()
    groups = [(g.group, g.state) for g in kafka_groups.list_groups(admin, 2.5)][:200]
    committed = kafka_groups.committed_offsets_of(admin, [gid for gid, _ in groups], 2.5)
    lagging: list[tuple[str, int, str]] = []
    details: list[str] = []
    per_group: dict[str, Any] = {}
    for gid, state in groups:
        offsets = committed.get(gid)
        mine = sorted((p, c) for (t, p), c in (offsets or {}).items() if t == name and c is not None)
        if not mine:
            continue
        lag = sum(max(0, ctx.offsets.get(p, (0, 0))[1] - c) for p, c in mine)
        per_group[gid] = {"state": state, "lag": lag, "committed": {str(p): c for p, c in mine}}
        details.append(f"group {gid} ({state.lower()}): committed {', '.join(f'p{p}={c}' for p, c in mine)}, lag {lag}")
        if lag:
            lagging.append((gid, lag, state))
    if lagging:
        gid, lag, state = max(lagging, key=lambda x: x[1])
        idle = state.upper() in ("EMPTY", "DEAD", "UNKNOWN")
        return warned(
            f"consumer group {gid} is {lag} message(s) behind on {name}" + (" and has no active member" if idle else ""),
            remedy=f"run its consumer again (it resumes from its committed offset), or read everything with "
            f"`kafkaops consume {name} --from-beginning` (no --group: nothing committed); details: `kafkaops groups describe {gid}`",
            runbook="consumer-shows-nothing",
            details=details,
            next=f"kafkaops groups describe {gid}",
            data={"groups": per_group},
        )
    if not per_group:
        return passed(f"no consumer group has committed offsets on {name} (console consumers without a group read with --from-beginning)", data={"groups": {}})
    return passed(f"{len(per_group)} consumer group(s) on {name}, all caught up", details=details, data={"groups": per_group})
