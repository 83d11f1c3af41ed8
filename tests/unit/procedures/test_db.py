"""The producer-lock probe of procedures/db, against a stand-in connection (the real lock: tests/integration)."""

from __future__ import annotations

from typing import Any

import pytest

from kafkaops.errors import ExitCode, RefusedError
from kafkaops.procedures import db

PIPELINE = db.Pipeline("public.livedb", "db-live-events")


class _Rows:
    def __init__(self, row: Any) -> None:
        self.row = row

    def fetchone(self) -> Any:
        return self.row


class FakeConn:
    """Answers the three lock statements; `held_by` is the other session holding the lock, if any."""

    def __init__(self, held_by: tuple[int, str] | None = None) -> None:
        self.held_by = held_by
        self.calls: list[str] = []

    def execute(self, sql: str, params: Any = None) -> _Rows:
        if "pg_try_advisory_lock" in sql:
            self.calls.append("try")
            return _Rows((self.held_by is None,))
        if "pg_advisory_unlock" in sql:
            self.calls.append("unlock")
            return _Rows((True,))
        self.calls.append("holder")
        return _Rows(self.held_by)


def test_take_lock_takes_it_when_free() -> None:
    conn = FakeConn()
    db.take_lock(conn, PIPELINE, 1)
    assert conn.calls == ["try"]


def test_take_lock_refuses_naming_the_holder() -> None:
    conn = FakeConn(held_by=(4242, "kafkaops-produce"))
    with pytest.raises(RefusedError) as info:
        db.take_lock(conn, PIPELINE, 1)
    assert info.value.message == (
        "a producer is running for public.livedb -> db-live-events (database session pid 4242, kafkaops-produce): it holds that pipeline's producer lock"
    )
    assert info.value.exit_code == ExitCode.REFUSED


def test_take_lock_with_the_callers_own_refusal() -> None:
    def refuse(pipeline: db.Pipeline, holder: str) -> RefusedError:
        return RefusedError(f"busy: {pipeline}{holder}")

    with pytest.raises(RefusedError, match=r"^busy: public.livedb -> db-live-events \(database session pid 7, no application_name\)$"):
        db.take_lock(FakeConn(held_by=(7, "")), PIPELINE, 1, refuse=refuse)


def test_ensure_no_producer_probes_and_releases() -> None:
    conn = FakeConn()
    db.ensure_no_producer(conn, PIPELINE, 1)
    assert conn.calls == ["try", "unlock"]
    busy = FakeConn(held_by=(9, "kafkaops-produce"))
    with pytest.raises(RefusedError):
        db.ensure_no_producer(busy, PIPELINE, 1)
    assert busy.calls == ["try", "holder"]  # nothing to release: it was never taken
