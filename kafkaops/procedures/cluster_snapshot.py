"""What the cluster holds, read through the broker before a change to the stack and again after it, then compared.

Used by ``migrate`` (after phases 3, 4, 5 and a rollback) and ``upgrade`` (step 7). A snapshot holds
the cluster id, every topic's partition count, every partition's end offset, every consumer group's
committed offsets and every topic's config overrides (DYNAMIC_TOPIC_CONFIG); ``take`` reads only the
parts a command compares. After the change nothing may be missing or lower: a lost topic or partition,
a lower offset, a changed override or cluster id is a problem. An end offset or a committed offset
that grew, or a topic created, is growth (clients ran meanwhile), never treated as a loss.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kafkaops.errors import KafkaopsError, ServiceFailed
from kafkaops.settings import Settings

TIMEOUT = 15.0  # seconds for each admin request


@dataclass
class Snapshot:
    cluster_id: str | None
    partitions: dict[str, int]  # topic -> partition count
    end_offsets: dict[str, int]  # "topic/partition" -> high watermark
    group_offsets: dict[str, dict[str, int]]  # group -> "topic/partition" -> committed offset
    overrides: dict[str, dict[str, str | None]]  # topic -> {config: value} set on the topic itself

    def summary(self) -> dict[str, Any]:
        return {
            "cluster_id": self.cluster_id,
            "topics": len(self.partitions),
            "partitions": sum(self.partitions.values()),
            "messages_end_offset_total": sum(self.end_offsets.values()),
            "groups": len(self.group_offsets),
            "topic_config_overrides": sum(len(v) for v in self.overrides.values()),
        }


def take(settings: Settings, *, internal: bool = True, end_offsets: bool = True, overrides: bool = True, timeout: float = TIMEOUT) -> Snapshot:
    """Asked of the broker at KAFKA_BROKER (admin API only); ``internal`` keeps the ``__`` topics, the other
    flags say whether end offsets and config overrides are read. A group whose offsets cannot be read fails."""
    from kafkaops.adapters.kafka import admin, metadata, watermarks
    from kafkaops.adapters.kafka_configs import topic_configs
    from kafkaops.adapters.kafka_groups import committed_offsets_of, list_groups

    client = admin(settings)
    md = metadata(settings, timeout=timeout, client=client)
    partitions = {name: len(t.partitions) for name, t in sorted(md.topics.items()) if internal or not name.startswith("__")}
    ends: dict[str, int] = {}
    configs: dict[str, dict[str, str | None]] = {}
    for name, count in partitions.items():
        if end_offsets:
            for p, mark in watermarks(client, name, list(range(count)), timeout).items():
                ends[f"{name}/{p}"] = mark.high if mark.high is not None else -1
        if overrides and not name.startswith("__"):
            configs[name] = {c.name: c.value for c in topic_configs(client, name, timeout) if c.source == "DYNAMIC_TOPIC_CONFIG"}
    groups: dict[str, dict[str, int]] = {}
    names = sorted(g.group for g in list_groups(client, timeout))
    for group, offsets in committed_offsets_of(client, names, timeout).items():
        if offsets is None:
            raise ServiceFailed(f"the committed offsets of group {group} could not be read", hint="run `kafkaops doctor`, then rerun the command")
        groups[group] = {f"{t}/{p}": o for (t, p), o in sorted(offsets.items()) if o is not None}
    return Snapshot(md.cluster_id, partitions, ends, groups, configs)


@dataclass
class Comparison:
    problems: list[str] = field(default_factory=list)  # losses: the change must not be called done
    notes: list[str] = field(default_factory=list)  # growth while it ran: said, not a failure

    @property
    def ok(self) -> bool:
        return not self.problems


def compare(before: Snapshot, after: Snapshot, during: str = "the upgrade") -> Comparison:
    """Pure: every loss (a changed cluster id, a missing topic or partition, a lower offset, a changed override)
    is a problem; growth is a note that says it happened ``during`` the change."""
    cmp = Comparison()
    if before.cluster_id != after.cluster_id:
        cmp.problems.append(f"cluster id changed: {before.cluster_id} before, {after.cluster_id} after")
    for topic, count in sorted(before.partitions.items()):
        now = after.partitions.get(topic)
        if now is None:
            cmp.problems.append(f"topic {topic} is missing")
        elif now != count:
            cmp.problems.append(f"topic {topic} has {now} partition(s), {count} before")
    _offsets(cmp, "end offset of", before.end_offsets, after.end_offsets, f"messages were written during {during}")
    for group, offsets in sorted(before.group_offsets.items()):
        _offsets(cmp, f"group {group}'s committed offset on", offsets, after.group_offsets.get(group, {}), f"the group committed during {during}")
    for topic, configs in sorted(before.overrides.items()):
        now_cfg = after.overrides.get(topic, {})
        for name, value in sorted(configs.items()):
            if now_cfg.get(name) != value:
                cmp.problems.append(f"topic {topic}: config override {name}={value} is now {now_cfg.get(name)!r}")
    return cmp


def _offsets(cmp: Comparison, what: str, before: dict[str, int], after: dict[str, int], growth: str) -> None:
    for key, offset in sorted(before.items()):
        now = after.get(key)
        if now is None:
            cmp.problems.append(f"{what} {key} is missing ({offset} before)")
        elif now < offset:
            cmp.problems.append(f"{what} {key} is {now}, {offset} before")
        elif now > offset:
            cmp.notes.append(f"{what} {key} grew from {offset} to {now} ({growth})")


def settle(
    read: Callable[[], Snapshot], before: Snapshot, timeout: float, progress: Callable[[str], None], during: str = "the upgrade"
) -> tuple[Snapshot, Comparison]:
    """``read`` and compare until nothing is lost or ``timeout`` passes: right after a start a partition
    leader or the group coordinator may still be loading (an offset reads as missing for a moment).
    The last comparison is returned; a read that still fails at the deadline raises."""
    deadline = time.monotonic() + timeout
    said = False
    while True:
        try:
            after = read()
            cmp = compare(before, after, during)
        except KafkaopsError:
            if time.monotonic() > deadline:
                raise
        else:
            if cmp.ok or time.monotonic() > deadline:
                return after, cmp
        if not said:
            progress(f"waiting until the broker serves every partition and group as before (up to {timeout:g}s)")
            said = True
        time.sleep(0.5)
