"""What `status --watch` and `groups describe --watch` show at each refresh, and how it moved since the last.

Each refresh asks the procedures that already answer these questions (services.status, groups.describe,
db.status) and the broker's end offsets of the pipeline topic; what changes between two refreshes (the
topic's messages/s, each group's lag trend) is computed from the previous snapshot. A part that cannot be
read (broker down, database unreachable) is kept as an error for that part; the refresh goes on.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from kafkaops.adapters.kafka import admin, metadata, watermarks
from kafkaops.errors import KafkaopsError
from kafkaops.settings import Settings

TIMEOUT = 3.0  # each request of a refresh: a broker that does not answer shows as an error, not a hang


@dataclass
class GroupLag:
    group: str
    state: str
    lag: int  # over every partition with a committed offset
    trend: str | None  # up | down | flat, against the previous refresh (None on the first)
    partitions: list[dict[str, Any]] = field(default_factory=list)  # topic, partition, committed, end, lag


@dataclass
class Snapshot:
    at: str  # UTC, ISO-8601
    seconds: float  # monotonic clock: the time between two refreshes
    topic: str
    services: list[dict[str, Any]] | None = None  # service, state, pid, then each Connect worker (None: not asked, as in groups describe --watch)
    up: bool | None = None
    end_offsets: dict[int, int] | None = None  # the pipeline topic's end offset per partition
    messages_per_s: float | None = None  # growth of the end offsets since the previous refresh
    groups: list[GroupLag] = field(default_factory=list)
    pending: int | None = None  # the producer's rows not sent yet
    errors: dict[str, str] = field(default_factory=dict)  # part (services | kafka | database) -> why it is missing

    def as_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        del doc["seconds"]
        if self.end_offsets is not None:
            doc["end_offsets"] = {str(p): e for p, e in self.end_offsets.items()}
        return doc


def trend(now: int, before: int | None) -> str | None:
    if before is None:
        return None
    return "up" if now > before else "down" if now < before else "flat"


def rate(ends: dict[int, int] | None, previous: Snapshot | None, seconds: float) -> float | None:
    """Messages/s written to the topic since ``previous`` (None on the first refresh or after the topic shrank)."""
    if ends is None or previous is None or previous.end_offsets is None:
        return None
    dt = seconds - previous.seconds
    grown = sum(ends.values()) - sum(previous.end_offsets.get(p, 0) for p in ends)
    if dt <= 0 or grown < 0 or set(previous.end_offsets) - set(ends):
        return None
    return round(grown / dt, 1)


def take(settings: Settings, previous: Snapshot | None = None, *, stack: bool = True, group: str | None = None) -> Snapshot:
    """One refresh. ``stack``: also the services and the producer's pending rows (status --watch);
    ``group``: only this consumer group (else every group)."""
    snap = Snapshot(datetime.now(UTC).isoformat(timespec="seconds"), time.monotonic(), settings.kafka_topic)
    if stack:
        _services(settings, snap)
    try:
        client = admin(settings)
        md = metadata(settings, timeout=TIMEOUT, client=client)
        snap.end_offsets = _end_offsets(client, md, settings.kafka_topic)
        snap.groups = _groups(settings, client, group, previous)
    except KafkaopsError as exc:
        snap.errors["kafka"] = exc.message
    snap.messages_per_s = rate(snap.end_offsets, previous, snap.seconds)
    if stack:
        _pending(settings, snap)
    return snap


def _services(settings: Settings, snap: Snapshot) -> None:
    from kafkaops.procedures import services

    try:
        st = services.status(settings)
    except KafkaopsError as exc:
        snap.errors["services"] = exc.message
        return
    snap.up = st.up
    snap.services = [{"service": s.service, "state": s.state, "pid": s.pid} for s in st.services]
    _connect_workers(settings, snap)


def _connect_workers(settings: Settings, snap: Snapshot) -> None:
    """A row per Connect worker after the services, as in `status`: only when Connect is in use here."""
    from kafkaops.procedures.connect import stack as connect_stack

    workers = connect_stack.status(settings)  # what cannot be asked is a row in state "error", never an exception
    if not workers or snap.services is None:
        return
    snap.services += [{"service": w.name, "state": w.state, "pid": w.pid} for w in workers]
    if connect_stack.expected_down(workers):
        snap.up = False


def _end_offsets(client: Any, md: Any, topic: str) -> dict[int, int] | None:
    meta = md.topics.get(topic)
    if meta is None or meta.error is not None:
        return None
    marks = watermarks(client, topic, sorted(meta.partitions), TIMEOUT)
    return {p: m.high for p, m in marks.items() if m.high is not None}


def _groups(settings: Settings, client: Any, only: str | None, previous: Snapshot | None) -> list[GroupLag]:
    from kafkaops.procedures import groups

    names = [only] if only else [g.group for g in groups.list_groups(settings, client)]
    before = {g.group: g.lag for g in previous.groups} if previous else {}
    out = []
    for name in names:
        d = groups.describe(settings, name, client=client)
        rows = [asdict(p) for p in d.partitions]
        out.append(GroupLag(d.group, d.state, d.total_lag, trend(d.total_lag, before.get(name)), rows))
    return out


def _pending(settings: Settings, snap: Snapshot) -> None:
    from kafkaops.procedures import db

    try:
        snap.pending = db.status(settings).pending
    except KafkaopsError as exc:
        snap.errors["database"] = exc.message
