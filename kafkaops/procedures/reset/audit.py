"""The audit log: one JSON line per reset attempt."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from kafkaops.procedures.reset.plan import AUDIT_FILE, ResetPlan
from kafkaops.settings import Settings

if TYPE_CHECKING:
    from kafkaops.procedures.reset.carry_out import ResetResult


def audit_path(settings: Settings) -> Path:
    return settings.kafkaops_home / AUDIT_FILE


def audit(settings: Settings, plan: ResetPlan, result: ResetResult | None, outcome: str, reason: str | None = None) -> Path:
    """Append one JSON line for a reset attempt: when, what was deleted and backed up, the offset, the outcome."""
    path = audit_path(settings)
    record = {
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "outcome": outcome,
        "reason": reason,
        "user": _user(),
        "pid": os.getpid(),
        "planned": [{"role": d.role, "path": d.real, "size_bytes": d.size_bytes, "files": d.files + d.links} for d in plan.dirs],
        "deleted": [asdict(e) for e in result.emptied] if result else [],
        "backups": [asdict(b) for b in result.backups] if result else [],
        "offset_rewound": bool(result and result.offset_rewound),
        "offset_before": result.offset_before if result else None,
        "restarted": bool(result and result.restarted),
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, default=str) + "\n")
    except OSError:
        pass  # never hide the reset's own outcome behind a failure to log it
    return path


def _user() -> str | None:
    try:
        import getpass

        return getpass.getuser()
    except Exception:  # no user name in this environment
        return None
