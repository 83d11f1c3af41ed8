"""The hand-over from `kafkaops produce` to Debezium: no row sent twice, none skipped.

Design (runbooks/connect.md, "How the hand-over works"), with P the producer's position (producer_offsets.last_id):

1. Take the pipeline's producer lock: no `kafkaops produce` of the pipeline runs until the hand-over ends,
   so P cannot move. Every insert with id <= P is in the topic: produce's settle gate only moves P past
   ids that are committed or gone for good.
2. Create the logical slot over a replication connection with an exported snapshot S. PostgreSQL guarantees
   that S sees exactly the transactions committed before the slot's consistent point C, and that the slot
   streams exactly the transactions committed after C: each committed transaction is on one side only.
3. In S, read every row with id > P and send it with kafkaops's producer in Debezium's envelope (op "c").
   These are the inserts committed before C that the producer had not sent. A row the producer sent was
   visible before step 2 began, so its commit is before C: Debezium never streams it again.
4. Move P to the highest id sent (compare-and-set), write the hand-over mark (produce now refuses), release
   the lock, and deploy the connector with snapshot.mode=no_data on that slot: it streams from C.

So every insert is sent once: by the producer (id <= P), by step 3 (committed before C, id > P), or by
Debezium (committed after C); updates and deletes committed after C come from Debezium. Updates and deletes
of rows committed before C are not sent (the producer never captured them either).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from kafkaops.adapters import kafka as kafka_adapter
from kafkaops.adapters import pipeline_sql, replication_sql
from kafkaops.adapters import producer as kafka_producer
from kafkaops.errors import KafkaopsError, RefusedError
from kafkaops.procedures.db import take_lock
from kafkaops.procedures.db_schema import Pipeline, TableRef, claim_position, read_position
from kafkaops.procedures.handover_mark import Mark, read_mark, write_mark
from kafkaops.procedures.produce.debezium import event_builder
from kafkaops.settings import Settings

BATCH = 5000


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
        self.producer = kafka_producer.open_producer(settings, 60.0, 1_000_000, self.errors.append)

    def _ack(self, err: Any, _msg: Any) -> None:
        if err is not None:
            self.errors.append(err)

    def send(self, events: list[tuple[Any, ...]]) -> None:
        for key, _created, value in events:
            while True:
                try:
                    self.producer.produce(self.topic, value, key, on_delivery=self._ack)
                    break
                except BufferError:
                    self.producer.poll(0.05)
            self.sent += 1

    def close(self) -> None:
        if self.producer.flush(60.0) or self.errors:
            raise KafkaopsError(f"the hand-over could not send its rows to {self.topic}: {self.errors[0] if self.errors else 'not acknowledged in 60s'}")


def bridge(settings: Settings, conn: Any, dsn: str, ref: TableRef, pipeline: Pipeline, slot: str, connector: str) -> Handover:
    """Steps 1-4 of the module's design on ``conn`` (this session holds the producer lock until it ends)."""
    offset = claim_position(conn, pipeline, settings)
    assert offset.row is not None
    take_lock(conn, pipeline, offset.row, refuse=_refuse_second)
    if read_mark(conn, pipeline) is not None:
        raise RefusedError(f"{pipeline} is already handed over to Kafka Connect", hint="see it: kafkaops cdc status")
    position = read_position(conn, pipeline, settings)
    assert position is not None
    after = position.last_id
    kafka_adapter.metadata(settings)  # the broker answers before a slot is made
    sender = _Sender(settings, pipeline.topic)
    top, last_created = after, None
    try:
        with replication_sql.slot_with_snapshot(dsn, slot) as (lsn, snapshot), replication_sql.in_snapshot(dsn, snapshot) as snap:
            builder = event_builder(snap, ref, "debezium", False)
            while rows := pipeline_sql.fetch_batch(snap, builder.query(), builder.params(top, 2**63 - 1, BATCH, int(time.time() * 1000))):
                sender.send(builder.events(rows))
                top, last_created = int(rows[-1][0]), rows[-1][1]
        sender.close()
        if top != after and not pipeline_sql.advance_offset(conn, position.row or offset.row, after, top, last_created):
            raise KafkaopsError(f"the position of {pipeline} moved during the hand-over", hint="kafkaops cdc delete --yes, then deploy again")
        write_mark(conn, pipeline, Mark(connector, slot, lsn, after, top, sender.sent))
    except BaseException:
        replication_sql.drop_slot_quietly(conn, slot)  # a retry starts over from P: rows sent already go again (never a gap)
        raise
    return Handover(after, top, sender.sent, lsn)
