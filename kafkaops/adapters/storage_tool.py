"""Kafka's StorageTool (``kafka-storage format``), run as one JVM: formats a KRaft node's dirs with a given cluster id."""

from __future__ import annotations

import subprocess
from pathlib import Path

from kafkaops.errors import ServiceFailed


def format_dirs(java: str, kafka_home: Path, config: Path, cluster_id: str, log4j_option: str, cwd: Path, timeout: float) -> str:
    """``kafka.tools.StorageTool format -t <id> -c <config> --ignore-formatted``; its output, or ServiceFailed with its last lines."""
    cmd = [
        java,
        log4j_option,
        "-cp",
        str(kafka_home / "libs" / "*"),
        "kafka.tools.StorageTool",
        "format",
        "-t",
        cluster_id,
        "-c",
        str(config.resolve()),
        "--ignore-formatted",
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=timeout, check=False)  # noqa: S603
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ServiceFailed(f"formatting {config} failed: {exc}", hint="fix what it says, then rerun the command") from None
    out = (proc.stdout or "") + (proc.stderr or "")
    if proc.returncode != 0:
        raise ServiceFailed(
            f"formatting the KRaft storage of {config} failed (StorageTool exited with {proc.returncode})",
            hint="fix what it says, then rerun the command",
            details=[ln for ln in out.splitlines() if ln.strip()][-8:],
            runbook="failures kraft-storage",
        )
    return out
