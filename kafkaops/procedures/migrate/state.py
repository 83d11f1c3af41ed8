"""The migration's state file (KAFKAOPS_HOME/migration/state.json): the phase reached, and everything a resume needs.

``phase`` is the last phase completed (1 preflight ... 5 finalized); ``status`` is in-progress,
finalized or rolled-back. It is written whole and renamed into place after every phase, so a
kafkaops killed at any moment leaves the last completed phase on disk.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kafkaops.errors import UsageError
from kafkaops.procedures.cluster_snapshot import Snapshot
from kafkaops.procedures.migrate.snapshot import snapshot_of

PHASES = 5
PHASE_NAMES = {
    1: "preflight",
    2: "provision the KRaft controller",
    3: "broker in migration mode; metadata copied to KRaft",
    4: "broker in KRaft mode (dual writes to ZooKeeper)",
    5: "finalize: controller without migration, ZooKeeper stopped",
}
IN_PROGRESS = "in-progress"
FINALIZED = "finalized"
ROLLED_BACK = "rolled-back"


@dataclass
class MigrationState:
    phase: int
    status: str
    cluster_id: str
    broker_id: int
    controller_id: int
    controller_port: int
    metadata_dir: str
    server_properties: str  # the user's, never rewritten
    zookeeper_properties: str
    zookeeper_data: str
    kafka_home: str
    configs: dict[str, str]  # role -> path of the copy migrate wrote
    before: dict[str, Any]  # the Snapshot read in phase 1 (migrate.snapshot.before_of)
    started_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    history: list[str] = field(default_factory=list)

    @property
    def snapshot(self) -> Snapshot:
        return snapshot_of(self.before)

    @property
    def in_progress(self) -> bool:
        return self.status == IN_PROGRESS

    def label(self) -> str:
        return f"migrating (phase {self.phase} of {PHASES})" if self.in_progress else self.status


def read_state(path: Path) -> MigrationState | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return MigrationState(**data)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError) as exc:
        raise UsageError(
            f"the migration state file {path} cannot be read ({exc})",
            hint=f"restore it from a backup; kafkaops never guesses the phase of a migration ({path})",
            runbook="migration resume",
        ) from None


def write_state(path: Path, state: MigrationState, note: str | None = None) -> None:
    state.updated_at = time.time()
    if note:
        state.history.append(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {note}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(asdict(state), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def migration_label(kafkaops_home: Path) -> str | None:
    """'migrating (phase N of 5)' while a migration is in progress under this home, else None (for status and doctor)."""
    try:
        state = read_state(kafkaops_home / "migration" / "state.json")
    except UsageError:
        return "migrating (state file unreadable)"
    return state.label() if state is not None and state.in_progress else None
