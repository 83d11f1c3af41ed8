"""The database side of the pipeline: the offset table, the demo table, seeding, status, rewinding.

``producer_offsets`` holds one row (id=1) with ``last_id`` (the highest ``livedb.id`` Kafka has
acknowledged) and ``last_created_at`` (that row's ``created_at``). Everything here is idempotent and
never touches data that exists, except :func:`rewind_offset`, which is asked for explicitly.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kafkaops.errors import NotReady, UsageError
from kafkaops.settings import Settings

OFFSETS_TABLE = "producer_offsets"
DEMO_TABLE = "livedb"
EPOCH = "1970-01-01T00:00:00+00:00"

OFFSETS_DDL = """
CREATE TABLE IF NOT EXISTS producer_offsets (
    id              integer PRIMARY KEY,
    last_id         bigint NOT NULL DEFAULT 0,
    last_created_at timestamptz NOT NULL DEFAULT 'epoch'
)"""
OFFSETS_ROW = "INSERT INTO producer_offsets (id, last_id, last_created_at) VALUES (1, 0, 'epoch') ON CONFLICT (id) DO NOTHING"

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
class Offset:
    last_id: int
    last_created_at: datetime | None


def read_offset(conn: Any) -> Offset:
    if resolve_table(conn, OFFSETS_TABLE) is None:
        raise NotReady(f"the offset table {OFFSETS_TABLE} does not exist", hint="create it with `kafkaops db init`")
    row = conn.execute("SELECT last_id, last_created_at FROM producer_offsets WHERE id = 1").fetchone()
    if row is None:
        raise NotReady(f"{OFFSETS_TABLE} has no row id=1 (the producer's offset)", hint="create it with `kafkaops db init`")
    return Offset(int(row[0]), row[1])


@contextmanager
def session(settings: Settings, application_name: str = "kafkaops") -> Iterator[Any]:
    """A connection (autocommit, UTC) whose statement errors come out as kafkaops errors."""
    import psycopg

    from kafkaops.adapters import postgres
    from kafkaops.adapters.embedded_pg import database_url

    dsn = database_url(settings)
    conn = postgres.connect(settings, dsn=dsn, application_name=application_name)
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
    """Create producer_offsets (row id=1 at zero) and, with ``demo``, the livedb table; if absent."""
    from kafkaops.adapters.embedded_pg import database_url
    from kafkaops.adapters.postgres import shown

    created: list[str] = []
    existed: list[str] = []
    with session(settings) as conn:
        wanted = [(OFFSETS_TABLE, OFFSETS_DDL)] + ([(DEMO_TABLE, DEMO_DDL)] if demo else [])
        for name, ddl in wanted:
            (existed if resolve_table(conn, name) is not None else created).append(name)
            conn.execute(ddl)
        if conn.execute(OFFSETS_ROW).rowcount == 1 and OFFSETS_TABLE in existed:
            created.append(f"{OFFSETS_TABLE} row id=1")
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
    table_exists: bool
    offsets_exists: bool
    last_id: int | None
    last_created_at: str | None
    newest_id: int | None
    pending: int | None
    offset_ahead: bool  # last_id > newest id: the table was truncated and re-seeded

    def as_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


def status(settings: Settings, *, table: str = DEMO_TABLE) -> DbStatus:
    from psycopg import sql

    from kafkaops.adapters.embedded_pg import database_url
    from kafkaops.adapters.postgres import shown

    with session(settings) as conn:
        ref = resolve_table(conn, table)
        offsets = resolve_table(conn, OFFSETS_TABLE) is not None
        offset: Offset | None = None
        if offsets:
            row = conn.execute("SELECT last_id, last_created_at FROM producer_offsets WHERE id = 1").fetchone()
            offset = Offset(int(row[0]), row[1]) if row else None
        newest = pending = None
        if ref is not None:
            require_id_column(conn, ref)
            newest = conn.execute(sql.SQL("SELECT max(id) FROM {}").format(ref.ident())).fetchone()[0]
            if offset is not None:
                pending = conn.execute(sql.SQL("SELECT count(*) FROM {} WHERE id > %s").format(ref.ident()), (offset.last_id,)).fetchone()[0]
    last_id = offset.last_id if offset else None
    return DbStatus(
        database=shown(database_url(settings)),
        table=ref.qualified if ref else table,
        table_exists=ref is not None,
        offsets_exists=offsets,
        last_id=last_id,
        last_created_at=offset.last_created_at.isoformat() if offset and offset.last_created_at else None,
        newest_id=newest,
        pending=pending,
        offset_ahead=bool(last_id and last_id > (newest or 0)),
    )


# --- rewind ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RewindResult:
    before: int
    after: int


def rewind_offset(settings: Settings, to_id: int = 0) -> RewindResult:
    """Set the producer's offset back (default: to the start, last_id=0 and last_created_at epoch).

    The next `kafkaops produce` re-sends every row above it. Refuses while a producer runs.
    """
    from kafkaops.errors import RefusedError

    if to_id < 0:
        raise UsageError(f"the offset cannot be negative (got {to_id})")
    with session(settings, application_name="kafkaops-rewind") as conn:
        before = read_offset(conn)
        if not conn.execute("SELECT pg_try_advisory_lock(%s)", (producer_lock_key(),)).fetchone()[0]:
            raise RefusedError("a producer is running (it holds the producer lock); not moving its offset", hint="stop `kafkaops produce` first")
        try:
            if to_id == 0:
                conn.execute("UPDATE producer_offsets SET last_id = 0, last_created_at = 'epoch' WHERE id = 1")
            else:
                conn.execute("UPDATE producer_offsets SET last_id = %s WHERE id = 1", (to_id,))
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (producer_lock_key(),))
    return RewindResult(before.last_id, to_id)


def producer_lock_key() -> int:
    """The advisory lock a producer holds for as long as it runs (one offset row: one producer)."""
    import zlib

    return zlib.crc32(b"kafkaops produce producer_offsets") - 2**31
