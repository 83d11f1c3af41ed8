"""cdc deploy: a task that fails with a known cause gets that cause's remedy, not just "read the logs"."""

from __future__ import annotations

from pathlib import Path

import pytest

from kafkaops.errors import KafkaopsError
from kafkaops.procedures.connect import cdc
from kafkaops.settings import load_settings

WAL_TRACE = (
    "org.apache.kafka.connect.errors.ConnectException: java.sql.SQLException: Postgres server wal_level property must be 'logical' but is: 'replica'\n"
    "\tat io.debezium.connector.postgresql.PostgresConnectorTask.start(PostgresConnectorTask.java:150)\n"
)


@pytest.mark.parametrize(
    ("trace", "hint", "runbook"), [(WAL_TRACE, "ALTER SYSTEM SET wal_level = logical", "connect debezium-wal_level"), ("boom\n", "kafkaops connect logs", None)]
)
def test_a_failed_task_is_reported_with_the_remedy_of_its_known_cause(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, trace: str, hint: str, runbook: str | None
) -> None:
    settings = load_settings(env={"KAFKAOPS_HOME": str(tmp_path)}, cwd=tmp_path)
    monkeypatch.setattr(cdc, "status", lambda *_a: cdc.CdcStatus("kafkaops-x", "RUNNING", tasks=[{"id": 0, "state": "FAILED", "trace": trace}]))
    with pytest.raises(KafkaopsError) as err:
        cdc._wait_running(settings, "http://127.0.0.1:1", "livedb", None, lambda _m: None)
    assert err.value.message == f"connector kafkaops-x failed: {trace.splitlines()[0]}"
    assert hint in (err.value.hint or "") and err.value.runbook == runbook
