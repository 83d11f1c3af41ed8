"""What the cluster holds (topics, partitions, group offsets, cluster id), read through the broker, and the comparison."""

from __future__ import annotations

import time
from typing import Any

from kafkaops.errors import KafkaopsError, ServiceFailed
from kafkaops.procedures.migrate.state import Snapshot
from kafkaops.settings import Settings


def read_snapshot(settings: Settings, timeout: float = 10.0) -> Snapshot:
    """Topics (internal ones left out), their partition counts, and every group's committed offsets."""
    from kafkaops.adapters import kafka, kafka_groups

    client = kafka.admin(settings)
    md = kafka.metadata(settings, timeout=timeout, client=client)
    topics = {name: len(t.partitions) for name, t in md.topics.items() if not name.startswith("__")}
    groups: dict[str, dict[str, int]] = {}
    names = sorted(g.group for g in kafka_groups.list_groups(client, timeout))
    for group, offsets in kafka_groups.committed_offsets_of(client, names, timeout).items():
        if offsets is None:
            raise ServiceFailed(f"the committed offsets of group {group} could not be read", hint="run `kafkaops doctor`, then rerun the command")
        groups[group] = {f"{t}:{p}": o for (t, p), o in sorted(offsets.items()) if o is not None}
    return Snapshot(md.cluster_id, dict(sorted(topics.items())), groups)


def differences(before: Snapshot, after: Snapshot) -> list[str]:
    """What changed between two snapshots; empty when the cluster holds the same metadata."""
    out = []
    if before.cluster_id != after.cluster_id:
        out.append(f"cluster id {before.cluster_id} became {after.cluster_id}")
    for name in sorted(set(before.topics) | set(after.topics)):
        b, a = before.topics.get(name), after.topics.get(name)
        if b is None:
            out.append(f"topic {name} appeared")
        elif a is None:
            out.append(f"topic {name} is missing")
        elif a != b:
            out.append(f"topic {name} has {a} partitions, had {b}")
    for group, offsets in before.groups.items():
        now = after.groups.get(group, {})
        for tp, offset in offsets.items():
            if now.get(tp) != offset:
                out.append(f"group {group} offset of {tp} is {now.get(tp)}, was {offset}")
    return out


def verify(settings: Settings, before: Snapshot, *, phase: int, timeout: float) -> Snapshot:
    """Read the cluster until it holds what it held before (the new controller may need a moment), else fail naming the differences."""
    deadline = time.monotonic() + timeout
    last: list[str] = []
    while True:
        try:
            now = read_snapshot(settings)
            last = differences(before, now)
            if not last:
                return now
        except KafkaopsError as exc:
            last = [exc.message]
        if time.monotonic() > deadline:
            raise ServiceFailed(
                f"phase {phase}: the cluster does not hold what it held before the migration ({len(last)} difference(s))",
                details=last[:20],
            )
        time.sleep(0.5)


def to_dict(snap: Snapshot) -> dict[str, Any]:
    return {"cluster_id": snap.cluster_id, "topics": snap.topics, "groups": snap.groups}
