"""Step 5 of the checklist: the database."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from kafkaops.adapters import pipeline_sql, postgres
from kafkaops.doctor.common import _first_line
from kafkaops.doctor.context import Context
from kafkaops.doctor.registry import check
from kafkaops.doctor.results import LIVEDB, OFFSETS_TABLE, Outcome, failed, passed, skipped, warned
from kafkaops.errors import KafkaopsError
from kafkaops.redact import redact_dsn


def _db_label(url: str) -> str:
    if "://" in url:
        try:
            parts = urlsplit(url)
            return f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path or ''}"
        except ValueError:
            pass
    return redact_dsn(url) or ""


@check("database.reachable", 5, "database", "database reachable", timeout=5.0, applies="database")
def check_database_reachable(ctx: Context) -> Outcome:
    if ctx.db_url is None and ctx.db_source == "embedded":
        return failed(
            f"DATABASE_URL is unset and {ctx.db_problem or 'the embedded PostgreSQL cannot be used'}",
            remedy="start it: `kafkaops up` starts the embedded PostgreSQL (or set DATABASE_URL to your own database)",
            runbook="database-unreachable",
            next="kafkaops up",
            data={"source": "embedded"},
        )
    if ctx.db_url is None:
        return skipped("no database to check: DATABASE_URL is unset (see config.variables)")
    label = _db_label(ctx.db_url)
    t0 = time.perf_counter()
    try:
        conn = postgres.connect(ctx.db_url, application_name="kafkaops-doctor", connect_timeout=2, options="-c statement_timeout=3000", timezone=None)
    except KafkaopsError as exc:  # translated by the adapter; its reason is the library's own line
        reason = getattr(exc, "reason", None) or _first_line(exc)
        if ctx.db_source == "embedded":
            remedy, nxt = "start it: `kafkaops up` starts the embedded PostgreSQL (or set DATABASE_URL to your own)", "kafkaops up"
        else:
            remedy, nxt = "check that PostgreSQL runs and that DATABASE_URL's host, port, user, password and database are right", "kafkaops db status"
        return failed(
            f"the database at {label} ({ctx.db_source}) is unreachable: {reason}",
            remedy=remedy,
            runbook="database-unreachable",
            next=nxt,
            data={"database": label, "source": ctx.db_source},
        )
    ctx.db = conn
    ms = round((time.perf_counter() - t0) * 1000, 1)
    version = conn.info.server_version
    return passed(
        f"PostgreSQL {version // 10000}.{version % 10000} at {label} ({ctx.db_source}) answers ({ms:g} ms)",
        data={"database": label, "source": ctx.db_source, "ms": ms},
    )


def _pipeline(ctx: Context) -> Any:
    """The pipeline doctor checks: the default one, livedb -> KAFKA_TOPIC (see procedures/db.py)."""
    from kafkaops.procedures import db

    return db.default_pipeline(ctx.db, ctx.settings)


def _rewind_remedy(pipeline: Any, row: int | None) -> str:
    sql_text = f"UPDATE {OFFSETS_TABLE} SET last_id = 0, last_created_at = 'epoch' WHERE id = {row}" if row is not None else None  # noqa: S608
    return f"`kafkaops db rewind --yes{pipeline.flags}`" + (f" (or in SQL: {sql_text})" if sql_text else "")


@check("database.schema", 5, "database", "livedb and producer_offsets exist", requires=("database.reachable",), applies="database")
def check_database_schema(ctx: Context) -> Outcome:
    from kafkaops.procedures import db

    with ctx.db.cursor() as cur:
        cur.execute("SELECT to_regclass(%s) IS NOT NULL, to_regclass(%s) IS NOT NULL", (LIVEDB, OFFSETS_TABLE))
        has_live, has_offsets = cur.fetchone()
    missing = [t for t, ok in ((LIVEDB, has_live), (OFFSETS_TABLE, has_offsets)) if not ok]
    if missing:
        return failed(
            f"table(s) {', '.join(missing)} missing in the database",
            remedy="create them: `kafkaops db init` (`--demo` also creates a livedb table to try the pipeline)",
            runbook="database-unreachable",
            next="kafkaops db init",
            data={"missing": missing},
        )
    pipeline = _pipeline(ctx)
    offset = db.read_position(ctx.db, pipeline, ctx.settings)
    ctx.db_facts["last_id"] = offset.last_id if offset else 0
    ctx.db_facts["live"] = (offset.sent_upto, offset.holes) if offset else (None, None)
    ctx.db_facts["rewind"] = _rewind_remedy(pipeline, offset.row if offset else None)
    if offset is None:
        return passed(
            f"tables {LIVEDB} and {OFFSETS_TABLE} exist; the pipeline {pipeline} has no position yet (it starts at 0)", data={"pipeline": str(pipeline)}
        )
    return passed(f"tables {LIVEDB} and {OFFSETS_TABLE} exist, with the position of {pipeline} (row id={offset.row})", data={"pipeline": str(pipeline)})


def _other_pipelines_ahead(ctx: Context, pipeline: Any) -> list[str]:
    """Every other recorded pipeline whose offset is ahead of its table's newest id."""
    from kafkaops.procedures import db

    if db.offsets_layout(ctx.db) != "pipelines":
        return []
    ahead = []
    rows = ctx.db.execute(
        "SELECT source_table, topic, last_id FROM producer_offsets WHERE source_table IS NOT NULL AND (source_table, topic) IS DISTINCT FROM (%s, %s) ORDER BY id",
        (pipeline.table, pipeline.topic),
    ).fetchall()
    for table, topic, last_id in rows:
        ref = db.resolve_table(ctx.db, table)
        if ref is None or "id" not in ref.columns:
            continue
        newest = ctx.db.execute(postgres.with_table("SELECT max(id) FROM {table}", ref.schema, ref.name)).fetchone()[0]
        if int(last_id) > int(newest or 0):
            ahead.append(f"{db.Pipeline(table, topic)}: last_id={last_id} but the newest id is {newest if newest is not None else 'none (empty table)'}")
    return ahead


@check("database.offset", 5, "database", "producer offsets within the data (every pipeline)", requires=("database.schema",), applies="database")
def check_database_offset(ctx: Context) -> Outcome:
    from kafkaops.procedures import db

    pipeline = _pipeline(ctx)
    with ctx.db.cursor() as cur:
        cur.execute(f"SELECT max(id), count(*) FROM {LIVEDB}")  # noqa: S608
        max_id, rows = cur.fetchone()
    offset = db.read_position(ctx.db, pipeline, ctx.settings)
    last_id, last_created = (offset.last_id, offset.last_created_at) if offset else (0, None)
    newest = int(max_id) if max_id is not None else 0
    ctx.db_facts.update({"last_id": last_id, "max_id": max_id, "rows": rows})
    data = {"pipeline": str(pipeline), "last_id": last_id, "max_id": max_id, "rows": rows, "last_created_at": str(last_created) if last_created else None}
    if last_id > newest:
        return failed(
            f"the producer's offset of {pipeline} is ahead of the data: {OFFSETS_TABLE}.last_id={last_id} but the newest {LIVEDB} id is "
            f"{max_id if max_id is not None else 'none (empty table)'}: the table was truncated or re-seeded, so the producer will send nothing, ever",
            remedy=f"rewind the offset to the last id really sent (usually 0 after a re-seed): {_rewind_remedy(pipeline, offset.row if offset else None)} "
            "(every row above it is then sent again)",
            runbook="producer-offset-ahead",
            next="kafkaops runbook failures producer-offset-ahead",
            priority=10,
            data=data,
        )
    others = _other_pipelines_ahead(ctx, pipeline)
    if others:  # a warning: the pipeline doctor checks is fine, and its later checks still run
        return warned(
            f"{len(others)} other pipeline(s) have an offset ahead of their table: their producer will send nothing, ever",
            remedy="rewind each with `kafkaops db rewind --yes --table TABLE --topic TOPIC` (its rows are then sent again)",
            runbook="producer-offset-ahead",
            details=others,
            next="kafkaops runbook failures producer-offset-ahead",
            data=data,
        )
    return passed(f"offset of {pipeline} last_id={last_id} is within the data (newest id {max_id if max_id is not None else 'none'})", data=data)


@check("database.pending", 5, "database", "rows pending for the producer", requires=("database.schema", "database.offset"), applies="database")
def check_database_pending(ctx: Context) -> Outcome:
    last_id = ctx.db_facts.get("last_id", 0)
    pending = pipeline_sql.count_unsent(ctx.db, None, LIVEDB, last_id, *ctx.db_facts.get("live", (None, None)))
    ctx.db_facts["pending"] = int(pending)
    details = _skipped_rows(ctx)
    if pending:
        too_large = _first_row_too_large(ctx, last_id)
        if too_large is not None:
            row_id, size, limit = too_large
            topic = ctx.settings.kafka_topic
            return failed(
                f"row id={row_id} of {LIVEDB} makes an event of {size:,} bytes, over topic {topic}'s max.message.bytes of {limit:,}: "
                f"`kafkaops produce` stops before it, {pending} row(s) wait",
                remedy=f"raise the topic's max.message.bytes (bin/kafka-configs.sh --bootstrap-server {ctx.settings.kafka_broker} --alter --entity-type topics "
                f"--entity-name {topic} --add-config max.message.bytes=<bytes>), make row {row_id} smaller, or run "
                "`kafkaops produce --skip-oversize` (it records the row in producer_skipped and sends the rest)",
                runbook="row-too-large",
                details=details,
                next="kafkaops runbook failures row-too-large",
                data={"pending": pending, "row_id": row_id, "event_bytes": size, "max_message_bytes": limit},
            )
        return warned(
            f"{pending} row(s) wait in {LIVEDB} (id > {last_id}): the producer has not sent them yet",
            remedy="run the producer: `kafkaops produce`",
            runbook="consumer-shows-nothing",
            details=details,
            next="kafkaops produce",
            data={"pending": pending},
        )
    return passed(f"no rows pending (every row up to id {last_id} was sent)", details=details, data={"pending": 0})


def _first_row_too_large(ctx: Context, last_id: int) -> tuple[int, int, int] | None:
    """(id, event bytes, limit) of the first pending row (within one batch) whose event the topic
    cannot take: `produce` stops before it. Only when the broker answered (the topic's limit is known)."""
    from kafkaops.procedures.db import resolve_table
    from kafkaops.procedures.produce import oversize_rows, topic_limit

    topic = ctx.settings.kafka_topic
    if ctx.md is None or topic not in ctx.md.topics:
        return None
    try:
        ref = resolve_table(ctx.db, LIVEDB)
        if ref is None:
            return None
        limit = topic_limit(ctx.settings, topic, client=ctx.admin())
        found = oversize_rows(ctx.db, ref, last_id, limit)
    except Exception:  # noqa: BLE001 - a side finding: never fail the check over it
        return None
    return (found[0][0], found[0][1], limit) if found else None


def _skipped_rows(ctx: Context) -> list[str]:
    """A note on the rows `produce --skip-oversize` did not send (producer_skipped), if any."""
    try:
        with ctx.db.cursor() as cur:
            cur.execute("SELECT to_regclass('producer_skipped') IS NOT NULL")
            if not cur.fetchone()[0]:
                return []
            cur.execute(
                "SELECT count(*), max(row_id) FROM producer_skipped WHERE source_table = (SELECT n.nspname || '.' || c.relname FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass(%s)) AND topic = %s",
                (LIVEDB, ctx.settings.kafka_topic),
            )
            count, newest = cur.fetchone()
    except Exception:  # noqa: BLE001 - a side finding
        return []
    return [f"{count} row(s) too large were skipped (see producer_skipped), the last one id {newest}"] if count else []
