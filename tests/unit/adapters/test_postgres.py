"""adapters/postgres: the client side only; the embedded server (adapters/embedded_pg) builds on it, not the reverse."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from kafkaops.adapters import postgres
from kafkaops.errors import UsageError


def test_postgres_does_not_import_embedded_pg() -> None:
    tree = ast.parse(Path(postgres.__file__).read_text(encoding="utf-8"))
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {f"{n.module}.{a.name}" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module for a in n.names}
    assert not [m for m in names if "embedded_pg" in m or m.startswith("kafkaops.settings")]


def test_connect_checks_the_dsn_it_is_given_before_connecting() -> None:
    with pytest.raises(UsageError):
        postgres.connect("mysql://somewhere/db")


def test_with_table_quotes_the_schema_and_the_name() -> None:
    statement = postgres.with_table("SELECT max(id) FROM {table} WHERE id > %s", "my schema", 'we"ird')
    assert statement.as_string(None) == 'SELECT max(id) FROM "my schema"."we""ird" WHERE id > %s'


def test_insufficient_privilege_tells_permission_denied_from_other_errors() -> None:
    import psycopg

    assert postgres.insufficient_privilege(psycopg.errors.InsufficientPrivilege("permission denied for table producer_offsets"))
    assert not postgres.insufficient_privilege(psycopg.errors.UndefinedTable("relation does not exist"))
    assert not postgres.insufficient_privilege(RuntimeError("permission denied"))


def test_a_failed_connection_keeps_the_librarys_words_scrubbed_as_its_reason() -> None:
    secret = "Reason-Pw-4410"
    dsn = f"postgresql://u:{secret}@127.0.0.1:1/db"
    with pytest.raises(Exception) as info:
        postgres.connect(dsn, connect_timeout=2)
    reason = getattr(info.value, "reason", "")
    assert reason and secret not in reason and secret not in str(info.value)
