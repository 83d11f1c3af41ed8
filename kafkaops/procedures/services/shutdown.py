"""down: the broker first, waited for until its clean shutdown, then ZooKeeper."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from kafkaops.adapters import processes
from kafkaops.errors import RefusedError, ServiceFailed
from kafkaops.procedures.services.config import (
    KAFKA,
    KRAFT_SHUTDOWN_LINE,
    POSTGRES,
    SHUTDOWN_LINE,
    ZOOKEEPER,
    Progress,
    StackConfig,
    probe_host,
)
from kafkaops.procedures.services.launch import read_log_since
from kafkaops.procedures.services.pidfiles import SERVICE_LABEL, check_pid, read_pid, remove_pid
from kafkaops.procedures.services.state import owner_label
from kafkaops.settings import Settings


@dataclass
class StopOutcome:
    service: str
    action: str  # stopped | forced | not-running | stale-pid-file-removed | foreign-left-running | pid-file-mismatch
    pid: int | None = None
    seconds: float = 0.0
    clean: bool | None = None
    detail: str | None = None


@dataclass
class DownResult:
    services: list[StopOutcome]


def _stop_one(settings: Settings, service: str, force: bool, progress: Progress) -> StopOutcome:
    record = read_pid(settings, service)
    check = check_pid(record, settings)
    if check.verdict == "mismatch":
        assert record is not None
        return StopOutcome(service, "pid-file-mismatch", record.pid, detail=check.detail)
    proc = check.proc if check.verdict == "ours" else None
    if proc is None or record is None:
        if record is not None:
            remove_pid(settings, record)
            return StopOutcome(
                service, "stale-pid-file-removed", record.pid if record.pid > 0 else None, detail="its process was already gone; nothing was signalled"
            )
        return StopOutcome(service, "not-running")
    log = Path(record.log)
    offset = log.stat().st_size if log.exists() else 0
    t0 = time.monotonic()
    label = {KAFKA: "the Kafka broker", ZOOKEEPER: "ZooKeeper"}.get(service, "the KRaft controller")
    progress(f"stopping {label} (pid {proc.pid})")
    processes.request_stop(proc.pid, proc.create_time)
    exited = processes.wait_exit(proc.pid, proc.create_time, settings.stop_timeout)
    if not exited:
        if not force:
            raise ServiceFailed(
                f"{label} (pid {proc.pid}) did not stop within {settings.stop_timeout:g}s",
                hint="run `kafkaops down --force` to kill it (Kafka will recover its logs at the next start)",
                runbook="failures unclean-shutdown",
            )
        processes.kill(proc.pid, proc.create_time)
        processes.wait_exit(proc.pid, proc.create_time, 10)
        remove_pid(settings, record)
        return StopOutcome(
            service,
            "forced",
            proc.pid,
            round(time.monotonic() - t0, 2),
            clean=False,
            detail=f"killed after {settings.stop_timeout:g}s without a clean shutdown",
        )
    remove_pid(settings, record)
    clean = True
    if service == KAFKA:  # ZooKeeper mode, or KRaft (a combined node or the split layout's broker)
        text = read_log_since(log, offset)
        clean = SHUTDOWN_LINE in text or KRAFT_SHUTDOWN_LINE in text
    return StopOutcome(
        service,
        "stopped",
        proc.pid,
        round(time.monotonic() - t0, 2),
        clean=clean,
        detail=None if clean else "the broker exited without logging a clean shutdown",
    )


def _done(outcome: StopOutcome) -> str:
    name = SERVICE_LABEL.get(outcome.service, "embedded PostgreSQL")
    what = {"stopped": "stopped", "forced": "killed", "not-running": "was not running", "stale-pid-file-removed": "was not running (stale pid file removed)"}
    return f"{name} {what.get(outcome.action, outcome.action)}" + (f" (pid {outcome.pid})" if outcome.pid and outcome.action in ("stopped", "forced") else "")


def _down(settings: Settings, cfg: StackConfig, progress: Progress, *, force: bool) -> DownResult:
    result = DownResult([])
    broker = _stop_one(settings, KAFKA, force, progress)
    result.services.append(broker)
    # Never stop ZooKeeper under a live broker: it could not unregister and would leave a ghost.
    refuse_under_a_live_broker(result, ZOOKEEPER, cfg.listeners[0].host, cfg.listeners[0].port, "ZooKeeper was left running so that it can unregister cleanly")
    result.services.append(_stop_one(settings, ZOOKEEPER, force, progress))
    stop_embedded_db(settings, result, progress)
    return result


def refuse_under_a_live_broker(result: DownResult, service: str, host: str, port: int, why_left: str) -> None:
    """Never stop ``service`` (ZooKeeper, or the KRaft controller) under a broker that still answers:
    record it as left running and refuse, naming who holds the broker's port."""
    if not processes.port_open(probe_host(host), port):
        return
    owner = processes.port_owner(port)
    result.services.append(StopOutcome(service, "foreign-left-running", detail="left running because a broker is still alive"))
    raise RefusedError(
        f"a broker kafkaops did not start is still running on port {port}" + (f" ({owner_label(owner)})" if owner else ""),
        hint=f"stop that broker first; {why_left}",
        runbook="failures foreign-process",
    )


def stop_embedded_db(settings: Settings, result: DownResult, progress: Progress) -> None:
    """The embedded PostgreSQL last, when kafkaops runs it (DATABASE_URL unset)."""
    if settings.database_url is None and settings.embedded_db:
        from kafkaops.adapters import embedded_pg

        t0 = time.monotonic()
        progress("stopping the embedded PostgreSQL")
        was_running = embedded_pg.stop(settings)
        result.services.append(StopOutcome(POSTGRES, "stopped" if was_running else "not-running", seconds=round(time.monotonic() - t0, 2), clean=True))
