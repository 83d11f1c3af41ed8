"""Back to ZooKeeper mode before finalizing, as Apache Kafka 3.9's docs revert a migration:

1. a KRaft broker (phase 4) is stopped and its ``__cluster_metadata-0`` folder, which a ZooKeeper-mode
   broker must not find, is moved aside into KAFKAOPS_HOME/migration/rollback-<time>/ (kept, never deleted);
2. the controller is stopped (its metadata folder is kept);
3. ``/controller`` and ``/migration`` are deleted in ZooKeeper (zookeeper-shell's ``deleteall /controller``
   and ``delete /migration``), so that the broker becomes the ZooKeeper controller again;
4. the broker is started on the user's own config (no migration configs), and the cluster is verified.
"""

from __future__ import annotations

import time
from pathlib import Path

from kafkaops.adapters import zookeeper as zk
from kafkaops.procedures.migrate import running
from kafkaops.procedures.migrate.configs import Paths
from kafkaops.procedures.migrate.snapshot import verify
from kafkaops.procedures.migrate.state import MigrationState
from kafkaops.procedures.services.config import CONTROLLER, KAFKA, Progress, read_stack_config
from kafkaops.procedures.services.kraft_layout import METADATA_PARTITION
from kafkaops.settings import Settings


def revert(settings: Settings, state: MigrationState, progress: Progress) -> list[str]:
    """``settings`` are the user's ZooKeeper-mode stack's; returns what was done, in order."""
    from kafkaops.adapters.java import find_java
    from kafkaops.procedures.services.startup import start_broker, start_zookeeper

    paths = Paths(Path(state.configs["root"]))
    cfg = read_stack_config(settings)
    java = find_java(settings.java, settings.kafkaops_home / "cache" / "java-version.json").path
    notes = []
    if running.running_config(settings, KAFKA) not in (None, Path(state.server_properties)):
        running.stop(settings, KAFKA, progress)
        notes.append("stopped the broker (it ran on the migration's config)")
    aside = paths.root / f"rollback-{time.strftime('%Y%m%d-%H%M%S')}"
    for d in cfg.log_dirs:
        meta = d / METADATA_PARTITION
        if meta.exists():
            aside.mkdir(parents=True, exist_ok=True)
            meta.replace(aside / f"{d.name}-{METADATA_PARTITION}")
            notes.append(f"moved {meta} (the KRaft broker's metadata log) to {aside} (kept)")
    if running.stop(settings, CONTROLLER, progress) is not None:
        notes.append(f"stopped the KRaft controller; its metadata folder {state.metadata_dir} is kept")
    start_zookeeper(settings, cfg, java, progress)
    broker_up = running.running_config(settings, KAFKA) is not None  # only before phase 3: the broker never left ZooKeeper mode
    with zk.connect(cfg.broker_zk_connect) as client:
        for path in ("/controller", "/migration"):
            if path == "/controller" and broker_up and zk.controller_id(client) != state.controller_id:
                continue  # the ZooKeeper broker is the controller: leave it
            if zk.delete_tree(client, path):
                notes.append(f"deleted the {path} znode (as the documented revert does)")
    if not broker_up:
        start_broker(settings, cfg, java, progress)
        notes.append(f"started the broker on {state.server_properties} (ZooKeeper mode)")
    progress("verifying topics, partitions and group offsets")
    verify(settings, state.snapshot, phase=state.phase, timeout=settings.start_timeout)
    return notes
