"""Which process runs on which config during a migration, and starting/stopping them through kafkaops's own pid files.

A pid file is trusted only for the config its process really runs (pidfiles.check_pid compares the
command line with the config the settings name), so each service is handled with settings whose
``server_properties`` is the config it runs on: the user's, the migration copy, or the KRaft copy.
"""

from __future__ import annotations

from pathlib import Path

from kafkaops.procedures.migrate.configs import Paths
from kafkaops.procedures.services.config import CONTROLLER, KAFKA, ZOOKEEPER, Progress
from kafkaops.procedures.services.pidfiles import check_pid, read_pid
from kafkaops.procedures.services.shutdown import StopOutcome, _stop_one
from kafkaops.settings import Settings


def for_broker(settings: Settings, config: Path) -> Settings:
    """Settings under which a broker running ``config`` is recognised (and its split controller beside it)."""
    from kafkaops.settings import config_mode

    return settings.with_overrides(server_properties=config, mode=config_mode(config) or settings.mode)


def for_controller(settings: Settings, config: Path) -> Settings:
    """Settings under which the controller running ``config`` is recognised (controller.properties beside server.properties)."""
    return settings.with_overrides(server_properties=config.parent / "server.properties")


def running_config(settings: Settings, service: str) -> Path | None:
    """The config the live, verified process of ``service`` runs on; None when it does not run."""
    record = read_pid(settings, service)
    if record is None or not record.config:
        return None
    config = Path(record.config)
    probe = for_controller(settings, config) if service == CONTROLLER else for_broker(settings, config) if service == KAFKA else settings
    return config if check_pid(record, probe).verdict == "ours" else None


def stop(settings: Settings, service: str, progress: Progress) -> StopOutcome | None:
    """Stop ``service`` whatever config it runs on (a clean stop; the timeout fails, never kills)."""
    config = running_config(settings, service)
    if config is None:
        return None
    probe = for_controller(settings, config) if service == CONTROLLER else for_broker(settings, config) if service == KAFKA else settings
    return _stop_one(probe, service, False, progress)


def what_runs(settings: Settings, paths: Paths) -> list[str]:
    """One line per service: running on which config, or stopped (for every failure report)."""
    names = {
        str(settings.server_properties): "the user's ZooKeeper-mode config",
        str(paths.migration_broker): "the migration config",
        str(paths.kraft_broker): "the KRaft config",
        str(paths.controller): "migration mode",
        str(paths.final_controller): "finalized, no migration",
    }
    out = []
    for service, label in ((ZOOKEEPER, "ZooKeeper"), (CONTROLLER, "KRaft controller"), (KAFKA, "broker")):
        config = running_config(settings, service)
        record = read_pid(settings, service)
        if config is None:
            out.append(f"{label}: not running")
        else:
            out.append(f"{label}: running (pid {record.pid if record else '?'}) on {config} ({names.get(str(config), 'config')})")
    return out
