"""Step 6 of the checklist: the producer (and the canary)."""

from __future__ import annotations

import time
from typing import Any

from kafkaops.adapters import network
from kafkaops.doctor.common import _first_line
from kafkaops.doctor.context import Context
from kafkaops.doctor.registry import check
from kafkaops.doctor.results import CANARY_HEADER, LIVEDB, Outcome, failed, passed


@check("producer.leader", 6, "producer", "a producer reaches the topic's leaders", requires=("topic.exists", "config.advertised"))
def check_producer_leader(ctx: Context) -> Outcome:
    name = ctx.settings.kafka_topic
    topic = ctx.md.topics[name]
    brokers = {b.id: b for b in ctx.md.brokers}
    details: list[str] = []
    for part in sorted(topic.partitions.values(), key=lambda p: p.id):
        leader = brokers.get(part.leader)
        if leader is None:
            return failed(
                f"partition {part.id} of {name} has no reachable leader (leader {part.leader})",
                remedy="start the broker holding it (`kafkaops up`)",
                runbook="broker-unreachable",
                details=details,
                next="kafkaops up",
            )
        p = network.probe(leader.host, leader.port, timeout=1.0)
        if not p.connected:
            return failed(
                f"a producer cannot reach the leader of {name}[{part.id}] (broker {leader.id} at {leader.host}:{leader.port}: {p.error})",
                remedy="make advertised.listeners name an address clients can reach",
                runbook="advertised-listeners",
                details=details,
                next=f"fix advertised.listeners in {ctx.settings.server_properties}",
            )
        details.append(f"partition {part.id}: leader broker {leader.id} at {leader.host}:{leader.port} ({p.ms:g} ms)")
    return passed(f"a producer can reach the leader of every partition of {name} (nothing written)", details=details)


_CANARY_VALUES = {
    "text": "%(marker)s",
    "character varying": "%(marker)s",
    "character": "%(marker)s",
    "integer": "0",
    "bigint": "0",
    "smallint": "0",
    "numeric": "0",
    "real": "0",
    "double precision": "0",
    "boolean": "false",
    "json": "'{}'",
    "jsonb": "'{}'",
    "bytea": "''::bytea",
    "uuid": "gen_random_uuid()",
    "timestamp with time zone": "now()",
    "timestamp without time zone": "now()",
    "date": "current_date",
}


def _canary_insert(cur: Any) -> tuple[str, list[str]]:
    """An INSERT for one canary row: the marker in the first text column, a neutral value in each required column."""
    cur.execute(
        "SELECT column_name, data_type, is_nullable = 'YES', column_default IS NOT NULL FROM information_schema.columns "
        "WHERE table_name = %s AND table_schema = current_schema() ORDER BY ordinal_position",
        (LIVEDB,),
    )
    names: list[str] = []
    values: list[str] = []
    marked = False
    for name, dtype, nullable, has_default in cur.fetchall():
        is_text = dtype in ("text", "character varying")
        if (is_text and not marked) or (not nullable and not has_default):
            expr = _CANARY_VALUES.get(dtype)
            if expr is None:
                continue  # an exotic required type: the INSERT fails and the canary goes on without a row
            names.append('"' + name.replace('"', '""') + '"')
            values.append(expr)
            marked = marked or is_text
    if not names:
        return f"INSERT INTO {LIVEDB} DEFAULT VALUES RETURNING id, row_to_json({LIVEDB}.*)::text", []  # noqa: S608
    return f"INSERT INTO {LIVEDB} ({', '.join(names)}) VALUES ({', '.join(values)}) RETURNING id, row_to_json({LIVEDB}.*)::text", names  # noqa: S608


@check(
    "producer.canary",
    6,
    "producer",
    "canary: database → Kafka → consumer",
    requires=("producer.leader",),
    uses=("database.reachable",),  # ctx.db: the canary row goes into the database it connected to
    timeout=15.0,
    canary_only=True,
)
def check_canary(ctx: Context) -> Outcome:
    """Insert a marked row (in a transaction that is rolled back), produce it, consume it back and match."""
    import json
    import uuid

    from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

    from kafkaops.adapters.kafka import client_config

    name = ctx.settings.kafka_topic
    marker = f"kafkaops-doctor-canary-{uuid.uuid4().hex[:12]}"
    hops: dict[str, Any] = {}  # the milliseconds of each hop, the check's data (Outcome.data)
    details: list[str] = []
    row_json: str | None = None
    t0 = time.perf_counter()
    tx = None
    db_url = ctx.db_url if ctx.db is not None else None  # the database that database.reachable connected to
    if db_url is not None:
        import psycopg

        try:
            tx = psycopg.connect(db_url, connect_timeout=2, client_encoding="UTF8", options="-c statement_timeout=3000 -c lock_timeout=1000")
            with tx.cursor() as cur:
                statement, _ = _canary_insert(cur)
                cur.execute(statement, {"marker": marker})
                row = cur.fetchone()
                if row is None:  # INSERT ... RETURNING gives one row, or raises
                    raise RuntimeError("the INSERT returned no row")
                row_id, row_json = row
            hops["database_insert_ms"] = round((time.perf_counter() - t0) * 1000, 1)
            details.append(f"inserted canary row id {row_id} into {LIVEDB} (in a transaction that is rolled back: never committed)")
        except Exception as exc:  # noqa: BLE001 - a livedb with required columns: still test Kafka
            details.append(f"no canary row in {LIVEDB}: {_first_line(exc)}")
            if tx is not None:
                tx.rollback()
    event = json.dumps({"event_id": marker, "canary": True, "row": json.loads(row_json) if row_json else None}).encode()
    try:
        t1 = time.perf_counter()
        delivered: list[Any] = []
        producer = Producer(client_config(ctx.settings, **{"acks": "all", "message.timeout.ms": 4000, "enable.idempotence": False}))
        producer.produce(name, key=marker.encode(), value=event, headers=[(CANARY_HEADER, b"1")], on_delivery=lambda err, msg: delivered.append((err, msg)))
        producer.flush(5.0)
        if not delivered or delivered[0][0] is not None:
            err = delivered[0][0] if delivered else "no delivery report"
            return failed(
                f"the canary message was not accepted by {name}: {err}",
                remedy="run the checks above; read the broker log",
                runbook="broker-unreachable",
                details=details,
                next="kafkaops logs kafka",
                data=hops,
            )
        msg = delivered[0][1]
        hops["produce_ack_ms"] = round((time.perf_counter() - t1) * 1000, 1)
        details.append(f"produced to {name}[{msg.partition()}] at offset {msg.offset()} (header {CANARY_HEADER}=1)")
        t2 = time.perf_counter()
        consumer = Consumer(client_config(ctx.settings, **{"group.id": "kafkaops-doctor-canary", "enable.auto.commit": False, "enable.partition.eof": False}))
        try:
            consumer.assign([TopicPartition(name, msg.partition(), msg.offset())])
            got = None
            deadline = time.monotonic() + 5.0
            while got is None and time.monotonic() < deadline:
                m = consumer.poll(0.5)
                if m is not None and m.error() is None and m.key() == marker.encode():
                    got = m
        finally:
            consumer.close()
        if got is None:
            return failed(
                f"the canary message was produced but not consumed back from {name} within 5 s",
                remedy="consumers cannot fetch from the leader: check advertised.listeners",
                runbook="advertised-listeners",
                details=details,
                next="kafkaops logs kafka",
                data=hops,
            )
        hops["consume_ms"] = round((time.perf_counter() - t2) * 1000, 1)
        if got.value() != event:
            return failed(
                "the consumed canary does not match what was produced", remedy="read the broker log", runbook="broker-unreachable", details=details, data=hops
            )
    except KafkaException as exc:
        return failed(f"canary round trip failed: {exc}", remedy="read the broker log", runbook="broker-unreachable", details=details, data=hops)
    finally:
        if tx is not None:
            tx.rollback()
            tx.close()
            details.append("canary row removed (rolled back)")
    hops["total_ms"] = round((time.perf_counter() - t0) * 1000, 1)
    hop_text = ", ".join(f"{k.removesuffix('_ms').replace('_', ' ')} {v:g} ms" for k, v in hops.items())
    details.append("the canary message stays in the topic (Kafka keeps messages); consumers can drop it by its header")
    return passed(f"canary round trip matched: {hop_text}", details=details, data=hops)
