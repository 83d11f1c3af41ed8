"""The SQL of the produce step (psycopg 3): the batch query, the settle gate's lock probes, the offset's
compare-and-set, the producer lock. Each function takes a connection and plain values; psycopg is
imported only when a query is composed or fails, so that ``kafkaops --help`` stays fast.

A table is named by ``schema`` and ``name``; ``quoted`` is the same name as SQL text (for
``to_regclass`` and ``pg_get_serial_sequence``); ``columns`` maps each column to its type name.
"""

from __future__ import annotations

import functools
from typing import Any, LiteralString

# --- the batch query -------------------------------------------------------------------------------


def _cast(col: str, typ: str) -> Any:
    """A column as it is (Identifier) or cast to text so that its JSON is lossless (Composed)."""
    from psycopg import sql

    c = sql.Identifier(col)
    if typ == "numeric":
        return sql.SQL("{}::text AS {}").format(c, c)
    if typ == "money":
        return sql.SQL("{}::numeric::text AS {}").format(c, c)
    if typ == "_numeric":
        return sql.SQL("{}::text[] AS {}").format(c, c)
    if typ == "_money":
        return sql.SQL("{}::numeric[]::text[] AS {}").format(c, c)
    if typ == "bytea":
        return sql.SQL("translate(encode({}, 'base64'), E'\\n', '') AS {}").format(c, c)
    return c


# A row ``x`` as its event (the envelope, the row's JSON as "after"); parameters head, mid (or the ``{mid}`` given), ts.
_EVENT = "%(head)s::text || x.id || {mid} || %(ts)s::bigint || ',\"after\":' || row_to_json(x)::text || '}}'"


def _columns(columns: dict[str, str], envelope: bool, mid: Any = None) -> dict[str, Any]:
    """The parts of a batch query's SELECT list: ``created`` (created_at as text), ``payload`` (the event,
    or the row's JSON without ``envelope``) over the rows ``x``, and ``cols`` (the table's columns, cast)."""
    from psycopg import sql

    return {
        "created": sql.SQL("x.created_at::text") if "created_at" in columns else sql.SQL("NULL::text"),
        "payload": sql.SQL(_EVENT).format(mid=mid or sql.SQL("%(mid)s::text")) if envelope else sql.SQL("row_to_json(x)::text"),
        "cols": sql.SQL(", ").join(_cast(col, typ) for col, typ in columns.items()),
    }


def _by_id(schema: str, name: str, columns: dict[str, str], envelope: bool, rows: LiteralString) -> Any:
    """(id as text, created_at as text, the event or the row's JSON) of the ``rows`` (a SELECT of {cols} FROM {table}), in id order."""
    from psycopg import sql

    parts = {"table": sql.Identifier(schema, name), **_columns(columns, envelope)}
    return sql.SQL("SELECT x.id::text, {created}, {payload} FROM ({rows}) AS x ORDER BY x.id").format(rows=sql.SQL(rows).format(**parts), **parts)


def batch_query(schema: str, name: str, columns: dict[str, str], envelope: bool = True) -> Any:
    """The batch query: (id as text, created_at as text, the event or the row's JSON), in id order.

    PostgreSQL renders each row as JSON, losslessly:
    numeric as text (a JSON string: no float rounding), money as numeric text (its own text is
    lc_monetary's: "$1,234.50" or "1.234,50 €"), bytea as base64 (no newlines), timestamptz in ISO
    8601 (the session runs in UTC), json/jsonb nested as they are, NULL as null.
    Its parameters: head, mid, ts (the event's envelope), after, level, limit (the rows).
    """
    return _by_id(schema, name, columns, envelope, "SELECT {cols} FROM {table} WHERE id > %(after)s AND id <= %(level)s ORDER BY id LIMIT %(limit)s")


def live_query(schema: str, name: str, columns: dict[str, str], envelope: bool = True) -> Any:
    """:func:`batch_query` for a live position (``produce --follow``): the rows in the holes (ranges
    ``lo[i]..hi[i]``, one index range scan each: LATERAL keeps the planner from scanning every row
    above ``after`` once per hole, which made rounds grow slower while a slow writer held the
    low-water mark) and the rows in ``(upto, level]``, above ``after``, in id order. Extra
    parameters: lo, hi (bigint arrays), upto."""
    return _by_id(
        schema,
        name,
        columns,
        envelope,
        "SELECT * FROM (SELECT r.* FROM unnest(%(lo)s::bigint[], %(hi)s::bigint[]) AS kafkaops_hole(kafkaops_lo, kafkaops_hi) "
        "CROSS JOIN LATERAL (SELECT {cols} FROM {table} WHERE id BETWEEN greatest(kafkaops_lo, %(after)s + 1) AND kafkaops_hi) AS r "
        "UNION ALL SELECT {cols} FROM {table} WHERE id > greatest(%(upto)s, %(after)s) AND id <= %(level)s) AS u ORDER BY id LIMIT %(limit)s",
    )


def cursor_query(schema: str, name: str, columns: dict[str, str], ts_col: str, envelope: bool = True) -> Any:
    """The batch query of a (``ts_col``, id) cursor (``--mode timestamp+id``): (id as text, created_at
    as text, the event or the row's JSON, ``ts_col`` as text (exact, microseconds, UTC), op).

    The rows past the cursor ``(after_ts, after)`` and before the gate's ``level`` (a time), in
    cursor order. op is "u" when the row was seen before: its created_at is not after ``after_ts``
    (see produce/reader.py for why that never calls a row sent before "c"); "c" otherwise. The event
    is :func:`batch_query`'s with that op (``mid`` for "c", ``mid_u`` for "u").
    """
    from psycopg import sql

    seen = sql.SQL("x.created_at <= %(after_ts)s::timestamptz") if "created_at" in columns else sql.SQL("%(after_ts)s::timestamptz > '-infinity'")
    mid = sql.SQL("CASE WHEN {seen} THEN %(mid_u)s::text ELSE %(mid)s::text END").format(seen=seen)
    return sql.SQL(
        "SELECT x.id::text, {created}, {payload}, x.{ts}::text, CASE WHEN {seen} THEN 'u' ELSE 'c' END FROM "
        "(SELECT {cols} FROM {table} WHERE ({ts}, id) > (%(after_ts)s::timestamptz, %(after)s) AND {ts} < %(level)s::timestamptz "
        "ORDER BY {ts}, id LIMIT %(limit)s) AS x ORDER BY x.{ts}, x.id"
    ).format(ts=sql.Identifier(ts_col), seen=seen, table=sql.Identifier(schema, name), **_columns(columns, envelope, mid))


def fetch_batch(conn: Any, query: Any, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The rows of a :func:`batch_query`."""
    return conn.execute(query, params).fetchall()  # type: ignore[no-any-return]


def event_sizes(conn: Any, schema: str, name: str, columns: dict[str, str], params: dict[str, Any]) -> list[tuple[int, int]]:
    """(id, event bytes with the key) of the rows :func:`batch_query` with ``params`` would send."""
    from psycopg import sql

    query = sql.SQL("SELECT s.id, octet_length(s.ev) + octet_length(s.id) FROM ({}) AS s(id, created, ev)").format(batch_query(schema, name, columns))
    return [(int(i), int(n)) for i, n in conn.execute(query, params).fetchall()]


@functools.cache
def _boundary(schema: str, name: str) -> Any:
    from psycopg import sql

    return sql.SQL("SELECT id FROM {} WHERE id > %s AND id <= %s ORDER BY id OFFSET %s LIMIT 1").format(sql.Identifier(schema, name))


def nth_id(conn: Any, schema: str, name: str, after: int, level: int, n: int) -> int | None:
    """The id of the row ``n`` places past ``after`` (0: the first) up to ``level``; None if fewer rows."""
    row = conn.execute(_boundary(schema, name), (after, level, n)).fetchone()
    return int(row[0]) if row else None


def nth_row(conn: Any, schema: str, name: str, has_created_at: bool, after: int, level: int, n: int) -> tuple[int, Any] | None:
    """(id, created_at or None) of the row ``n`` places past ``after`` up to ``level``."""
    from psycopg import sql

    created = sql.SQL("created_at" if has_created_at else "NULL::timestamptz")
    query = sql.SQL("SELECT id, {} FROM {} WHERE id > %s AND id <= %s ORDER BY id OFFSET %s LIMIT 1").format(created, sql.Identifier(schema, name))
    row = conn.execute(query, (after, level, n)).fetchone()
    return (int(row[0]), row[1]) if row else None


def count_rows(conn: Any, schema: str, name: str, after: int, level: int, limit: int | None = None) -> int:
    """How many rows have ``after < id <= level`` (at most ``limit``)."""
    from psycopg import sql

    table = sql.Identifier(schema, name)
    if limit is not None:
        q = sql.SQL("SELECT count(*) FROM (SELECT 1 FROM {} WHERE id > %s AND id <= %s LIMIT %s) AS x").format(table)
        return int(conn.execute(q, (after, level, limit)).fetchone()[0])
    q = sql.SQL("SELECT count(*) FROM {} WHERE id > %s AND id <= %s").format(table)
    return int(conn.execute(q, (after, level)).fetchone()[0])


def count_cursor(conn: Any, schema: str, name: str, ts_col: str, after: tuple[str, int], level: str, limit: int | None = None) -> int:
    """How many rows are past the (``ts_col``, id) cursor ``after`` with a timestamp before ``level`` (at most ``limit``)."""
    from psycopg import sql

    q = sql.SQL("SELECT count(*) FROM (SELECT 1 FROM {} WHERE ({ts}, id) > (%s::timestamptz, %s) AND {ts} < %s::timestamptz LIMIT %s) AS x").format(
        sql.Identifier(schema, name), ts=sql.Identifier(ts_col)
    )
    return int(conn.execute(q, (after[0], after[1], level, limit)).fetchone()[0])


def count_between(conn: Any, schema: str, name: str, after: int, before: int) -> int:
    """How many rows have ``after < id < before``."""
    from psycopg import sql

    q = sql.SQL("SELECT count(*) FROM {} WHERE id > %s AND id < %s").format(sql.Identifier(schema, name))
    return int(conn.execute(q, (after, before)).fetchone()[0])


def count_unsent(conn: Any, schema: str | None, name: str, last_id: int, sent_upto: int | None = None, holes: str | None = None) -> int:
    """Rows a position has not sent: above ``last_id``; for a live position (``produce --follow``) only
    those above ``sent_upto`` and in its ``holes`` ("3-5,9"), the rest above ``last_id`` being sent."""
    from psycopg import sql

    upto = max(last_id, sent_upto if sent_upto is not None else last_id)
    clauses, params = [sql.SQL("id > %s")], [upto]
    for part in (holes or "").split(","):
        if part.strip():
            lo, _, hi = part.strip().partition("-")
            clauses.append(sql.SQL("id BETWEEN %s AND %s"))
            params += [int(lo), int(hi or lo)]
    table = sql.Identifier(schema, name) if schema else sql.Identifier(name)  # no schema: the search_path's
    q = sql.SQL("SELECT count(*) FROM {} WHERE {}").format(table, sql.SQL(" OR ").join(clauses))
    return int(conn.execute(q, params).fetchone()[0])


def max_id(conn: Any, schema: str, name: str) -> int | None:
    from psycopg import sql

    value = conn.execute(sql.SQL("SELECT max(id) FROM {}").format(sql.Identifier(schema, name))).fetchone()[0]
    return None if value is None else int(value)


def database_name(conn: Any) -> str:
    return str(conn.info.dbname)


def set_synchronous_commit(conn: Any, value: str) -> None:
    """This session's synchronous_commit, whatever the server's or role's default."""
    conn.execute("SELECT set_config('synchronous_commit', %s, false)", (value,))


# --- the settle gate -------------------------------------------------------------------------------


def timestamp_text(conn: Any, value: Any) -> str:
    """A timestamptz as PostgreSQL's exact text (microseconds, the session's UTC)."""
    return str(conn.execute("SELECT %s::timestamptz::text", (value,)).fetchone()[0])


def clock(conn: Any) -> str:
    """The server's clock now (clock_timestamp(), not the transaction's now()), as exact text."""
    return str(conn.execute("SELECT clock_timestamp()::text").fetchone()[0])


def high_water(conn: Any, schema: str, name: str, quoted: str) -> int:
    """The highest id any transaction may have taken: the id sequence's last value, or max(id)."""
    import psycopg

    seq = conn.execute("SELECT pg_get_serial_sequence(%s, 'id')", (quoted,)).fetchone()[0]
    top = max_id(conn, schema, name) or 0
    if seq:
        try:
            last = conn.execute("SELECT pg_sequence_last_value(%s::regclass)", (seq,)).fetchone()[0]
        except psycopg.errors.InsufficientPrivilege:  # no privilege on the sequence: max(id) it is
            last = None
        return max(int(last or 0), top)
    return top


def writers(conn: Any, quoted: str) -> list[str]:
    """Transactions (other than ours) holding or awaiting a lock on the table or its id sequence.

    An INSERT (or COPY) holds RowExclusiveLock on the table, and nextval() one on the sequence,
    until the transaction ends: so these are exactly the transactions that may still commit a row
    with an id we have already seen the sequence hand out. Plain readers (AccessShareLock) are not
    waited for: a long report query does not hold the producer up.
    """
    row = conn.execute(
        """SELECT coalesce(array_agg(DISTINCT l.virtualtransaction), '{}')
           FROM pg_locks l
           WHERE l.locktype = 'relation'
             AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
             AND l.relation IN (to_regclass(%s), to_regclass(pg_get_serial_sequence(%s, 'id')))
             AND l.mode NOT IN ('AccessShareLock', 'RowShareLock')  -- readers and SELECT FOR UPDATE insert nothing
             AND l.pid IS DISTINCT FROM pg_backend_pid()""",
        (quoted, quoted),
    ).fetchone()
    return list(row[0])


def still_open(conn: Any, vxids: list[str]) -> list[tuple[Any, ...]]:
    """(virtual transaction, pid, application_name, state, seconds open) of those still running."""
    return conn.execute(  # type: ignore[no-any-return]
        """SELECT DISTINCT l.virtualtransaction, a.pid, a.application_name, a.state,
                  extract(epoch FROM clock_timestamp() - a.xact_start)::int
           FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
           WHERE l.virtualtransaction = ANY(%s)""",
        (vxids,),
    ).fetchall()


# --- the offset and the producer lock -------------------------------------------------------------


def advance_offset(conn: Any, row: int, old: int, new: int, created_at: Any) -> bool:
    """Compare-and-set: producer_offsets row ``row`` moves from ``old`` to ``new``; False if it was not at ``old``."""
    cur = conn.execute(
        "UPDATE producer_offsets SET last_id = %s, last_created_at = coalesce(%s::timestamptz, last_created_at) WHERE id = %s AND last_id = %s",
        (new, created_at, row, old),
    )
    return bool(cur.rowcount == 1)


def advance_cursor(conn: Any, row: int, old: tuple[Any, int], new: tuple[Any, int], created_at: Any) -> bool:
    """Compare-and-set of a (timestamp, id) cursor: row ``row`` moves from ``old`` to ``new``."""
    cur = conn.execute(
        """UPDATE producer_offsets SET last_ts = %s::timestamptz, last_id = %s, last_created_at = coalesce(%s::timestamptz, last_created_at)
           WHERE id = %s AND last_id = %s AND last_ts IS NOT DISTINCT FROM %s::timestamptz""",
        (new[0], new[1], created_at, row, old[1], old[0]),
    )
    return bool(cur.rowcount == 1)


def advance_live(conn: Any, row: int, old: tuple[int, int | None], new: tuple[int, int, str], created_at: Any) -> bool:
    """Compare-and-set of a live position: (last_id, sent_upto) moves from ``old`` to ``new`` (last_id, sent_upto, holes)."""
    cur = conn.execute(
        """UPDATE producer_offsets SET last_id = %s, sent_upto = %s, holes = %s, last_created_at = coalesce(%s::timestamptz, last_created_at)
           WHERE id = %s AND last_id = %s AND greatest(coalesce(sent_upto, last_id), last_id) = %s""",
        (new[0], new[1], new[2], created_at, row, old[0], old[1] if old[1] is not None else old[0]),
    )
    return bool(cur.rowcount == 1)


def ended(conn: Any, vxids: list[str]) -> bool:
    """None of the transactions ``vxids`` is still running."""
    return not conn.execute("SELECT 1 FROM pg_locks WHERE virtualtransaction = ANY(%s) LIMIT 1", (vxids,)).fetchone()


def listen(conn: Any, channel: str) -> None:
    """LISTEN on ``channel`` (a name such as ``kafkaops.public.livedb``, quoted as an identifier)."""
    from psycopg import sql

    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))


def notified(conn: Any, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for a notification on ``conn``; True if one (or more) came."""
    got = False
    for _n in conn.notifies(timeout=timeout, stop_after=1):
        got = True
    if got:  # take the others already there: one round serves them all
        for _n in conn.notifies(timeout=0.0):
            pass
    return got


def try_advisory_lock(conn: Any, key: int) -> bool:
    return bool(conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0])


def advisory_unlock(conn: Any, key: int) -> None:
    conn.execute("SELECT pg_advisory_unlock(%s)", (key,))


def advisory_lock_holder(conn: Any, key: int) -> tuple[int, str | None] | None:
    """(pid, application_name) of the session holding the advisory lock ``key``, or None."""
    holder = conn.execute(
        """SELECT a.pid, a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
           WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
             AND l.classid = ((%s::bigint >> 32) & 4294967295)::oid AND l.objid = (%s::bigint & 4294967295)::oid LIMIT 1""",
        (key, key),
    ).fetchone()
    return (holder[0], holder[1]) if holder else None


# --- exactly-once (produce --exactly-once) ---------------------------------------------------------

EOS_COLUMNS = {"exactly_once": "boolean NOT NULL DEFAULT false", "txn_token": "text"}


def ensure_eos_columns(conn: Any) -> None:
    """producer_offsets.exactly_once (the pipeline runs with --exactly-once) and txn_token (the token
    its open transaction's events carry), added on the first exactly-once run: nothing else changes."""
    have = {
        r[0]
        for r in conn.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass('producer_offsets') AND attname = ANY(%s) AND NOT attisdropped", (list(EOS_COLUMNS),)
        ).fetchall()
    }
    from kafkaops.adapters.postgres import insufficient_privilege
    from kafkaops.errors import ExitCode, KafkaopsError

    for column, ddl in EOS_COLUMNS.items():
        if column not in have:
            try:
                conn.execute(f"ALTER TABLE producer_offsets ADD COLUMN IF NOT EXISTS {column} {ddl}")
            except Exception as exc:
                if not insufficient_privilege(exc):
                    raise
                raise KafkaopsError(
                    f"cannot add the column {column} that --exactly-once needs to producer_offsets: {str(exc).strip().splitlines()[0]}",
                    hint="run `kafkaops produce --exactly-once` once as the owner of producer_offsets (it adds two columns; no offset changes)",
                    exit_code=ExitCode.NOT_READY,
                ) from None


def ran_exactly_once(conn: Any, row: int) -> bool:
    """Whether producer_offsets row ``row`` is marked exactly-once (False without the column)."""
    has = conn.execute(
        "SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass('producer_offsets') AND attname = 'exactly_once' AND NOT attisdropped"
    ).fetchone()[0]
    return bool(has) and bool(conn.execute("SELECT exactly_once FROM producer_offsets WHERE id = %s", (row,)).fetchone()[0])


def eos_state(conn: Any, row: int) -> tuple[int, Any, str | None]:
    """(last_id, last_created_at, txn_token) of producer_offsets row ``row``."""
    r = conn.execute("SELECT last_id, last_created_at, txn_token FROM producer_offsets WHERE id = %s", (row,)).fetchone()
    return int(r[0]), r[1], r[2]


def advance_offset_txn(conn: Any, row: int, old: int, old_token: str | None, new: int, created_at: Any, new_token: str) -> bool:
    """Compare-and-set of the offset and the transaction token together; marks the pipeline exactly-once."""
    cur = conn.execute(
        "UPDATE producer_offsets SET last_id = %s, last_created_at = coalesce(%s::timestamptz, last_created_at), txn_token = %s, exactly_once = true "
        "WHERE id = %s AND last_id = %s AND txn_token IS NOT DISTINCT FROM %s",
        (new, created_at, new_token, row, old, old_token),
    )
    return bool(cur.rowcount == 1)


def created_at_upto(conn: Any, schema: str, name: str, has_created_at: bool, upto: int) -> Any:
    """created_at of the newest row with ``id <= upto`` (None without such a row or column)."""
    from psycopg import sql

    if not has_created_at:
        return None
    row = conn.execute(sql.SQL("SELECT created_at FROM {} WHERE id <= %s ORDER BY id DESC LIMIT 1").format(sql.Identifier(schema, name)), (upto,)).fetchone()
    return row[0] if row else None
