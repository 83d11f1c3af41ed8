"""PostgreSQL connections (psycopg 3): the only module that opens one.

Every psycopg failure met while connecting becomes a :class:`KafkaopsError` whose text never contains
the password: the message is built by kafkaops, and any text taken from the library is scrubbed of the
password it was given (by value, so that even a malformed URL the redactor cannot parse stays secret).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kafkaops.errors import ExitCode, KafkaopsError, NotReady, UnreachableError, UsageError
from kafkaops.redact import MASK, redact_dsn, redact_text

CONNECT_TIMEOUT = 5  # seconds: an unreachable server fails fast, not after the OS's TCP timeout

_URL_PASSWORD = re.compile(r"://[^:/@\s]*:([^@\s]*)@")
_KV_PASSWORD = re.compile(r"(?i)\bpassword\s*=\s*('[^']*'|\S+)")
_LOOSE_PASSWORD = re.compile(r"[^\s:/@]+:([^@\s/]+)@")  # user:password@ in a malformed URL


def password_in(dsn: str) -> str | None:
    """The password written in a DSN (URL or key=value form), even a malformed one."""
    m = _URL_PASSWORD.search(dsn) or _KV_PASSWORD.search(dsn) or _LOOSE_PASSWORD.search(dsn)
    if not m:
        return None
    value = m.group(1).strip("'")
    return value or None


def scrub(text: str, dsn: str | None) -> str:
    """Text with the DSN's password removed by value, then the usual redaction."""
    if dsn:
        secret = password_in(dsn)
        if secret:
            text = text.replace(secret, MASK)
            from urllib.parse import unquote

            decoded = unquote(secret)
            if decoded != secret:
                text = text.replace(decoded, MASK)
    return redact_text(text)


def shown(dsn: str) -> str:
    """A DSN as it may be shown: the password masked."""
    try:
        masked = redact_dsn(dsn) or ""
    except ValueError:  # urllib cannot split it (a bad port): mask by value only
        masked = dsn
    return scrub(masked, dsn)


def check_dsn(dsn: str) -> dict[str, Any]:
    """Parse a DSN the way libpq will; a malformed one is a usage error (password never shown)."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    if "://" in dsn and dsn.split("://", 1)[0].lower() not in ("postgres", "postgresql"):
        raise UsageError(
            "DATABASE_URL is not a PostgreSQL URL (it must start with postgresql://)",
            hint="set DATABASE_URL=postgresql://USER:PASSWORD@HOST:5432/DBNAME",
        )
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        # libpq's message quotes the string it could not parse: not shown, it may hold the password.
        raise UsageError(
            "DATABASE_URL is malformed (libpq cannot parse it)",
            hint="set DATABASE_URL=postgresql://USER:PASSWORD@HOST:5432/DBNAME (percent-encode special characters)",
        ) from None
    for p in str(params.get("port") or "").split(","):
        if p and not p.strip().isdigit():
            raise UsageError(f"DATABASE_URL has a port that is not a number ({p!r})", hint="set DATABASE_URL=postgresql://USER:PASSWORD@HOST:5432/DBNAME")
    return params


def translate(exc: BaseException, dsn: str | None, *, what: str = "PostgreSQL") -> KafkaopsError:
    """A psycopg connection failure as a kafkaops error, the password scrubbed."""
    text = scrub(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__, dsn)
    error = _translate(exc, text, dsn, what)
    error.reason = text  # type: ignore[attr-defined]  # the library's own words (scrubbed), for doctor's finding
    return error


def _translate(exc: BaseException, text: str, dsn: str | None, what: str) -> KafkaopsError:
    sqlstate = getattr(exc, "sqlstate", None)
    lower = text.lower()
    where = shown(dsn) if dsn else what
    if sqlstate in ("28P01", "28000") or "password authentication failed" in lower or "no password supplied" in lower:
        return UsageError(
            f"{what} refused the credentials in DATABASE_URL ({where}): {text}",
            hint="check the user name and password in DATABASE_URL",
        )
    if sqlstate == "3D000" or ("database" in lower and "does not exist" in lower):
        return UsageError(f"{what}: {text}", hint="create the database, or fix the database name in DATABASE_URL")
    if any(
        s in lower
        for s in (
            "connection refused",
            "failed to resolve host",
            "could not translate host name",
            "timeout expired",
            "no route to host",
            "could not connect",
            "name or service not known",
            "network is unreachable",
            "connection timed out",
        )
    ):
        return UnreachableError(f"{what} at {where} is unreachable: {text}", hint="check the host and port in DATABASE_URL, and that the server runs")
    if sqlstate == "57P03":  # the database system is starting up / shutting down
        return UnreachableError(f"{what} at {where} is not accepting connections: {text}", hint="wait a moment and retry")
    return KafkaopsError(f"{what} connection failed ({where}): {text}", exit_code=ExitCode.ERROR)


def connect(
    dsn: str,
    *,
    application_name: str = "kafkaops",
    autocommit: bool = True,
    connect_timeout: int = CONNECT_TIMEOUT,
    options: str | None = None,
    timezone: str | None = "UTC",
) -> Any:
    """A psycopg connection to ``dsn`` (DATABASE_URL or the embedded PostgreSQL's: the caller resolves it
    with ``embedded_pg.database_url``, so this module never imports embedded_pg), session time zone UTC.

    Autocommit by default: kafkaops never holds a long transaction open (it would block the settle
    gate of the producer and vacuum). The client encoding is UTF-8 whatever the database's: names and
    events come back as text even from a SQL_ASCII database (where psycopg would otherwise return
    bytes), and text that is not valid UTF-8 fails loudly instead of reaching Kafka garbled.

    ``options`` are libpq's (e.g. ``-c statement_timeout=3000``); ``timezone=None`` keeps the server's.
    A failure is a translated KafkaopsError whose ``reason`` holds the library's first line, scrubbed.
    """
    import psycopg
    import psycopg.sql

    check_dsn(dsn)
    try:
        extra: dict[str, Any] = {"options": options} if options else {}
        conn = psycopg.connect(dsn, autocommit=autocommit, connect_timeout=connect_timeout, application_name=application_name, client_encoding="UTF8", **extra)
    except psycopg.Error as exc:
        raise translate(exc, dsn) from None
    if timezone is None:
        return conn
    try:
        conn.execute(psycopg.sql.SQL("SET TimeZone TO {}").format(psycopg.sql.Literal(timezone)))
        if not autocommit:
            conn.commit()
    except psycopg.Error as exc:
        conn.close()
        raise translate(exc, dsn) from None
    return conn


def query_error(exc: BaseException, dsn: str | None) -> KafkaopsError:
    """A psycopg error raised by a statement (not by connecting), scrubbed."""
    import psycopg

    text = scrub(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__, dsn)
    if isinstance(exc, psycopg.OperationalError):
        return UnreachableError(f"lost the connection to PostgreSQL: {text}", hint="check that the database is up, then rerun")
    if isinstance(exc, psycopg.errors.UndefinedTable):
        return NotReady(f"PostgreSQL: {text}", hint="create the tables with `kafkaops db init` (add --demo for a livedb table)")
    if isinstance(exc, (psycopg.errors.CharacterNotInRepertoire, psycopg.errors.UntranslatableCharacter)):
        return UsageError(
            f"PostgreSQL: {text} (a row holds text that is not valid UTF-8)",
            hint="events are UTF-8 JSON: fix that text in the table (a SQL_ASCII database stores any bytes), then rerun",
        )
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return UsageError(f"PostgreSQL: {text}", hint="grant the DATABASE_URL user the privileges it needs")
    return KafkaopsError(f"PostgreSQL: {text}")


@contextmanager
def session(dsn: str, application_name: str = "kafkaops") -> Iterator[Any]:
    """A connection (autocommit, UTC) whose statement errors come out as kafkaops errors (query_error)."""
    import psycopg

    conn = connect(dsn, application_name=application_name)
    try:
        yield conn
    except psycopg.Error as exc:
        raise query_error(exc, dsn) from None
    finally:
        conn.close()


@contextmanager
def transaction(conn: Any) -> Iterator[None]:
    """One transaction on ``conn`` (committed at the end, rolled back on an error)."""
    with conn.transaction():
        yield


def insufficient_privilege(exc: BaseException) -> bool:
    """The error is PostgreSQL's "permission denied" (SQLSTATE 42501)."""
    import psycopg

    return isinstance(exc, psycopg.errors.InsufficientPrivilege)


def identifier(*parts: str) -> Any:
    """A (qualified) SQL identifier, quoted by psycopg: for composing statements."""
    from psycopg import sql

    return sql.Identifier(*parts)


def with_table(template: str, schema: str, name: str) -> Any:
    """A statement whose ``{table}`` is the table ``schema.name``, quoted (the rest is passed as is)."""
    from psycopg import sql

    return sql.SQL(template).format(table=sql.Identifier(schema, name))
