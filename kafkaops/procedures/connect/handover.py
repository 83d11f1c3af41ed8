"""The hand-over from `kafkaops produce` to Debezium: no insert sent twice, none skipped.

Design (runbooks/connect.md, "How the hand-over works"), with P the producer's position (producer_offsets: last_id,
and for a position `produce --follow` left, the rows it sent above last_id: (last_id, sent_upto] minus its holes;
for an --exactly-once pipeline, last_id as its topic has it: see _in_topic_upto):

1. Take the pipeline's producer lock: no `kafkaops produce` of the pipeline runs until the hand-over ends,
   so P cannot move. Every insert P counts as sent is in the topic: produce's settle gate only moves last_id
   past ids that are committed or gone for good, and a live position names the ids above it it has not sent.
2. Create the logical slot over a replication connection with an exported snapshot S. PostgreSQL guarantees
   that S sees exactly the transactions committed before the slot's consistent point C, and that the slot
   streams exactly the transactions committed after C: each committed transaction is on one side only.
3. In S, read every row P has not sent (in its holes and above it) and send it with kafkaops's producer in
   Debezium's envelope (op "c"), as it is at C. These are the inserts committed before C that the producer had
   not sent. A row the producer sent was visible before step 2 began, so its commit is before C: Debezium never
   streams it again.
4. Move P to the highest id sent (compare-and-set, a plain position from then on), write the hand-over mark
   (produce now refuses), release the lock, and deploy the connector with snapshot.mode=no_data on that slot:
   it streams from C.

So every insert is sent once: by the producer, by step 3 (committed before C, not sent), or by Debezium
(committed after C). Updates and deletes committed after C come from Debezium; those committed before C are
not sent: a row P had sent keeps its insert event, a row it had not sent goes in step 3 as it is at C (a row
deleted before C not at all). Refused before any slot is made: a `--mode timestamp+id` position (a cursor that
is no id, kafkaops's envelope) and a topic whose last events are not Debezium's envelope without schemas.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from kafkaops.adapters import kafka as kafka_adapter
from kafkaops.adapters import pipeline_sql, replication_sql, topic_tail, transactions
from kafkaops.adapters import producer as kafka_producer
from kafkaops.defaults import DEFAULT_BATCH_SIZE
from kafkaops.errors import KafkaopsError, RefusedError
from kafkaops.procedures.db import take_lock
from kafkaops.procedures.db_schema import Pipeline, TableRef, claim_position, read_position
from kafkaops.procedures.handover_mark import Mark, read_mark, write_mark
from kafkaops.procedures.produce.debezium import event_builder
from kafkaops.procedures.produce.exactly_once import header_prefix, recovered_end, recovery_window
from kafkaops.procedures.produce.position import LivePosition
from kafkaops.settings import Settings

BATCH = 5000
END = 2**63 - 1


@dataclass(frozen=True)
class Handover:
    producer_last_id: int
    last_id: int
    rows_bridged: int
    slot_lsn: str


def _refuse_second(pipeline: Pipeline, holder: str) -> RefusedError:
    return RefusedError(
        f"a producer is running for {pipeline}{holder}: the hand-over needs it stopped",
        hint="stop that `kafkaops produce` (Ctrl+C in its terminal), then rerun `kafkaops cdc deploy --from-producer`",
    )


class _Sender:
    """kafkaops's idempotent producer for the hand-over's rows; ``close`` waits for every acknowledgement."""

    def __init__(self, settings: Settings, topic: str) -> None:
        self.topic, self.sent = topic, 0
        self.errors: list[Any] = []
        # Debezium's envelope: keys go where Connect's producer puts them (see debezium.partitioner)
        self.producer = kafka_producer.open_producer(settings, 60.0, 1_000_000, self.errors.append, kafka_producer.JAVA_PARTITIONER)

    def _ack(self, err: Any, _msg: Any) -> None:
        if err is not None:
            self.errors.append(err)

    def send(self, events: list[tuple[Any, ...]]) -> None:
        refused = kafka_producer.refusal_class()
        for key, _created, value in events:
            while True:
                try:
                    self.producer.produce(self.topic, value, key, on_delivery=self._ack)
                    break
                except BufferError:
                    self.producer.poll(0.05)
                except refused as exc:  # refused before sending: an event over 1 MB, a failed producer
                    shown = key.decode(errors="replace") if isinstance(key, bytes) else key
                    raise KafkaopsError(
                        f"the hand-over could not send the row keyed {shown} to {self.topic}: {kafka_producer.refusal_text(exc)}",
                        hint="nothing was handed over (the slot is dropped, the producer's position is unchanged); fix the cause, "
                        "then rerun `kafkaops cdc deploy --from-producer`",
                    ) from None
            self.sent += 1

    def close(self) -> None:
        if self.producer.flush(60.0) or self.errors:
            raise KafkaopsError(f"the hand-over could not send its rows to {self.topic}: {self.errors[0] if self.errors else 'not acknowledged in 60s'}")


def _refuse_cursor(pipeline: Pipeline) -> RefusedError:
    return RefusedError(
        f"{pipeline} is produced with --mode timestamp+id: the hand-over goes on from an id position, in Debezium's envelope",
        hint=f"hand over a pipeline produced with `kafkaops produce --envelope debezium`; for this one: kafkaops db rewind{pipeline.flags} "
        "to an id, or deploy without --from-producer to a new topic (Debezium snapshots the table)",
    )


DEBEZIUM_KEY = re.compile(rb'\{"id":-?[0-9]+\}')  # Debezium's key as the workers' JsonConverter (no schemas) writes it


def _require_debezium_events(settings: Settings, pipeline: Pipeline) -> None:
    """Refuse a topic whose last events are of another shape (kafkaops's envelope, or Connect's schema form):
    the hand-over and Debezium would add events consumers do not read the same way."""
    odd = [key for key in topic_tail.last_keys(settings, pipeline.topic) if key is None or not DEBEZIUM_KEY.fullmatch(key)]
    if odd:
        shown = "no key" if odd[0] is None else odd[0][:40].decode("utf-8", "replace")
        raise RefusedError(
            f"the events in {pipeline.topic} are not in Debezium's envelope without schemas (the last one's key: {shown}): "
            "the hand-over and Debezium would write another shape",
            hint="hand over a pipeline produced with `kafkaops produce --envelope debezium` (without --with-schema), "
            "or deploy without --from-producer to a new topic (Debezium snapshots the table)",
        )


def _in_topic_upto(settings: Settings, conn: Any, pipeline: Pipeline, row: int, last_id: int) -> int:
    """An exactly-once pipeline's position as its topic has it: a `produce --exactly-once` killed between Kafka's commit
    and the offset's update left its last transaction's rows above last_id in the topic (recovered as produce recovers them)."""
    if not pipeline_sql.ran_exactly_once(conn, row):
        return last_id
    _last, _created, token = pipeline_sql.eos_state(conn, row)
    if token is None:
        return last_id
    headers = list(transactions.header_values(settings, pipeline.topic, recovery_window(DEFAULT_BATCH_SIZE)))
    return max(last_id, recovered_end(headers, header_prefix(token, last_id)) or last_id)


def bridge(settings: Settings, conn: Any, dsn: str, ref: TableRef, pipeline: Pipeline, slot: str, connector: str) -> Handover:
    """Steps 1-4 of the module's design on ``conn`` (this session holds the producer lock until it ends)."""
    offset = claim_position(conn, pipeline, settings)
    assert offset.row is not None
    take_lock(conn, pipeline, offset.row, refuse=_refuse_second)
    if read_mark(conn, pipeline) is not None:
        raise RefusedError(f"{pipeline} is already handed over to Kafka Connect", hint="see it: kafkaops cdc status")
    position = read_position(conn, pipeline, settings)
    assert position is not None
    if position.last_ts is not None:
        raise _refuse_cursor(pipeline)
    kafka_adapter.metadata(settings)  # the broker answers before a slot is made
    _require_debezium_events(settings, pipeline)
    start = _in_topic_upto(settings, conn, pipeline, position.row or offset.row, position.last_id)
    live = LivePosition.parse(start, position.sent_upto, position.holes)
    sender = _Sender(settings, pipeline.topic)
    top, last_created = live.upto, None
    try:
        with replication_sql.slot_with_snapshot(dsn, slot) as (lsn, snapshot), replication_sql.in_snapshot(dsn, snapshot) as snap:
            builder = event_builder(snap, ref, "debezium", False)
            for after, level in live.ranges(END):
                while rows := pipeline_sql.fetch_batch(snap, builder.query(), builder.params(after, level, BATCH, int(time.time() * 1000))):
                    sender.send(builder.events(rows))
                    after = int(rows[-1][0])
                    if after > top:
                        top, last_created = after, rows[-1][1]
        sender.close()
        if not live.clean or top != position.last_id:  # a plain position at the highest id sent: (P, top] is sent or not committed at C
            old = (position.last_id, position.sent_upto)
            if not pipeline_sql.advance_live(conn, position.row or offset.row, old, (top, top, ""), last_created):
                raise KafkaopsError(f"the position of {pipeline} moved during the hand-over", hint="kafkaops cdc delete --yes, then deploy again")
        write_mark(conn, pipeline, Mark(connector, slot, lsn, live.last_id, top, sender.sent))
    except BaseException:
        replication_sql.drop_slot_quietly(conn, slot)  # a retry starts over from P: rows sent already go again (never a gap)
        raise
    return Handover(live.last_id, top, sender.sent, lsn)
