"""doctor's connect.logs: each local worker's log scanned for known failures, as `connect logs` does."""

from __future__ import annotations

from pathlib import Path

from kafkaops import doctor as d
from kafkaops.doctor import FAIL, PASS, SKIP
from kafkaops.doctor.connect import check_logs
from kafkaops.procedures.connect import workers
from kafkaops.procedures.services import log_path
from kafkaops.settings import load_settings

LOGS = Path(__file__).resolve().parents[1] / "procedures" / "connect_logs"


def _ctx(tmp_path: Path, **env: str) -> d.Context:
    base = {"KAFKAOPS_HOME": str(tmp_path), "KAFKA_BROKER": "localhost:1", "ZOOKEEPER_CONNECT": "localhost:1"}
    return d.Context(load_settings(env={**base, **env}, cwd=tmp_path), canary=False)


def _worker(ctx: d.Context, n: int, log: str) -> None:
    workers.properties_path(ctx.settings, n).parent.mkdir(parents=True, exist_ok=True)
    workers.properties_path(ctx.settings, n).write_text(f"listeners=http://127.0.0.1:{18082 + n}\n")
    path = log_path(ctx.settings, workers.service(n))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(log)


def test_a_worker_that_failed_to_start_is_named_with_the_cause_from_its_log(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    assert check_logs(ctx).status == SKIP  # no worker ran here
    healthy = (LOGS / "rest_port_taken.log").read_text().splitlines(keepends=True)[0]  # a start, nothing known after it
    _worker(ctx, 1, healthy)
    out = check_logs(ctx)
    assert out.status == PASS and "1 worker(s)" in out.finding
    _worker(ctx, 2, (LOGS / "rest_port_taken.log").read_text())
    out = check_logs(ctx)
    assert out.status == FAIL and out.finding.startswith("connect-2 server.log:")
    assert out.next == "kafkaops connect logs --worker 2" and out.remedy and out.runbook and out.runbook.startswith("connect ")


def test_the_logs_of_a_remote_connect_cluster_are_not_looked_for(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, KAFKA_CONNECT_URL="http://connect.example:8083")
    _worker(ctx, 1, (LOGS / "rest_port_taken.log").read_text())
    out = check_logs(ctx)
    assert out.status == SKIP and "KAFKA_CONNECT_URL" in out.finding
