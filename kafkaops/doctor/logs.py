"""Step 8 of the checklist: the services' logs."""

from __future__ import annotations

from pathlib import Path

from kafkaops.doctor.context import Context
from kafkaops.doctor.registry import check
from kafkaops.doctor.results import FAIL, LOG_TAIL_BYTES, WARN, Outcome, passed, skipped
from kafkaops.procedures import services, signatures


def read_tail(path: Path, max_bytes: int = LOG_TAIL_BYTES) -> tuple[str, int]:
    """The last ``max_bytes`` of a log (from a line start) and the file line number its first line has."""
    with open(path, "rb") as fh:
        size = fh.seek(0, 2)
        start = max(0, size - max_bytes)
        first_line = 1
        if start:
            fh.seek(0)
            remaining = start
            while remaining > 0:
                chunk = fh.read(min(remaining, 8 * 1024 * 1024))
                if not chunk:
                    break
                first_line += chunk.count(b"\n")
                remaining -= len(chunk)
        fh.seek(start)
        data = fh.read()
    if start:
        cut = data.find(b"\n")
        data = data[cut + 1 :] if cut >= 0 else b""
        first_line += 1 if cut >= 0 else 0
    return data.decode("utf-8", "replace"), first_line


def last_run(text: str, first_line: int) -> tuple[str, int]:
    """The part of a log since the service's last start marker (older runs' failures are history)."""
    return signatures.last_run(text, first_line)


def scan_log(path: Path) -> list[signatures.Finding]:
    text, first = read_tail(path)
    text, first = last_run(text, first)
    return signatures.scan(text, first_line=first)


def check_log(ctx: Context, service: str, logs_command: str | None = None) -> Outcome:
    """A service's log since its last start: FAIL on a known error, WARN on a known warning, else PASS."""
    logs_command = logs_command or f"kafkaops logs {service}"
    path = services.log_path(ctx.settings, service)
    if not path.is_file():
        return skipped(f"no log at {path}: kafkaops never started {service} here", kind="not-configured")
    findings = scan_log(path)
    items = [
        {
            "file": str(path),
            "line": f.line_no,
            "time": f.timestamp,
            "signature": f.id,
            "severity": f.signature.severity,
            "title": f.signature.title,
            "text": f.text[:300],
            "remedy": f.signature.remedy,
            "runbook": f.signature.runbook,
        }
        for f in findings
    ]
    details = [f"{path.name}:{i['line']} [{i['time'] or '?'}] {i['title']}: {i['remedy']} (see: kafkaops runbook {i['runbook']})" for i in items]
    errors = [f for f in findings if f.signature.severity == "error"]
    if errors:
        f = errors[0]
        return Outcome(
            FAIL,
            f"{path.name}:{f.line_no} at {f.timestamp or '?'}: {f.signature.title} ({len(findings)} finding(s) since the last start)",
            details,
            f.signature.remedy,
            f.signature.runbook,
            logs_command,
            {"file": str(path), "findings": items},
        )
    if findings:
        f = findings[0]
        return Outcome(
            WARN,
            f"{path.name}:{f.line_no} at {f.timestamp or '?'}: {f.signature.title}",
            details,
            f.signature.remedy,
            f.signature.runbook,
            logs_command,
            {"file": str(path), "findings": items},
        )
    return passed(f"no known failure signature in {path.name} since the last start", data={"file": str(path), "findings": []})


@check("logs.zookeeper", 8, "logs", "ZooKeeper log: known failures since the last start", local="zookeeper", applies="local")
def check_zookeeper_log(ctx: Context) -> Outcome:
    return check_log(ctx, services.ZOOKEEPER)


@check("logs.broker", 8, "logs", "broker log: known failures since the last start", local="broker", applies="local")
def check_broker_log(ctx: Context) -> Outcome:
    return check_log(ctx, services.KAFKA)
