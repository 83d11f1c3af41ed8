"""Phases 2-5 on the real services, each waiting on a condition, each verified, each recorded in the state file.

Every phase can be run again after an interruption: what is already done (a formatted dir, a
process running on the right config) is recognised and left as it is.
"""

from __future__ import annotations

import time
from pathlib import Path

from kafkaops.adapters import zookeeper as zk
from kafkaops.adapters.javaprops import read_properties, write_properties
from kafkaops.errors import ServiceFailed
from kafkaops.procedures.migrate import configs, running
from kafkaops.procedures.migrate.configs import Paths
from kafkaops.procedures.migrate.snapshot import verify
from kafkaops.procedures.migrate.state import MigrationState
from kafkaops.procedures.services.config import CONTROLLER, KAFKA, POLL, ZOOKEEPER, Progress, read_stack_config
from kafkaops.procedures.services.launch import read_log_since
from kafkaops.procedures.services.pidfiles import log_path, read_pid
from kafkaops.settings import Settings

COMPLETED_LINE = "Completed migration of metadata from ZooKeeper to KRaft"
HEADER = "Written by kafkaops migrate from {user}: a copy; the user's own config is never rewritten"


def write_copies(settings: Settings, state: MigrationState) -> None:
    """The four configs of the migration, from the user's server.properties (written at phase 1, read-only after)."""
    paths = Paths(Path(state.configs["root"]))
    broker = dict(read_properties(Path(state.server_properties)).values)
    kw = {"controller_id": state.controller_id, "controller_port": state.controller_port}
    cfg = read_stack_config(settings)
    meta = Path(state.metadata_dir)
    header = HEADER.format(user=state.server_properties)
    write_properties(paths.controller, configs.controller_config(broker, metadata_dir=meta, zk_connect=cfg.broker_zk_connect, migration=True, **kw), header)
    write_properties(paths.migration_broker, configs.migration_broker_config(broker, **kw), header)
    write_properties(paths.kraft_broker, configs.kraft_broker_config(broker, **kw), header)
    write_properties(
        paths.final_controller, configs.controller_config(broker, metadata_dir=meta, zk_connect=cfg.broker_zk_connect, migration=False, **kw), header
    )


def log4j_option(settings: Settings) -> str:
    from kafkaops.procedures.services import launch

    return launch.log4j_option(settings, settings.kafka_home)


def start_kraft(settings: Settings, config: Path, service: str, java: str, progress: Progress) -> None:
    """Start (or wait for, when it already runs) one KRaft node on ``config`` with kafkaops's KRaft readiness checks."""
    from kafkaops.procedures.services import kraft

    s = running.for_controller(settings, config) if service == CONTROLLER else running.for_broker(settings, config)
    node = kraft.read_node(s, config, service)
    kraft.start_node(s, kraft.KraftLayout((node,)), node, java, progress)


def phase2(settings: Settings, state: MigrationState, java: str, progress: Progress) -> None:
    """Provision the controller: format with the existing cluster id, start, wait until it leads the quorum."""
    from kafkaops.adapters.storage_tool import format_dirs
    from kafkaops.procedures.services.kraft_layout import dir_state

    paths = Paths(Path(state.configs["root"]))
    meta = dir_state(Path(state.metadata_dir))
    if meta.state == "formatted" and meta.cluster_id != state.cluster_id:
        raise ServiceFailed(
            f"{state.metadata_dir} is formatted for cluster {meta.cluster_id}, not {state.cluster_id}", hint="move that folder away, then resume"
        )
    if meta.state != "formatted" and running.running_config(settings, CONTROLLER) is None:
        progress(f"formatting {state.metadata_dir} with cluster id {state.cluster_id}")
        Path(state.metadata_dir).mkdir(parents=True, exist_ok=True)
        settings.logs_dir.mkdir(parents=True, exist_ok=True)
        format_dirs(java, settings.kafka_home, paths.controller, state.cluster_id, log4j_option(settings), settings.kafkaops_home, settings.start_timeout)
    start_kraft(settings, paths.controller, CONTROLLER, java, progress)


def restart_broker(settings: Settings, target: Path, java: str, progress: Progress) -> None:
    """Stop the broker unless it runs on ``target``, then start it on ``target`` (ZooKeeper mode or KRaft, as the config says)."""
    from kafkaops.procedures.services.startup import start_broker

    if running.running_config(settings, KAFKA) not in (None, target):
        running.stop(settings, KAFKA, progress)
    s = running.for_broker(settings, target)
    if s.kraft:
        start_kraft(settings, target, KAFKA, java, progress)
    else:
        start_broker(s, read_stack_config(s), java, progress)


def wait_migrated(settings: Settings, state: MigrationState, progress: Progress) -> None:
    """The controller's log says the metadata migration completed, and /migration in ZooKeeper names this controller."""
    record = read_pid(running.for_controller(settings, Paths(Path(state.configs["root"])).controller), CONTROLLER)
    log = Path(record.log) if record else log_path(settings, CONTROLLER)
    offset = record.log_offset if record else 0
    progress(f"waiting for the controller's log line '{COMPLETED_LINE}' and the /migration znode")
    deadline = time.monotonic() + settings.start_timeout
    cfg = read_stack_config(settings)
    with zk.connect(cfg.broker_zk_connect) as client:
        while True:
            done = COMPLETED_LINE in read_log_since(log, offset)
            znode = zk.migration_znode(client) if done else None
            if znode is not None and znode.get("kraft_controller_id") == state.controller_id:
                return
            if time.monotonic() > deadline:
                raise ServiceFailed(
                    f"the controller did not complete the metadata migration within {settings.start_timeout:g}s"
                    + (" (its log says it did, but /migration in ZooKeeper does not name it)" if done else ""),
                    hint="read its log (`kafkaops logs controller`): a broker without the migration configs, or a controller that cannot reach ZooKeeper",
                    runbook="migration phase-3-the-broker-with-the-migration-configs",
                )
            time.sleep(POLL * 4)


def phase3(settings: Settings, state: MigrationState, java: str, progress: Progress) -> None:
    paths = Paths(Path(state.configs["root"]))
    restart_broker(settings, paths.migration_broker, java, progress)
    wait_migrated(settings, state, progress)
    progress("verifying topics, partitions and group offsets")
    verify(settings, state.snapshot, phase=3, timeout=settings.start_timeout)


def phase4(settings: Settings, state: MigrationState, java: str, progress: Progress) -> None:
    paths = Paths(Path(state.configs["root"]))
    restart_broker(settings, paths.kraft_broker, java, progress)
    progress("verifying topics, partitions and group offsets")
    verify(settings, state.snapshot, phase=4, timeout=settings.start_timeout)


def phase5(settings: Settings, state: MigrationState, java: str, progress: Progress) -> None:
    """Finalize: the controller restarted without the migration configs, verified, then ZooKeeper stopped (its data untouched)."""
    from kafkaops.procedures.services.kraft_layout import read_layout, record_cluster

    paths = Paths(Path(state.configs["root"]))
    if running.running_config(settings, CONTROLLER) not in (None, paths.final_controller):
        running.stop(settings, CONTROLLER, progress)
    start_kraft(settings, paths.final_controller, CONTROLLER, java, progress)
    progress("verifying topics, partitions and group offsets")
    verify(settings, state.snapshot, phase=5, timeout=settings.start_timeout)
    running.stop(settings, ZOOKEEPER, progress)
    kraft = running.for_broker(settings, paths.kraft_broker)
    record_cluster(kraft, read_layout(kraft), state.cluster_id)


def ensure_running(settings: Settings, state: MigrationState, java: str, progress: Progress) -> None:
    """On resume, what the last completed phase left running is started again if it stopped (a reboot, a crash).

    Only a service that does not run at all is started, on the config of the last completed phase; one
    that runs (on whatever config) is left to the next phase, which knows how to switch it.
    """
    from kafkaops.procedures.services.startup import start_zookeeper

    paths = Paths(Path(state.configs["root"]))
    start_zookeeper(settings, read_stack_config(settings), java, progress)
    if state.phase >= 2 and running.running_config(settings, CONTROLLER) is None:
        start_kraft(settings, paths.controller, CONTROLLER, java, progress)
    broker = {1: Path(state.server_properties), 2: Path(state.server_properties), 3: paths.migration_broker}.get(state.phase, paths.kraft_broker)
    if running.running_config(settings, KAFKA) is None:
        restart_broker(settings, broker, java, progress)
