"""What migrate compares after phases 3, 4, 5 and a rollback: topics (internal ones left out), their
partition counts, every group's committed offsets and the cluster id (kafkaops.procedures.cluster_snapshot)."""

from __future__ import annotations

from typing import Any

from kafkaops.errors import KafkaopsError, ServiceFailed
from kafkaops.procedures.cluster_snapshot import Snapshot, settle, take
from kafkaops.settings import Settings

DURING = "the migration"


def read_snapshot(settings: Settings) -> Snapshot:
    return take(settings, internal=False, end_offsets=False, overrides=False, timeout=10.0)


def snapshot_of(before: dict[str, Any]) -> Snapshot:
    """The snapshot a state file keeps as ``before``: {"cluster_id", "topics": {name: partitions} (internal
    topics left out), "groups": {group: {"topic:partition": committed offset}}}."""
    groups = {g: {_key(tp, ":", "/"): o for tp, o in offsets.items()} for g, offsets in before["groups"].items()}
    return Snapshot(before["cluster_id"], dict(before["topics"]), {}, groups, {})


def before_of(snap: Snapshot) -> dict[str, Any]:
    """The inverse of ``snapshot_of`` (state files keep the format they always had)."""
    groups = {g: {_key(tp, "/", ":"): o for tp, o in offsets.items()} for g, offsets in snap.group_offsets.items()}
    return {"cluster_id": snap.cluster_id, "topics": snap.partitions, "groups": groups}


def _key(tp: str, old: str, new: str) -> str:
    topic, _, partition = tp.rpartition(old)  # a topic name holds neither ':' nor '/'
    return f"{topic}{new}{partition}"


def verify(settings: Settings, before: Snapshot, *, phase: int, timeout: float) -> Snapshot:
    """Read the cluster until it holds what it held before (the new controller may need a moment), else fail naming what was lost."""
    try:
        now, cmp = settle(lambda: read_snapshot(settings), before, timeout, lambda _line: None, DURING)
        problems = cmp.problems
    except KafkaopsError as exc:
        problems = [exc.message]
    if problems:
        raise ServiceFailed(
            f"phase {phase}: the cluster does not hold what it held before the migration ({len(problems)} difference(s))",
            details=problems[:20],
        )
    return now
