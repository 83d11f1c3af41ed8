"""Step 6 of the checklist: the producer (and the canary)."""

from __future__ import annotations

import time
from typing import Any

from kafkaops.adapters import kafka_roundtrip, network, postgres
from kafkaops.doctor.common import _first_line
from kafkaops.doctor.context import Context
from kafkaops.doctor.registry import check
from kafkaops.doctor.results import CANARY_HEADER, LIVEDB, Outcome, failed, passed
from kafkaops.errors import KafkaopsError


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


def _canary_row(ctx: Context, marker: str, hops: dict[str, Any], details: list[str]) -> tuple[Any, str | None]:
    """Insert the marked row in a transaction left open (the caller rolls it back): (connection or None, the row as JSON)."""
    if ctx.db is None or ctx.db_url is None:  # the database that database.reachable connected to
        return None, None
    t0 = time.perf_counter()
    tx = None
    try:
        tx = postgres.connect(
            ctx.db_url,
            application_name="kafkaops-doctor",
            autocommit=False,
            connect_timeout=2,
            options="-c statement_timeout=3000 -c lock_timeout=1000",
            timezone=None,
        )
        with tx.cursor() as cur:
            statement, _ = _canary_insert(cur)
            cur.execute(statement, {"marker": marker})
            row = cur.fetchone()
            if row is None:  # INSERT ... RETURNING gives one row, or raises
                raise RuntimeError("the INSERT returned no row")
            row_id, row_json = row
        hops["database_insert_ms"] = round((time.perf_counter() - t0) * 1000, 1)
        details.append(f"inserted canary row id {row_id} into {LIVEDB} (in a transaction that is rolled back: never committed)")
        return tx, row_json
    except Exception as exc:  # noqa: BLE001 - a livedb with required columns: still test Kafka
        details.append(f"no canary row in {LIVEDB}: {_first_line(exc)}")
        if tx is not None:
            tx.rollback()
        return tx, None


def _round_trip(ctx: Context, marker: str, event: bytes, hops: dict[str, Any], details: list[str]) -> Outcome | None:
    """Produce the canary and consume it back; a failed Outcome, or None when it matched."""
    name = ctx.settings.kafka_topic
    t1 = time.perf_counter()
    sent = kafka_roundtrip.produce_one(ctx.settings, name, marker.encode(), event, [(CANARY_HEADER, b"1")])
    if sent.error is not None or sent.partition is None or sent.offset is None:
        return failed(
            f"the canary message was not accepted by {name}: {sent.error}",
            remedy="run the checks above; read the broker log",
            runbook="broker-unreachable",
            details=details,
            next="kafkaops logs kafka",
            data=hops,
        )
    hops["produce_ack_ms"] = round((time.perf_counter() - t1) * 1000, 1)
    details.append(f"produced to {name}[{sent.partition}] at offset {sent.offset} (header {CANARY_HEADER}=1)")
    t2 = time.perf_counter()
    got = kafka_roundtrip.fetch_one(ctx.settings, name, sent.partition, sent.offset, marker.encode(), "kafkaops-doctor-canary")
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
    if got != event:
        return failed(
            "the consumed canary does not match what was produced", remedy="read the broker log", runbook="broker-unreachable", details=details, data=hops
        )
    return None


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

    marker = f"kafkaops-doctor-canary-{uuid.uuid4().hex[:12]}"
    hops: dict[str, Any] = {}  # the milliseconds of each hop, the check's data (Outcome.data)
    details: list[str] = []
    t0 = time.perf_counter()
    tx, row_json = _canary_row(ctx, marker, hops, details)
    event = json.dumps({"event_id": marker, "canary": True, "row": json.loads(row_json) if row_json else None}).encode()
    try:
        failure = _round_trip(ctx, marker, event, hops, details)
        if failure is not None:
            return failure
    except KafkaopsError as exc:  # the client failed (ClientFailure) or its settings are wrong
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
