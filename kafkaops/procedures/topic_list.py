"""`topics list`: one metadata request, summarised per topic.

Apart from :mod:`kafkaops.procedures.topics` (which re-exports all of it) so that the commonest short
command imports only this, not create/describe/delete and their config requests (see bench/README.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kafkaops.adapters.kafka import metadata
from kafkaops.procedures.topic_rules import is_internal

if TYPE_CHECKING:
    from kafkaops.settings import Settings

METADATA_TIMEOUT = 5.0  # one metadata request: an unreachable broker fails in seconds


@dataclass(frozen=True)
class TopicSummary:
    name: str
    partitions: int
    replication_factor: int
    internal: bool


@dataclass(frozen=True)
class TopicList:
    topics: list[TopicSummary]
    hidden: int  # internal topics left out (0 with include_internal)


def summary(name: str, tmeta: Any) -> TopicSummary:
    """A topic's partition count and replication factor (the most replicas any partition has)."""
    parts = list(tmeta.partitions.values())
    rf = max((len(p.replicas) for p in parts), default=0)
    return TopicSummary(name, len(parts), rf, is_internal(name))


def list_topics(settings: Settings, include_internal: bool = False, timeout: float = METADATA_TIMEOUT) -> TopicList:
    md = metadata(settings, timeout=timeout)
    every = [summary(name, t) for name, t in sorted(md.topics.items())]
    shown = [t for t in every if include_internal or not t.internal]
    return TopicList(shown, len(every) - len(shown))
