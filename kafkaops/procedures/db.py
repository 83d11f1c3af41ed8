"""The database side of the pipeline: the offset table, the demo table, seeding, status, rewinding.

The tables, pipelines and positions themselves live in :mod:`kafkaops.procedures.db_schema` (every
name is re-exported here). A *pipeline* is a source table and a topic (``public.livedb -> db_live_events``). ``producer_offsets``
holds one row per pipeline: ``source_table`` (``schema.table``, as resolved in the database),
``topic``, ``last_id`` (the highest id of that table Kafka has acknowledged on that topic) and
``last_created_at`` (that row's ``created_at``); ``(source_table, topic)`` is unique. A pipeline
that has never run has no row: its position is 0, and the producer adds the row when it starts.

The *default pipeline* is ``livedb`` -> KAFKA_TOPIC. It owns the row ``id = 1``: before positions
were per pipeline, that row was the only one, so a database made by an older kafkaops upgrades in
place (:func:`ensure_schema`, run by ``db init``, produce, rewind and reset): the columns are added
and row 1 becomes the default pipeline's position, at the offset it had. Nothing is re-sent or
skipped. The upgrade runs in one transaction under an advisory lock, so two processes upgrading at
once are safe, and it does nothing on a database already upgraded.

Each pipeline has its own producer lock (:func:`lock_key`): two pipelines can be produced at once,
the same pipeline only once. Everything here is idempotent and never changes an offset that
exists, except :func:`rewind_offset`, which is asked for explicitly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from kafkaops.adapters import pipeline_sql, postgres
from kafkaops.defaults import DEMO_TABLE
from kafkaops.errors import KafkaopsError, RefusedError, UsageError
from kafkaops.procedures.db_schema import (
    DEFAULT_ROW,
    DEMO_DDL,
    EPOCH,
    ID_RULE,
    INTEGER_TYPES,
    OFFSETS_DDL,
    OFFSETS_TABLE,
    OFFSETS_UPGRADE,
    UPGRADE_LOCK,
    Offset,
    Pipeline,
    TableRef,
    claim_position,
    default_pipeline,
    ensure_cursor,
    ensure_schema,
    offsets_layout,
    pipeline_for,
    read_position,
    require_id_column,
    require_table,
    resolve_table,
    upgrade_demo,
)
from kafkaops.settings import Settings

__all__ = [  # the db_schema names are part of this module's interface
    "DEFAULT_ROW",
    "DEMO_DDL",
    "EPOCH",
    "ID_RULE",
    "INTEGER_TYPES",
    "OFFSETS_DDL",
    "OFFSETS_TABLE",
    "OFFSETS_UPGRADE",
    "Offset",
    "Pipeline",
    "TableRef",
    "UPGRADE_LOCK",
    "claim_position",
    "default_pipeline",
    "ensure_cursor",
    "ensure_schema",
    "offsets_layout",
    "pipeline_for",
    "read_position",
    "require_id_column",
    "require_table",
    "resolve_table",
    "upgrade_demo",
]

SEED_SQL = """
WITH ins AS (
    INSERT INTO {table} (created_at, name, amount, payload, note, blob)
    SELECT now(),
           'item-' || g,
           round((random() * 100000)::numeric, 4),
           jsonb_build_object('seq', g, 'tags', jsonb_build_array('demo', g %% 7), 'ok', g %% 2 = 0),
           CASE WHEN g %% 3 = 0 THEN NULL ELSE 'note ' || g END,
           CASE WHEN g %% 5 = 0 THEN decode(md5(g::text), 'hex') END
    FROM generate_series(1, %s) AS g
    RETURNING id
)
SELECT count(*), min(id), max(id) FROM ins"""


def lock_key(row: int) -> int:
    """The advisory lock a producer holds for as long as it runs, one per pipeline (its row's id).

    The default pipeline's row keeps the key every kafkaops used before positions were per
    pipeline, so an older producer still running during an upgrade keeps a new one out."""
    import zlib

    if row == DEFAULT_ROW:
        return zlib.crc32(b"kafkaops produce producer_offsets") - 2**31
    return (zlib.crc32(b"kafkaops producer_offsets pipeline") & 0x7FFFFFFF) << 32 | row


def try_lock(conn: Any, row: int) -> bool:
    from kafkaops.adapters import pipeline_sql

    return pipeline_sql.try_advisory_lock(conn, lock_key(row))


def unlock(conn: Any, row: int) -> None:
    from kafkaops.adapters import pipeline_sql

    pipeline_sql.advisory_unlock(conn, lock_key(row))


def lock_holder(conn: Any, row: int) -> str:
    """' (database session pid N, application)' for the session holding the pipeline's lock, or ''."""
    from kafkaops.adapters import pipeline_sql

    holder = pipeline_sql.advisory_lock_holder(conn, lock_key(row))
    return f" (database session pid {holder[0]}, {holder[1] or 'no application_name'})" if holder else ""


def producer_running(pipeline: Pipeline, holder: str = "") -> RefusedError:
    return RefusedError(
        f"a producer is running for {pipeline}{holder}: it holds that pipeline's producer lock",
        hint=f"stop that `kafkaops produce` (table {pipeline.table}, topic {pipeline.topic}) first: Ctrl+C in its terminal (or end its process), then rerun",
    )


def take_lock(conn: Any, pipeline: Pipeline, row: int, refuse: Callable[[Pipeline, str], KafkaopsError] = producer_running) -> None:
    """Take the pipeline's producer lock for this session (held until :func:`unlock` or the session ends),
    or raise ``refuse(pipeline, holder)``, the holder being :func:`lock_holder`'s text."""
    if not try_lock(conn, row):
        raise refuse(pipeline, lock_holder(conn, row))


def ensure_no_producer(conn: Any, pipeline: Pipeline, row: int) -> None:
    """The producer-lock probe: refuse (:func:`producer_running`) while a producer of the pipeline runs; holds nothing after."""
    take_lock(conn, pipeline, row)
    unlock(conn, row)


@contextmanager
def session(settings: Settings, application_name: str = "kafkaops") -> Iterator[Any]:
    """A connection (autocommit, UTC) whose statement errors come out as kafkaops errors."""
    from kafkaops.adapters.embedded_pg import database_url

    with postgres.session(database_url(settings), application_name) as conn:
        yield conn


# --- init ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InitResult:
    database: str  # redacted
    created: list[str]
    existed: list[str]


def init(settings: Settings, *, demo: bool = False) -> InitResult:
    """Create producer_offsets (or upgrade an old one to one row per pipeline) with the default
    pipeline's row id=1 at zero, and, with ``demo``, the livedb table; if absent."""
    from kafkaops.adapters.embedded_pg import database_url

    created: list[str] = []
    existed: list[str] = []
    with session(settings) as conn:
        if demo:  # first: the default pipeline is named after the table as it resolves
            (existed if resolve_table(conn, DEMO_TABLE) is not None else created).append(DEMO_TABLE)
            conn.execute(DEMO_DDL)
            ref = require_table(conn, DEMO_TABLE)
            if "updated_at" not in ref.columns:
                created.append(f"{DEMO_TABLE} column updated_at (set by a trigger, for produce --mode timestamp+id)")
            upgrade_demo(conn, ref.schema, ref.name)
        old = offsets_layout(conn)
        ensure_schema(conn, settings, create=True)
        ensure_cursor(conn)
        if old is None:
            created.insert(0, OFFSETS_TABLE)
        else:
            existed.insert(0, OFFSETS_TABLE)
            if old == "old":
                created.append(f"{OFFSETS_TABLE} columns source_table, topic (row id=1 is now {default_pipeline(conn, settings)})")
        default = default_pipeline(conn, settings)
        added = conn.execute(
            "INSERT INTO producer_offsets (id, source_table, topic, last_id, last_created_at) VALUES (%s, %s, %s, 0, 'epoch') ON CONFLICT DO NOTHING",
            (DEFAULT_ROW, default.table, default.topic),
        ).rowcount
        if added == 1 and old is not None:
            created.append(f"{OFFSETS_TABLE} row id=1 ({default})")
    return InitResult(postgres.shown(database_url(settings)), created, existed)


# --- seed ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeedResult:
    table: str
    inserted: int
    first_id: int | None
    last_id: int | None


def seed(settings: Settings, rows: int, *, table: str = DEMO_TABLE) -> SeedResult:
    """Insert ``rows`` demo rows in one statement (generate_series): no per-row round trips."""
    if rows < 1:
        raise UsageError(f"the number of rows must be at least 1 (got {rows})")
    with session(settings) as conn:
        ref = require_table(conn, table)
        missing = {"created_at", "name", "amount", "payload", "note", "blob"} - set(ref.columns)
        if missing:
            raise UsageError(
                f"table {ref.qualified} is not the demo table (no column {', '.join(sorted(missing))})",
                hint="seed inserts demo rows into a table made by `kafkaops db init --demo`",
            )
        count, first, last = conn.execute(postgres.with_table(SEED_SQL, ref.schema, ref.name), (rows,)).fetchone()
    return SeedResult(ref.qualified, int(count), first, last)


# --- rows skipped as too large ----------------------------------------------------------------------

SKIPPED_TABLE = "producer_skipped"
SKIPPED_DDL = """
CREATE TABLE IF NOT EXISTS producer_skipped (
    source_table text NOT NULL,
    topic        text NOT NULL,
    row_id       bigint NOT NULL,
    size_bytes   bigint NOT NULL,
    limit_bytes  bigint NOT NULL,
    reason       text NOT NULL,
    skipped_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source_table, topic, row_id)
)"""


def record_skipped(conn: Any, table: str, topic: str, row_id: int, size: int, limit: int, reason: str) -> None:
    """Note a row `produce --skip-oversize` did not send (the table is created on first use). Written
    before the offset passes the row; a rerun that skips it again updates the note."""
    conn.execute(SKIPPED_DDL)
    conn.execute(
        """INSERT INTO producer_skipped (source_table, topic, row_id, size_bytes, limit_bytes, reason) VALUES (%s, %s, %s, %s, %s, %s)
           ON CONFLICT (source_table, topic, row_id) DO UPDATE
           SET size_bytes = EXCLUDED.size_bytes, limit_bytes = EXCLUDED.limit_bytes, reason = EXCLUDED.reason, skipped_at = now()""",
        (table, topic, row_id, size, limit, reason),
    )


# --- status ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DbStatus:
    database: str  # redacted
    table: str
    topic: str
    table_exists: bool
    offsets_exists: bool
    last_id: int | None  # 0 when the pipeline has no row yet (it has sent nothing)
    last_created_at: str | None
    newest_id: int | None
    pending: int | None
    offset_ahead: bool  # last_id > newest id: the table was truncated and re-seeded
    others: list[dict[str, Any]] = field(default_factory=list)  # the other pipelines' positions

    def as_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


def status(settings: Settings, *, table: str = DEMO_TABLE, topic: str | None = None) -> DbStatus:
    from kafkaops.adapters.embedded_pg import database_url

    topic = topic or settings.kafka_topic
    with session(settings) as conn:
        ref = resolve_table(conn, table)
        pipeline = pipeline_for(conn, table, topic)
        layout = offsets_layout(conn)
        offset: Offset | None = None
        others: list[dict[str, Any]] = []
        if layout is not None:
            offset = read_position(conn, pipeline, settings) or Offset(0, None)
            if layout == "pipelines":
                rows = conn.execute(
                    "SELECT source_table, topic, last_id FROM producer_offsets WHERE (source_table, topic) IS DISTINCT FROM (%s, %s) ORDER BY id",
                    (pipeline.table, pipeline.topic),
                ).fetchall()
                others = [{"table": r[0], "topic": r[1], "last_id": int(r[2])} for r in rows]
        newest = pending = None
        if ref is not None:
            require_id_column(conn, ref)
            newest = conn.execute(postgres.with_table("SELECT max(id) FROM {table}", ref.schema, ref.name)).fetchone()[0]
            if offset is not None:
                pending = pipeline_sql.count_unsent(conn, ref.schema, ref.name, offset.last_id, offset.sent_upto, offset.holes)
    last_id = offset.last_id if offset else None
    return DbStatus(
        database=postgres.shown(database_url(settings)),
        table=pipeline.table,
        topic=topic,
        table_exists=ref is not None,
        offsets_exists=layout is not None,
        last_id=last_id,
        last_created_at=offset.last_created_at.isoformat() if offset and offset.last_created_at else None,
        newest_id=newest,
        pending=pending,
        offset_ahead=bool(last_id and last_id > (newest or 0)),
        others=others,
    )


# --- rewind ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RewindResult:
    pipeline: str
    before: int
    after: int


def set_position(conn: Any, row: int, to_id: int) -> None:
    """Move a pipeline's row to ``to_id`` (0: the start, last_created_at back to the epoch). A
    timestamp+id cursor goes back to its start too (last_ts NULL): an id alone is no place in it."""
    ensure_cursor(conn)
    if to_id == 0:
        conn.execute("UPDATE producer_offsets SET last_id = 0, last_created_at = 'epoch', last_ts = NULL, sent_upto = NULL, holes = NULL WHERE id = %s", (row,))
    else:
        conn.execute("UPDATE producer_offsets SET last_id = %s, last_ts = NULL, sent_upto = NULL, holes = NULL WHERE id = %s", (to_id, row))


def rewind_offset(settings: Settings, to_id: int = 0, *, table: str = DEMO_TABLE, topic: str | None = None) -> RewindResult:
    """Set a pipeline's offset back (default: to the start, last_id=0 and last_created_at epoch).

    The next `kafkaops produce` of that pipeline re-sends every row above it. Refuses while a
    producer of that pipeline runs; other pipelines are not touched.
    """
    if to_id < 0:
        raise UsageError(f"the offset cannot be negative (got {to_id})")
    with session(settings, application_name="kafkaops-rewind") as conn:
        pipeline = pipeline_for(conn, table, topic or settings.kafka_topic)
        if read_position(conn, pipeline, settings) is None:  # a new pipeline: only for a table that exists
            require_table(conn, table)
        row = claim_position(conn, pipeline, settings).row
        assert row is not None
        take_lock(conn, pipeline, row)
        try:
            before = read_position(conn, pipeline, settings)  # as it is now that no producer can move it
            assert before is not None
            set_position(conn, row, to_id)
        finally:
            unlock(conn, row)
    return RewindResult(str(pipeline), before.last_id, to_id)
