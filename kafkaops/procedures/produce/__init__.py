"""The produce step: send the table's new rows to the topic, advancing the offset only past acknowledged rows.

One run (see ``runbooks/producer.md`` for the user's view):

1. Connect (autocommit, session time zone UTC), resolve the table, read the pipeline's row of
   ``producer_offsets`` (table + topic; added at 0 if the pipeline never ran, see ``procedures/db.py``).
2. Take the pipeline's producer lock (``pg_try_advisory_lock`` on this session): a second producer of
   the same pipeline refuses; producers of other pipelines run side by side.
3. Check the topic exists (never relies on auto-creation) and the offset is not ahead of the table.
4. Settle gate: read the high-water mark L (the id sequence's last value, or ``max(id)``), then wait
   until every transaction that held a lock on the table or its sequence at that moment has ended.
   Any row with ``id <= L`` is then committed or gone for good, so rows committed out of id order are
   never skipped. If the gate does not clear in time, nothing is sent past the offset.
5. Read ``L >= id > last_id`` by keyset pagination in batches; PostgreSQL builds each row's JSON
   (numeric as text, bytea as base64, timestamps in UTC, json nested) and kafkaops wraps it in the event.
   Each event is measured against the topic's max.message.bytes before its batch is sent: one too
   large stops the run before it (naming it), or with --skip-oversize is recorded in producer_skipped.
6. Produce with an idempotent producer (acks=all). Each batch's delivery reports are counted and
   checked one by one; the offset moves to a batch's last row only when every earlier batch and this
   one are fully acknowledged, with a compare-and-set UPDATE (exactly one row or the run stops).

The event (value, JSON) for row 42 of ``public.livedb`` in database ``kafkaops``; key ``"42"``::

    {"id":"livedb:42","op":"c","source":{"db":"kafkaops","schema":"public","table":"livedb"},
     "ts_ms":1764349200123,"after":{"id":42,"created_at":"2026-11-28T17:00:00.123456+00:00",...}}

The package, one module per part of the run:

- ``options``: what a run is given, finds, tells and returns (ProduceOptions, Plan, Hooks, ProduceResult);
- ``events``: the event around each row (or the user's mapper), event sizes against the topic's limit;
- ``debezium``: ``--envelope debezium``, Debezium's change event and struct key around each row;
- ``gate``: the settle gate (step 4);
- ``reader``: the batch reader, reading ahead on its own connections (step 5);
- ``delivery``: the delivery tracker, the batches in flight and their reports (step 6);
- ``committer``: the offset committer, compare-and-set past acknowledged batches, and ``finish()``;
- ``exactly_once``: ``--exactly-once``: Kafka transactions, the position recovered from the topic;
- ``run``: one run end to end, ``produce()``.

The SQL lives in ``kafkaops/adapters/pipeline_sql.py``, the producer's Kafka client in
``kafkaops/adapters/producer.py``.
"""

from kafkaops.adapters.producer import DEFAULT_MAX_MESSAGE_BYTES, max_event_bytes, producer_config, record_size
from kafkaops.procedures.produce.committer import OffsetCommitter
from kafkaops.procedures.produce.delivery import Batch, DeliveryTracker, check_topic, delivery_error
from kafkaops.procedures.produce.events import MIB, SKIP_REASON, EventBuilder, load_mapper, oversize_error, oversize_rows, select_sql, topic_limit
from kafkaops.procedures.produce.gate import gate_error, high_water, settle
from kafkaops.procedures.produce.options import MAX_IN_FLIGHT, READ_AHEAD, READERS, Hooks, Plan, ProduceOptions, ProduceResult, validate
from kafkaops.procedures.produce.reader import BatchReader
from kafkaops.procedures.produce.run import OFFSET_SYNCHRONOUS_COMMIT, Run, produce

__all__ = [
    "DEFAULT_MAX_MESSAGE_BYTES",
    "MAX_IN_FLIGHT",
    "MIB",
    "OFFSET_SYNCHRONOUS_COMMIT",
    "READERS",
    "READ_AHEAD",
    "SKIP_REASON",
    "Batch",
    "BatchReader",
    "DeliveryTracker",
    "EventBuilder",
    "Hooks",
    "OffsetCommitter",
    "Plan",
    "ProduceOptions",
    "ProduceResult",
    "Run",
    "check_topic",
    "delivery_error",
    "gate_error",
    "high_water",
    "load_mapper",
    "max_event_bytes",
    "oversize_error",
    "oversize_rows",
    "produce",
    "producer_config",
    "record_size",
    "select_sql",
    "settle",
    "topic_limit",
    "validate",
]
