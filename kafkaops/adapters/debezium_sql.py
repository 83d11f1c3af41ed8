"""The SQL of ``produce --envelope debezium`` (psycopg 3): the table's columns with their type modifiers,
and the batch query that has PostgreSQL encode each column as Debezium's PostgreSQL connector does.

Each column comes with a ``kind`` (see ``kafkaops/procedures/produce/debezium.py``) that says how it
is read: ``plain`` (row_to_json's own value), ``text`` (its text, e.g. json/jsonb as the string
io.debezium.data.Json carries), ``bytes`` (base64 without newlines), ``days`` (date: days since
1970-01-01), ``millis``/``micros`` (timestamp, time: since the epoch or midnight), ``zoned`` (timestamptz:
ISO 8601 in UTC with ``width`` fraction digits), ``numeric``/``money`` (the decimal's text, turned into
Debezium's bytes in Python).
"""

from __future__ import annotations

from typing import Any

# (name, type name, type modifier, NOT NULL) per column, in column order
ColumnMeta = tuple[str, str, int, bool]


def columns(conn: Any, schema: str, name: str) -> list[ColumnMeta]:
    """The table's columns: name, type name (a domain: its base type), type modifier, NOT NULL."""
    query = """SELECT a.attname, bt.typname, CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END, a.attnotnull
           FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
           JOIN pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
           WHERE a.attrelid = format('%%I.%%I', %s::text, %s::text)::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum"""
    rows = conn.execute(query, (schema, name)).fetchall()
    return [(str(r[0]), str(r[1]), int(r[2]), bool(r[3])) for r in rows]


def commit_timestamps(conn: Any) -> bool:
    """Whether the server records commit times (track_commit_timestamp): then each event's
    source.ts_ms is its transaction's commit time."""
    return bool(conn.execute("SELECT current_setting('track_commit_timestamp') = 'on'").fetchone()[0])


def _expr(col: str, kind: str, width: int) -> Any:
    from psycopg import sql

    c = sql.Identifier("t", col)
    epoch = sql.SQL("extract(epoch FROM {})").format(c)
    exprs = {
        "plain": c,
        "text": sql.SQL("{}::text").format(c),
        "numeric": sql.SQL("{}::text").format(c),
        "money": sql.SQL("{}::numeric::text").format(c),
        "bytes": sql.SQL("translate(encode({}, 'base64'), E'\\n', '')").format(c),
        "days": sql.SQL("CASE WHEN isfinite({}) THEN {} - DATE '1970-01-01' END").format(c, c),
        "millis": sql.SQL("CASE WHEN isfinite({}) THEN floor({} * 1000)::bigint END").format(c, epoch),
        "micros": sql.SQL("CASE WHEN isfinite({}) THEN floor({} * 1000000)::bigint END").format(c, epoch),
        "time_millis": sql.SQL("floor({} * 1000)::bigint").format(epoch),
        "time_micros": sql.SQL("floor({} * 1000000)::bigint").format(epoch),
        "zoned": sql.SQL(
            "CASE WHEN isfinite({c}) THEN to_char({c} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') || {frac} || 'Z' ELSE {c}::text END"
        ).format(c=c, frac=sql.SQL("''") if width <= 0 else sql.SQL("'.' || left(to_char({}, 'US'), {})").format(c, sql.Literal(width))),
    }
    return sql.SQL("{} AS {}").format(exprs[kind], sql.Identifier(col))


def batch_query(schema: str, name: str, specs: list[tuple[str, str, int]], *, has_created_at: bool, commit_time: bool) -> Any:
    """(id as text, created_at as text, the row's JSON with Debezium's encodings, txId, commit time in
    ms or NULL) for ``after < id <= level``, at most ``limit`` rows, in id order. ``specs``: (column,
    kind, fraction width) per column. Parameters: after, level, limit."""
    from psycopg import sql

    cols = sql.SQL(", ").join(_expr(col, kind, width) for col, kind, width in specs)
    created = sql.SQL("t.created_at::text") if has_created_at else sql.SQL("NULL::text")
    commit = sql.SQL("(extract(epoch FROM pg_xact_commit_timestamp(t.xmin)) * 1000)::bigint") if commit_time else sql.SQL("NULL::bigint")
    return sql.SQL(
        "SELECT t.id::text, {created}, (SELECT row_to_json(r)::text FROM (SELECT {cols}) AS r), t.xmin::text::bigint, {commit} "
        "FROM {table} AS t WHERE t.id > %(after)s AND t.id <= %(level)s ORDER BY t.id LIMIT %(limit)s"
    ).format(created=created, cols=cols, commit=commit, table=sql.Identifier(schema, name))
