"""Consume: read a topic like the JVM console consumer, and say where reading starts and why.

The procedure's console-consumer pitfalls are made explicit, one module each:

* :mod:`.plan`: where reading starts on each partition and why (pure). Without a group nothing is
  committed and the start comes from the watermarks; with one, from its committed offsets, and
  ``--from-beginning`` really seeks to the beginning.
* :mod:`.encode`: messages as JSON lines, raw values, or the pieces of a person's view (pure, fast).
* :mod:`.progress`: what was shown, whether every partition reached the end captured at start, and
  what the group committed (after it was written).
* :mod:`.session`: the consumer session that opens, reads in batches and closes.

Nothing here prints, and nothing here imports confluent_kafka (that is :mod:`kafkaops.adapters.consumer`).
"""

from kafkaops.procedures.consume.encode import (
    decode_headers,
    decode_key,
    decode_value,
    header_line,
    iso_ms,
    json_lines,
    parse_json,
    raw_lines,
)
from kafkaops.procedures.consume.plan import (
    ConsumeRequest,
    PartitionPlan,
    StartPlan,
    close_matches,
    describe_ranges,
    missing_topic,
    parse_offset,
    plan_start,
    validate,
)
from kafkaops.procedures.consume.progress import ConsumeResult
from kafkaops.procedures.consume.session import (
    BATCH,
    COMMIT_EVERY,
    JOIN_PATIENCE,
    POLL,
    ConsumerSession,
    OutputClosed,
    consume,
    open_session,
)

__all__ = [
    "BATCH",
    "COMMIT_EVERY",
    "JOIN_PATIENCE",
    "POLL",
    "ConsumeRequest",
    "ConsumeResult",
    "ConsumerSession",
    "OutputClosed",
    "PartitionPlan",
    "StartPlan",
    "close_matches",
    "consume",
    "decode_headers",
    "decode_key",
    "decode_value",
    "describe_ranges",
    "header_line",
    "iso_ms",
    "json_lines",
    "missing_topic",
    "open_session",
    "parse_json",
    "parse_offset",
    "plan_start",
    "raw_lines",
    "validate",
]
