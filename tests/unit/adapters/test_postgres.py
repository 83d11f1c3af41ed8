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
