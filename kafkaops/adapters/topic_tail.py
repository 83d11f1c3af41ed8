"""The last event of each partition of a topic (its key), read by a read_committed consumer: what shape the
events of a pipeline's topic have before `kafkaops cdc deploy --from-producer` adds its own."""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING

from kafkaops.adapters.kafka import client_config, consumer, metadata, watermarks
from kafkaops.errors import UnreachableError

if TYPE_CHECKING:
    from kafkaops.settings import Settings

WINDOW = 20  # offsets read back from each partition's end: a transaction's commit marker takes one


def last_keys(settings: Settings, topic: str, timeout: float = 15.0) -> list[bytes | None]:
    """The key of the last committed event of each non-empty partition of ``topic`` ([] when it has none, or the topic is missing)."""
    from confluent_kafka import KafkaError, TopicPartition

    conf = {"group.id": f"kafkaops-tail-{uuid.uuid4().hex}", "enable.auto.commit": False, "isolation.level": "read_committed", "enable.partition.eof": True}
    c = consumer(settings, client_config(settings, **conf))
    try:
        md = metadata(settings, timeout=min(timeout, 10.0), client=c)  # a broker that does not answer: UnreachableError, exit 4
        if topic not in md.topics or md.topics[topic].error is not None:
            return []
        starts = []
        for p, mark in watermarks(c, topic, sorted(md.topics[topic].partitions), timeout).items():
            if mark.error is not None or mark.low is None or mark.high is None:
                raise UnreachableError(f"could not read the end of topic {topic} (partition {p}): {mark.error}", hint="check the broker with `kafkaops status`")
            if mark.high > mark.low:
                starts.append(TopicPartition(topic, p, max(mark.low, mark.high - WINDOW)))
        if not starts:
            return []
        c.assign(starts)
        last: dict[int, bytes | None] = {}
        left = {tp.partition for tp in starts}
        deadline = time.monotonic() + timeout
        while left:
            if time.monotonic() > deadline:
                raise UnreachableError(f"could not read the end of topic {topic} within {timeout:g}s", hint="check the broker with `kafkaops status`")
            for msg in c.consume(500, timeout=0.5):
                err = msg.error()
                if err is None:
                    last[msg.partition()] = msg.key()
                elif err.code() == KafkaError._PARTITION_EOF:
                    left.discard(msg.partition())
        return [last[p] for p in sorted(last)]
    finally:
        c.close()
