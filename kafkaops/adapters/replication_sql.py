"""The SQL of logical replication for ``kafkaops cdc`` (psycopg 3): server settings, the publication, the
replication slot (created over a replication connection so that its snapshot can be read), the slot's lag.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from kafkaops.adapters.postgres import check_dsn, scrub, translate
from kafkaops.errors import KafkaopsError


@dataclass(frozen=True)
class Capability:
    wal_level: str
    max_replication_slots: int
    slots_used: int
    can_replicate: bool  # superuser or REPLICATION
    superuser: bool


def capability(conn: Any) -> Capability:
    row = conn.execute(
        """SELECT current_setting('wal_level'), current_setting('max_replication_slots')::int,
                  (SELECT count(*) FROM pg_replication_slots), r.rolsuper OR r.rolreplication, r.rolsuper
           FROM pg_roles r WHERE r.rolname = current_user"""
    ).fetchone()
    return Capability(str(row[0]), int(row[1]), int(row[2]), bool(row[3]), bool(row[4]))


def set_wal_level_logical(conn: Any) -> None:
    """ALTER SYSTEM SET wal_level = logical (takes effect at the next restart)."""
    conn.execute("ALTER SYSTEM SET wal_level = logical")


def ensure_publication(conn: Any, name: str, schema: str, table: str) -> bool:
    """CREATE PUBLICATION name FOR TABLE schema.table unless it exists; True when created."""
    from psycopg import sql

    if conn.execute("SELECT 1 FROM pg_publication WHERE pubname = %s", (name,)).fetchone():
        return False
    conn.execute(sql.SQL("CREATE PUBLICATION {} FOR TABLE {}").format(sql.Identifier(name), sql.Identifier(schema, table)))
    return True


def drop_publication(conn: Any, name: str) -> None:
    from psycopg import sql

    conn.execute(sql.SQL("DROP PUBLICATION IF EXISTS {}").format(sql.Identifier(name)))


@dataclass(frozen=True)
class SlotInfo:
    name: str
    active: bool
    retained_bytes: int | None  # WAL kept for the slot: current LSN - restart_lsn
    lag_bytes: int | None  # current LSN - confirmed_flush_lsn: what the consumer has not confirmed
    confirmed_flush_lsn: str | None


def slot_info(conn: Any, name: str) -> SlotInfo | None:
    row = conn.execute(
        """SELECT active, pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint,
                  pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint, confirmed_flush_lsn::text
           FROM pg_replication_slots WHERE slot_name = %s""",
        (name,),
    ).fetchone()
    if row is None:
        return None
    return SlotInfo(name, bool(row[0]), None if row[1] is None else int(row[1]), None if row[2] is None else int(row[2]), row[3])


def drop_slot(conn: Any, name: str) -> bool:
    if not conn.execute("SELECT 1 FROM pg_replication_slots WHERE slot_name = %s", (name,)).fetchone():
        return False
    conn.execute("SELECT pg_drop_replication_slot(%s)", (name,))
    return True


def drop_slot_quietly(conn: Any, name: str) -> None:
    """Drop a slot this command made, after a failure: a slot still held a moment by its closing connection stays (cdc delete drops it)."""
    import psycopg

    try:
        drop_slot(conn, name)
    except psycopg.Error:
        pass


@contextmanager
def slot_with_snapshot(dsn: str, name: str) -> Iterator[tuple[str, str]]:
    """Create the logical slot ``name`` (pgoutput) over a replication connection and yield
    (consistent point LSN, exported snapshot name). The snapshot is usable (SET TRANSACTION SNAPSHOT)
    only while this block runs: it shows exactly the transactions committed before the slot's
    consistent point, and the slot streams exactly those committed after it."""
    import psycopg

    check_dsn(dsn)
    try:
        conn = psycopg.connect(dsn, autocommit=True, replication="database", application_name="kafkaops-cdc-slot")
    except psycopg.Error as exc:
        raise translate(exc, dsn) from None
    try:
        res = conn.pgconn.exec_(f'CREATE_REPLICATION_SLOT "{name}" LOGICAL pgoutput EXPORT_SNAPSHOT'.encode())
        if res.status != psycopg.pq.ExecStatus.TUPLES_OK:
            message = (res.error_message or b"").decode("utf-8", "replace").strip()
            raise KafkaopsError(f"PostgreSQL could not create the replication slot {name}: {scrub(message, dsn)}")
        lsn = (res.get_value(0, 1) or b"").decode()
        snapshot = (res.get_value(0, 2) or b"").decode()
        yield lsn, snapshot
    finally:
        conn.close()


@contextmanager
def in_snapshot(dsn: str, snapshot: str) -> Iterator[Any]:
    """A connection inside one REPEATABLE READ transaction that sees the exported ``snapshot``."""
    import psycopg

    conn = psycopg.connect(dsn, autocommit=True, application_name="kafkaops-cdc-handover", client_encoding="UTF8", options="-c TimeZone=UTC")
    try:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        conn.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")  # the first statement of the transaction, as it must be
        yield conn
        conn.execute("ROLLBACK")
    finally:
        conn.close()


def dsn_parts(dsn: str) -> dict[str, str]:
    """host, port, user, password, dbname of a connection string (libpq's defaults where it is silent)."""
    from psycopg.conninfo import conninfo_to_dict

    parts = {k: str(v) for k, v in conninfo_to_dict(dsn).items() if v is not None}
    return {
        "host": parts.get("host", "localhost"),
        "port": parts.get("port", "5432"),
        "user": parts.get("user", ""),
        "password": parts.get("password", ""),
        "dbname": parts.get("dbname", parts.get("user", "")),
    }
