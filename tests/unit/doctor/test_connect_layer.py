from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from kafkaops.adapters.replication_sql import SlotInfo
from kafkaops.doctor import FAIL, PASS, SKIP
from kafkaops.doctor import connect as layer
from kafkaops.procedures.connect import cdc
from kafkaops.settings import load_settings


@pytest.fixture
def ctx(tmp_path: Path) -> SimpleNamespace:
    return SimpleNamespace(settings=load_settings(env={"KAFKAOPS_HOME": str(tmp_path)}, cwd=tmp_path))


def test_no_connect_in_use_is_not_a_finding(ctx: SimpleNamespace) -> None:
    out = layer.check_workers(ctx)  # type: ignore[arg-type]
    assert out.status == SKIP and "not in use" in out.finding


def test_a_slot_without_a_consumer_is_named_with_its_retained_wal(ctx: SimpleNamespace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cdc, "slot_of", lambda *_a: SlotInfo("kafkaops_public_livedb_x", False, 734_000_000, 734_000_000, "0/1"))
    out = layer.check_slot(ctx)  # type: ignore[arg-type]
    assert out.status == FAIL and "kafkaops_public_livedb_x has no consumer" in out.finding and "734.0 MB of WAL retained" in out.finding
    assert "kafkaops cdc delete --yes" in (out.remedy or "")
    monkeypatch.setattr(cdc, "slot_of", lambda *_a: SlotInfo("s", True, 1_000_000, 0, "0/1"))
    assert layer.check_slot(ctx).status == PASS  # type: ignore[arg-type]


def test_a_failed_task_is_reported_with_its_traces_first_line(ctx: SimpleNamespace, monkeypatch: pytest.MonkeyPatch) -> None:
    trace = "org.apache.kafka.connect.errors.ConnectException: replication slot is active\n\tat io.debezium..."
    monkeypatch.setattr(cdc, "status", lambda *_a: cdc.CdcStatus("kafkaops-x", "RUNNING", tasks=[{"id": 0, "state": "FAILED", "trace": trace}]))
    out = layer.check_connector(ctx)  # type: ignore[arg-type]
    assert out.status == FAIL and out.finding == "connector kafkaops-x failed: org.apache.kafka.connect.errors.ConnectException: replication slot is active"


def test_a_failed_task_with_a_known_cause_deep_in_its_trace_gets_that_remedy(ctx: SimpleNamespace, monkeypatch: pytest.MonkeyPatch) -> None:
    """The trace as Connect's REST API returns it (tasks[].trace): Debezium's wrapper first, PostgreSQL's reason in a Caused by."""
    trace = (
        "io.debezium.DebeziumException: Creation of replication slot failed\n"
        "\tat io.debezium.connector.postgresql.PostgresConnectorTask.start(PostgresConnectorTask.java:315)\n"
        "Caused by: org.postgresql.util.PSQLException: ERROR: all replication slots are in use\n"
        "  Hint: Free one or increase max_replication_slots.\n"
    )
    monkeypatch.setattr(cdc, "status", lambda *_a: cdc.CdcStatus("kafkaops-x", "RUNNING", tasks=[{"id": 0, "state": "FAILED", "trace": trace}]))
    out = layer.check_connector(ctx)  # type: ignore[arg-type]
    assert out.status == FAIL and out.finding.startswith("connector kafkaops-x failed: io.debezium.DebeziumException: Creation of replication slot failed")
    assert "no free replication slot" in out.finding and "max_replication_slots" in (out.remedy or "")
    assert out.runbook == "connect debezium-replication-slots"


def test_the_connect_layers_runbook_reference_resolves(ctx: SimpleNamespace, monkeypatch: pytest.MonkeyPatch) -> None:
    """It read "failures connect", a section failures.md does not have: `kafkaops runbook` refused what doctor printed."""
    from kafkaops.procedures.runbooks import resolve

    monkeypatch.setattr(cdc, "slot_of", lambda *_a: SlotInfo("s", False, 1, 1, "0/1"))
    out = layer.check_slot(ctx)  # type: ignore[arg-type]
    assert out.runbook == "connect failures"
    resolve(out.runbook)
