"""The hand-over mark: a pipeline whose rows Kafka Connect (Debezium) sends now, so `kafkaops produce` refuses it.

One row per pipeline in ``kafkaops_handovers`` (made by ``kafkaops cdc deploy --from-producer``, removed by
``kafkaops cdc delete``). Read by produce (procedures.produce) and written by cdc (procedures.connect).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kafkaops.errors import RefusedError
from kafkaops.procedures.db_schema import Pipeline

TABLE = "kafkaops_handovers"
DDL = f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    source_table text NOT NULL, topic text NOT NULL, connector text NOT NULL, slot text NOT NULL,
    slot_lsn text NOT NULL, producer_last_id bigint NOT NULL, last_id bigint NOT NULL, rows_bridged bigint NOT NULL,
    handed_over_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (source_table, topic))"""


@dataclass(frozen=True)
class Mark:
    connector: str
    slot: str
    slot_lsn: str
    producer_last_id: int
    last_id: int
    rows_bridged: int


def read_mark(conn: Any, pipeline: Pipeline) -> Mark | None:
    if conn.execute("SELECT to_regclass(%s)", (TABLE,)).fetchone()[0] is None:
        return None
    row = conn.execute(
        "SELECT connector, slot, slot_lsn, producer_last_id, last_id, rows_bridged FROM kafkaops_handovers WHERE source_table = %s AND topic = %s",
        (pipeline.table, pipeline.topic),
    ).fetchone()
    return Mark(row[0], row[1], row[2], int(row[3]), int(row[4]), int(row[5])) if row else None


def write_mark(conn: Any, pipeline: Pipeline, mark: Mark) -> None:
    conn.execute(DDL)
    conn.execute(
        "INSERT INTO kafkaops_handovers (source_table, topic, connector, slot, slot_lsn, producer_last_id, last_id, rows_bridged) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        (pipeline.table, pipeline.topic, mark.connector, mark.slot, mark.slot_lsn, mark.producer_last_id, mark.last_id, mark.rows_bridged),
    )


def remove_mark(conn: Any, pipeline: Pipeline) -> bool:
    if conn.execute("SELECT to_regclass(%s)", (TABLE,)).fetchone()[0] is None:
        return False
    return bool(conn.execute("DELETE FROM kafkaops_handovers WHERE source_table = %s AND topic = %s", (pipeline.table, pipeline.topic)).rowcount)


def refuse_if_handed_over(conn: Any, pipeline: Pipeline) -> None:
    """`kafkaops produce` of a pipeline handed over to Kafka Connect: refused (exit 5) with the way back."""
    mark = read_mark(conn, pipeline)
    if mark is None:
        return
    raise RefusedError(
        f"{pipeline} was handed over to Kafka Connect after id {mark.last_id} (connector {mark.connector}): Debezium sends its changes now",
        hint=f"see it: kafkaops cdc status{pipeline.flags}; to go back to kafkaops produce: kafkaops cdc delete{pipeline.flags} --yes (see `kafkaops runbook connect`)",
    )
