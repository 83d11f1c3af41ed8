from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kafkaops.adapters import replication_sql
from kafkaops.errors import RefusedError
from kafkaops.procedures.connect import cdc
from kafkaops.procedures.db_schema import Pipeline
from kafkaops.settings import load_settings


def test_names_fit_a_slot_and_differ_per_pipeline() -> None:
    a = cdc.names(Pipeline("public.livedb", "db_live_events"))
    b = cdc.names(Pipeline("public.livedb", "other"))
    long = cdc.names(Pipeline("Sales." + "x" * 80, "T.opic-1"))
    assert a.slot.startswith("kafkaops_public_livedb_db_live_events_") and a.slot != b.slot
    assert a.connector == a.slot.replace("_", "-")
    assert len(long.slot) <= 63 and all(c.isalnum() and c.islower() or c.isdigit() or c == "_" for c in long.slot)


def test_connector_config_routes_to_the_topic_and_streams_only_after_the_slot(tmp_path: Path) -> None:
    settings = load_settings(env={"KAFKAOPS_HOME": str(tmp_path)}, cwd=tmp_path)
    p = Pipeline("public.livedb", "events")
    n = cdc.names(p)
    conf = cdc.connector_config(settings, "postgresql://app:s3cret@db.example:6543/shop", p, n, from_producer=True)
    assert conf["transforms.route.replacement"] == "events" and conf["transforms.route.regex"] == ".*"
    assert conf["snapshot.mode"] == "no_data" and conf["slot.name"] == conf["publication.name"] == n.slot
    assert (conf["database.hostname"], conf["database.port"], conf["database.user"], conf["database.dbname"]) == ("db.example", "6543", "app", "shop")
    assert conf["plugin.name"] == "pgoutput" and conf["table.include.list"] == "public.livedb"
    assert cdc.connector_config(settings, "postgresql://a@h/d", p, n, from_producer=False)["snapshot.mode"] == "initial"


class FakeConn:
    def __init__(self, row: tuple[Any, ...]) -> None:
        self.row, self.executed = row, []

    def execute(self, statement: str, *_a: Any) -> FakeConn:
        self.executed.append(statement)
        return self

    def fetchone(self) -> tuple[Any, ...]:
        return self.row


@pytest.mark.parametrize(
    ("row", "embedded", "yes", "message"),
    [
        (("replica", 10, 0, True, True), False, True, "ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL"),
        (("replica", 10, 0, True, True), True, False, "rerun with --yes"),
        (("logical", 10, 0, False, False), False, False, "ALTER ROLE <user> REPLICATION"),
        (("logical", 2, 2, True, True), False, False, "max_replication_slots"),
    ],
)
def test_a_database_that_cannot_replicate_is_refused_with_the_fix(tmp_path: Path, row: tuple[Any, ...], embedded: bool, yes: bool, message: str) -> None:
    env = {"KAFKAOPS_HOME": str(tmp_path)} if embedded else {"KAFKAOPS_HOME": str(tmp_path), "DATABASE_URL": "postgresql://u@h/d"}
    conn = FakeConn(row)
    with pytest.raises(RefusedError) as info:
        cdc.check_logical(load_settings(env=env, cwd=tmp_path), conn, yes=yes)
    assert message in (info.value.hint or "")
    assert not any("ALTER SYSTEM" in s for s in conn.executed)  # nothing changed


def test_the_embedded_database_is_switched_only_with_yes(tmp_path: Path) -> None:
    conn = FakeConn(("replica", 10, 0, True, True))
    assert cdc.check_logical(load_settings(env={"KAFKAOPS_HOME": str(tmp_path)}, cwd=tmp_path), conn, yes=True) is True
    assert "ALTER SYSTEM SET wal_level = logical" in conn.executed


def test_dsn_parts_fill_libpq_defaults() -> None:
    assert replication_sql.dsn_parts("postgresql://u:p@h/d") == {"host": "h", "port": "5432", "user": "u", "password": "p", "dbname": "d"}
