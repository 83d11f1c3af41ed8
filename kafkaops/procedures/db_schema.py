"""The database side of a pipeline: its tables, its position in producer_offsets, the schema upgrade.

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

:mod:`kafkaops.procedures.db` re-exports every name here (its callers import them from there).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kafkaops.adapters import postgres
from kafkaops.defaults import DEMO_TABLE
from kafkaops.errors import ExitCode, KafkaopsError, NotReady, UsageError
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
    blob       bytea,
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
)"""
# `produce --mode timestamp+id`: livedb's updated_at is the time of the row's last INSERT or UPDATE,
# set by a trigger from clock_timestamp() (the moment the row is written, not now(): that is the
# transaction's start, which can be long before the table is locked, so a late writer could commit a
# time the settle gate had already passed; see produce/gate.py). A table made before the column
# existed is upgraded in one transaction: its rows take updated_at = created_at (all committed: the
# ALTER waits for every writer), then the default, NOT NULL, the trigger and the (updated_at, id)
# index the cursor pages by. Statement by statement, idempotent.
DEMO_UPGRADE = (
    "ALTER TABLE {table} ADD COLUMN IF NOT EXISTS updated_at timestamptz",
    "UPDATE {table} SET updated_at = created_at WHERE updated_at IS NULL",
    "ALTER TABLE {table} ALTER COLUMN updated_at SET DEFAULT clock_timestamp(), ALTER COLUMN updated_at SET NOT NULL",
    """CREATE OR REPLACE FUNCTION kafkaops_touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN NEW.updated_at := clock_timestamp(); RETURN NEW; END $$""",
    "CREATE OR REPLACE TRIGGER kafkaops_updated_at BEFORE INSERT OR UPDATE ON {table} FOR EACH ROW EXECUTE FUNCTION kafkaops_touch_updated_at()",
    "CREATE INDEX IF NOT EXISTS livedb_updated_at_id ON {table} (updated_at, id)",
    # produce --follow wakes up on a commit instead of polling: one notification per writing
    # statement, on channel kafkaops.<schema>.<table>, delivered when its transaction commits.
    """CREATE OR REPLACE FUNCTION kafkaops_notify() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN PERFORM pg_notify('kafkaops.' || TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME, ''); RETURN NULL; END $$""",
    "CREATE OR REPLACE TRIGGER kafkaops_notify AFTER INSERT OR UPDATE ON {table} FOR EACH STATEMENT EXECUTE FUNCTION kafkaops_notify()",
)
# The producer's cursor beyond last_id (added to producer_offsets when missing, see ensure_cursor):
# last_ts is the timestamp half of a `--mode timestamp+id` cursor (NULL: an id cursor, or not started).
# sent_upto and holes: a live position (produce --follow, see produce/position.py); NULL: a plain offset.
CURSOR_COLUMNS = {"last_ts": "timestamptz", "sent_upto": "bigint", "holes": "text"}


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
        return postgres.identifier(self.schema, self.name)


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
    last_ts: datetime | None = None  # --mode timestamp+id: the cursor's timestamp (with last_id); None: id cursor
    sent_upto: int | None = None  # a live position (produce --follow): ids read up to here ...
    holes: str | None = None  # ... except these ranges ("3-5,9"), not sent (see produce/position.py)


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
    layout = offsets_layout(conn)
    if layout == "pipelines":
        return False
    if layout is None and not create:
        raise NotReady(f"the offset table {OFFSETS_TABLE} does not exist", hint="create it with `kafkaops db init`")
    try:
        with postgres.transaction(conn):
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
    except Exception as exc:
        if not postgres.insufficient_privilege(exc):
            raise
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
        row = conn.execute(
            "SELECT last_id, last_created_at, id, (to_jsonb(p) ->> 'last_ts')::timestamptz, (to_jsonb(p) ->> 'sent_upto')::bigint, to_jsonb(p) ->> 'holes' "
            "FROM producer_offsets p WHERE id = %s",
            (DEFAULT_ROW,),
        ).fetchone()
    else:
        row = conn.execute(
            "SELECT last_id, last_created_at, id, (to_jsonb(p) ->> 'last_ts')::timestamptz, (to_jsonb(p) ->> 'sent_upto')::bigint, to_jsonb(p) ->> 'holes' "
            "FROM producer_offsets p WHERE source_table = %s AND topic = %s",
            (pipeline.table, pipeline.topic),
        ).fetchone()
    # the cursor columns through to_jsonb: a table not yet given them (ensure_cursor) reads them as NULL
    return Offset(int(row[0]), row[1], int(row[2]), row[3], row[4], row[5]) if row else None


def ensure_cursor(conn: Any) -> None:
    """Add the cursor columns (CURSOR_COLUMNS) producer_offsets lacks; nothing (no lock) when it has them."""
    have = {
        r[0]
        for r in conn.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped", (OFFSETS_TABLE,)
        ).fetchall()
    }
    for col, typ in CURSOR_COLUMNS.items():
        if col not in have:
            conn.execute(f"ALTER TABLE producer_offsets ADD COLUMN IF NOT EXISTS {col} {typ}")


def upgrade_demo(conn: Any, schema: str, name: str) -> None:
    """Give the demo table its updated_at column, trigger and index (DEMO_UPGRADE), in one transaction."""
    with postgres.transaction(conn):
        for statement in DEMO_UPGRADE:
            conn.execute(postgres.with_table(statement, schema, name))


def claim_position(conn: Any, pipeline: Pipeline, settings: Settings) -> Offset:
    """The pipeline's row, added at 0 (epoch) if it has none; upgrades an old table first."""
    ensure_schema(conn, settings)
    ensure_cursor(conn)
    conn.execute(
        "INSERT INTO producer_offsets (source_table, topic) VALUES (%s, %s) ON CONFLICT (source_table, topic) DO NOTHING",
        (pipeline.table, pipeline.topic),
    )
    offset = read_position(conn, pipeline, settings)
    assert offset is not None
    return offset
