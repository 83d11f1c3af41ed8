"""The database side of the pipeline: the offset table, the demo table, seeding, status, rewinding.

A *pipeline* is a source table and a topic (``public.livedb -> db_live_events``). ``producer_offsets``
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
from datetime import datetime
from typing import Any

from kafkaops.defaults import DEMO_TABLE
from kafkaops.errors import ExitCode, KafkaopsError, NotReady, RefusedError, UsageError
from kafkaops.settings import Settings

OFFSETS_TABLE = "producer_offsets"
EPOCH = "1970-01-01T00:00:00+00:00"

OFFSETS_DDL = """
CREATE TABLE IF NOT EXISTS producer_offsets (
    id              integer PRIMARY KEY,
    last_id         bigint NOT NULL DEFAULT 0,
    last_created_at timestamptz NOT NULL DEFAULT 'epoch'
)"""
# The upgrade to one row per pipeline (run once, in one transaction; see ensure_schema). New rows
# take their id from a sequence that starts after the ids already there; row 1 becomes the default
# pipeline's position.
OFFSETS_UPGRADE = (
    "ALTER TABLE producer_offsets ADD COLUMN IF NOT EXISTS source_table text",
    "ALTER TABLE producer_offsets ADD COLUMN IF NOT EXISTS topic text",
    "CREATE SEQUENCE IF NOT EXISTS producer_offsets_id_seq AS integer OWNED BY producer_offsets.id",
    "SELECT setval('producer_offsets_id_seq', greatest((SELECT max(id) FROM producer_offsets), 1))",
    "ALTER TABLE producer_offsets ALTER COLUMN id SET DEFAULT nextval('producer_offsets_id_seq')",
    "CREATE UNIQUE INDEX IF NOT EXISTS producer_offsets_pipeline ON producer_offsets (source_table, topic)",
)
DEFAULT_ROW = 1  # the default pipeline's row (the only row before positions were per pipeline)
UPGRADE_LOCK = 0x6B6F7073  # advisory lock (transaction) around creating or upgrading producer_offsets

# A table to try the pipeline with: a bigserial key, a creation time, and columns of the types whose
# conversion to JSON usually loses something (numeric, jsonb, bytea, NULL).
DEMO_DDL = """
CREATE TABLE IF NOT EXISTS livedb (
    id         bigserial PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    name       text NOT NULL,
    amount     numeric(14, 4) NOT NULL,
    payload    jsonb NOT NULL DEFAULT '{}'::jsonb,
    note       text,
    blob       bytea
)"""

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


@dataclass(frozen=True)
class TableRef:
    """A table resolved in the database: schema, name, and its columns (name -> type name)."""

    schema: str
    name: str
    columns: dict[str, str] = field(default_factory=dict)

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def quoted(self) -> str:
        """The name as SQL text (for to_regclass and pg_get_serial_sequence)."""
        return ".".join('"' + part.replace('"', '""') + '"' for part in (self.schema, self.name))

    def ident(self) -> Any:
        from psycopg import sql

        return sql.Identifier(self.schema, self.name)


def resolve_table(conn: Any, name: str) -> TableRef | None:
    """The table ``name`` (``table`` or ``schema.table``, SQL identifier rules) or None if absent."""
    row = conn.execute(
        "SELECT n.nspname, c.relname, c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass(%s)",
        (name,),
    ).fetchone()
    if row is None:
        return None
    cols = conn.execute(
        """SELECT a.attname, t.typname FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
           WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum""",
        (row[2],),
    ).fetchall()
    return TableRef(row[0], row[1], {c[0]: c[1] for c in cols})


def require_table(conn: Any, name: str, *, demo_hint: bool = True) -> TableRef:
    try:
        ref = resolve_table(conn, name)
    except Exception as exc:  # psycopg: an invalid name such as 'a.b.c.d'
        raise UsageError(f"{name!r} is not a valid table name: {exc}") from None
    if ref is None:
        hint = "create it with `kafkaops db init --demo` (a demo livedb table), or pass --table" if demo_hint else "create it with `kafkaops db init`"
        raise NotReady(f"table {name} does not exist in the database", hint=hint)
    return ref


INTEGER_TYPES = ("smallint", "integer", "bigint")
ID_RULE = "kafkaops reads rows by an increasing integer id (smallint, integer or bigint; e.g. bigserial or GENERATED ALWAYS AS IDENTITY)"


def require_id_column(conn: Any, ref: TableRef) -> None:
    """Refuse (exit 2) a table the producer cannot page through: no ``id`` column, or one that is not
    an integer (text, uuid, numeric: ``id > last_id`` and the offset would not mean what they must)."""
    if "id" not in ref.columns:
        raise UsageError(f"table {ref.qualified} cannot be produced: it has no id column, and {ID_RULE}", hint="pass --table with a table that has one")
    shown_type, base = conn.execute(
        """SELECT format_type(a.atttypid, a.atttypmod), format_type(coalesce(nullif(t.typbasetype, 0), t.oid), NULL)
           FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
           WHERE a.attrelid = to_regclass(%s) AND a.attname = 'id' AND NOT a.attisdropped""",
        (ref.quoted,),
    ).fetchone()
    if base not in INTEGER_TYPES:
        raise UsageError(
            f"table {ref.qualified} cannot be produced: its id column is {shown_type}, and {ID_RULE}",
            hint=f"give it one: ALTER TABLE {ref.qualified} RENAME COLUMN id TO key, then ALTER TABLE {ref.qualified} ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY",
        )


@dataclass(frozen=True)
class Pipeline:
    """A source table (``schema.table`` as resolved) and a topic: one position, one producer at a time."""

    table: str
    topic: str

    def __str__(self) -> str:
        return f"{self.table} -> {self.topic}"

    @property
    def flags(self) -> str:
        """The options naming this pipeline on a command line (--table left out for livedb)."""
        table = "" if self.table == f"public.{DEMO_TABLE}" else f" --table {self.table}"
        return f"{table} --topic {self.topic}"


@dataclass(frozen=True)
class Offset:
    last_id: int
    last_created_at: datetime | None
    row: int | None = None  # producer_offsets.id; None: the pipeline has no row yet (position 0)


def pipeline_for(conn: Any, table: str, topic: str) -> Pipeline:
    """The pipeline of ``--table``/``--topic``, the table named as the database resolves it (so that
    ``livedb`` and ``public.livedb`` are one pipeline); a table that does not exist (yet) is named
    in the current schema unless a schema is given."""
    try:
        ref = resolve_table(conn, table)
    except Exception:  # noqa: BLE001 - psycopg: not a valid name; named as given
        ref = None
    if ref is not None:
        return Pipeline(ref.qualified, topic)
    if "." in table:
        return Pipeline(table, topic)
    return Pipeline(f"{conn.execute('SELECT current_schema()').fetchone()[0]}.{table}", topic)


def default_pipeline(conn: Any, settings: Settings) -> Pipeline:
    """livedb -> KAFKA_TOPIC: the pipeline of `kafkaops produce` without --table and --topic."""
    return pipeline_for(conn, DEMO_TABLE, settings.kafka_topic)


def offsets_layout(conn: Any) -> str | None:
    """None (no offset table), "old" (one row, id=1, for every pipeline) or "pipelines"."""
    if resolve_table(conn, OFFSETS_TABLE) is None:
        return None
    row = conn.execute(
        "SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attname IN ('source_table', 'topic') AND NOT attisdropped",
        (OFFSETS_TABLE,),
    ).fetchone()
    return "pipelines" if row[0] == 2 else "old"


def ensure_schema(conn: Any, settings: Settings, *, create: bool = False) -> bool:
    """Bring producer_offsets to one row per pipeline; True if it created or upgraded something.

    Without ``create`` a missing table is an error (db init creates it). An old table is upgraded in
    one transaction under an advisory lock: a second process waits, then finds nothing to do.
    """
    import psycopg

    layout = offsets_layout(conn)
    if layout == "pipelines":
        return False
    if layout is None and not create:
        raise NotReady(f"the offset table {OFFSETS_TABLE} does not exist", hint="create it with `kafkaops db init`")
    try:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (UPGRADE_LOCK,))
            layout = offsets_layout(conn)  # what the process that held the lock left
            if layout == "pipelines":
                return False
            conn.execute(OFFSETS_DDL)
            for statement in OFFSETS_UPGRADE:
                conn.execute(statement)
            default = default_pipeline(conn, settings)
            conn.execute(
                "UPDATE producer_offsets SET source_table = %s, topic = %s WHERE id = %s AND source_table IS NULL",
                (default.table, default.topic, DEFAULT_ROW),
            )
    except psycopg.errors.InsufficientPrivilege as exc:
        raise KafkaopsError(
            f"cannot upgrade {OFFSETS_TABLE} to one position per pipeline: {str(exc).strip().splitlines()[0]}",
            hint="run `kafkaops db init` once as the owner of producer_offsets (it adds two columns; no offset changes)",
            exit_code=ExitCode.NOT_READY,
        ) from None
    return True


def read_position(conn: Any, pipeline: Pipeline, settings: Settings) -> Offset | None:
    """The pipeline's row as it is (None: no row yet), read-only: an old table is read as it is
    (its row id=1 is the default pipeline's position)."""
    layout = offsets_layout(conn)
    if layout is None:
        raise NotReady(f"the offset table {OFFSETS_TABLE} does not exist", hint="create it with `kafkaops db init`")
    if layout == "old":
        if pipeline != default_pipeline(conn, settings):
            return None
        row = conn.execute("SELECT last_id, last_created_at, id FROM producer_offsets WHERE id = %s", (DEFAULT_ROW,)).fetchone()
    else:
        row = conn.execute(
            "SELECT last_id, last_created_at, id FROM producer_offsets WHERE source_table = %s AND topic = %s", (pipeline.table, pipeline.topic)
        ).fetchone()
    return Offset(int(row[0]), row[1], int(row[2])) if row else None


def claim_position(conn: Any, pipeline: Pipeline, settings: Settings) -> Offset:
    """The pipeline's row, added at 0 (epoch) if it has none; upgrades an old table first."""
    ensure_schema(conn, settings)
    conn.execute(
        "INSERT INTO producer_offsets (source_table, topic) VALUES (%s, %s) ON CONFLICT (source_table, topic) DO NOTHING",
        (pipeline.table, pipeline.topic),
    )
    offset = read_position(conn, pipeline, settings)
    assert offset is not None
    return offset


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
    import psycopg

    from kafkaops.adapters import postgres
    from kafkaops.adapters.embedded_pg import database_url

    dsn = database_url(settings)
    conn = postgres.connect(dsn, application_name=application_name)
    try:
        yield conn
    except psycopg.Error as exc:
        raise postgres.query_error(exc, dsn) from None
    finally:
        conn.close()


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
    from kafkaops.adapters.postgres import shown

    created: list[str] = []
    existed: list[str] = []
    with session(settings) as conn:
        if demo:  # first: the default pipeline is named after the table as it resolves
            (existed if resolve_table(conn, DEMO_TABLE) is not None else created).append(DEMO_TABLE)
            conn.execute(DEMO_DDL)
        old = offsets_layout(conn)
        ensure_schema(conn, settings, create=True)
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
    return InitResult(shown(database_url(settings)), created, existed)


# --- seed ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeedResult:
    table: str
    inserted: int
    first_id: int | None
    last_id: int | None


def seed(settings: Settings, rows: int, *, table: str = DEMO_TABLE) -> SeedResult:
    """Insert ``rows`` demo rows in one statement (generate_series): no per-row round trips."""
    from psycopg import sql

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
        count, first, last = conn.execute(sql.SQL(SEED_SQL).format(table=ref.ident()), (rows,)).fetchone()
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
    from psycopg import sql

    from kafkaops.adapters.embedded_pg import database_url
    from kafkaops.adapters.postgres import shown

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
            newest = conn.execute(sql.SQL("SELECT max(id) FROM {}").format(ref.ident())).fetchone()[0]
            if offset is not None:
                pending = conn.execute(sql.SQL("SELECT count(*) FROM {} WHERE id > %s").format(ref.ident()), (offset.last_id,)).fetchone()[0]
    last_id = offset.last_id if offset else None
    return DbStatus(
        database=shown(database_url(settings)),
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
    """Move a pipeline's row to ``to_id`` (0: the start, last_created_at back to the epoch)."""
    if to_id == 0:
        conn.execute("UPDATE producer_offsets SET last_id = 0, last_created_at = 'epoch' WHERE id = %s", (row,))
    else:
        conn.execute("UPDATE producer_offsets SET last_id = %s WHERE id = %s", (to_id, row))


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
