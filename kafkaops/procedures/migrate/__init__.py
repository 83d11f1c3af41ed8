"""kafkaops migrate --to kraft: the local ZooKeeper-mode stack (Kafka 3.9.x) moved to KRaft, phase by phase.

Phases (Apache Kafka 3.9, "ZooKeeper to KRaft Migration"; KIP-866): 1 preflight, 2 a KRaft controller
in migration mode, 3 the broker with the migration configs (the controller copies the metadata), 4
the broker as a KRaft broker, 5 finalize (only when asked). The state file records the last phase
completed, so a second run resumes; ``rollback`` returns to ZooKeeper mode before finalizing.
Nothing is ever deleted: the user's configs are copied, ZooKeeper's data folder stays as it is.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kafkaops.errors import KafkaopsError, RefusedError
from kafkaops.procedures.migrate import phases as ph
from kafkaops.procedures.migrate import running
from kafkaops.procedures.migrate.configs import Paths
from kafkaops.procedures.migrate.plan import Check, MigrationPlan, build_plan, refuse
from kafkaops.procedures.migrate.snapshot import before_of, read_snapshot
from kafkaops.procedures.migrate.state import FINALIZED, IN_PROGRESS, PHASE_NAMES, PHASES, ROLLED_BACK, MigrationState, migration_label, read_state, write_state
from kafkaops.procedures.services.config import Progress, _noop
from kafkaops.procedures.services.shutdown import StopOutcome
from kafkaops.settings import Settings
from kafkaops.stack_record import write_stack_record

__all__ = [
    "MigrationPlan",
    "MigrationStatus",
    "migration_status",
    "MigrationResult",
    "migrate",
    "migration_label",
    "plan",
    "paths_of",
    "rollback",
    "stop_during_migration",
]

RESUME = "kafkaops migrate --to kraft"
ROLLBACK = "kafkaops migrate --rollback"


@dataclass
class MigrationResult:
    phase: int
    status: str
    ran: list[int] = field(default_factory=list)  # the phases this run carried out
    seconds: float = 0.0
    running: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    next: str | None = None
    state_file: str = ""


def paths_of(settings: Settings) -> Paths:
    return Paths(settings.kafkaops_home / "migration")


def stack_health(settings: Settings, failures: list[tuple[str, str]]) -> Check:
    """Phase 1's first check from doctor's failures (check id, finding): those of the cluster's layers refuse."""
    if settings.kraft:
        return Check("stack healthy", False, f"{settings.server_properties} is already a KRaft config: there is nothing to migrate")
    if failures:
        return Check("stack healthy", False, f"doctor: {failures[0][0]}: {failures[0][1]} (run `kafkaops doctor`)")
    return Check("stack healthy", True, "doctor finds no failure in ZooKeeper, the broker, the topic, the configuration, the logs or the host")


HealthCheck = Callable[[Settings], Check]


def plan(settings: Settings, health_check: HealthCheck, controller_port: int | None = None) -> MigrationPlan:
    """Phase 1's checks and the whole plan; reads ZooKeeper and runs ``health`` (doctor), changes nothing."""
    from kafkaops.adapters import zookeeper as zk
    from kafkaops.procedures.services.config import read_stack_config

    health = health_check(settings)
    cluster_id, others = None, []
    if not settings.kraft:
        cfg = read_stack_config(settings)
        try:
            with zk.connect(cfg.broker_zk_connect) as client:
                cluster_id = zk.cluster_id(client)
                others = [b for b in zk.broker_ids(client) if b != cfg.broker_id]
        except KafkaopsError as exc:
            health = Check("stack healthy", False, exc.message)
    return build_plan(settings, cluster_id=cluster_id, other_brokers=others, healthy=health, controller_port=controller_port)


def _begin(settings: Settings, health_check: HealthCheck, controller_port: int | None, progress: Progress) -> MigrationState:
    progress("phase 1: preflight")
    p = plan(settings, health_check, controller_port)
    if p.refusals:
        raise refuse(p)
    assert p.cluster_id is not None
    progress("phase 1: reading topics, partitions and group offsets")
    state = MigrationState(
        phase=1,
        status=IN_PROGRESS,
        cluster_id=p.cluster_id,
        broker_id=p.broker_id,
        controller_id=p.controller_id,
        controller_port=p.controller_port,
        metadata_dir=str(p.metadata_dir),
        server_properties=str(settings.server_properties),
        zookeeper_properties=str(settings.zookeeper_properties),
        zookeeper_data=str(p.zookeeper_data),
        kafka_home=str(settings.kafka_home),
        configs={
            "root": str(p.paths.root),
            "controller": str(p.paths.controller),
            "migration_broker": str(p.paths.migration_broker),
            "kraft_broker": str(p.paths.kraft_broker),
            "final_controller": str(p.paths.final_controller),
        },
        before=before_of(read_snapshot(settings)),
    )
    ph.write_copies(settings, state)
    write_state(p.paths.state, state, "phase 1 (preflight) completed")
    return state


def user_settings(settings: Settings, state: MigrationState) -> Settings:
    """The settings of the user's ZooKeeper-mode stack the migration started from (whatever the stack record says now)."""
    return settings.with_overrides(
        server_properties=Path(state.server_properties),
        zookeeper_properties=Path(state.zookeeper_properties),
        kafka_home=Path(state.kafka_home),
        mode="zookeeper",
    )


def migrate(
    settings: Settings, health_check: HealthCheck, *, finalize: bool, controller_port: int | None = None, progress: Progress = _noop
) -> MigrationResult:
    """Run (or resume) the migration up to phase 4, or 5 with ``finalize``; every failure names the phase, what runs and the next command."""
    from kafkaops.adapters.java import find_java
    from kafkaops.procedures.services.pidfiles import stack_lock

    t0 = time.monotonic()
    paths = paths_of(settings)
    with stack_lock(settings, "migrate", progress):
        state = read_state(paths.state)
        if state is not None and state.status == FINALIZED:
            return MigrationResult(PHASES, FINALIZED, notes=["the migration was finalized already: nothing to do"], state_file=str(paths.state))
        if state is not None and state.status == ROLLED_BACK:
            paths.state.replace(paths.state.with_name(f"state.rolled-back-{int(state.updated_at)}.json"))
            state = None
        if state is None:
            state = _begin(settings, health_check, controller_port, progress)
        user = user_settings(settings, state)
        java = find_java(user.java, user.kafkaops_home / "cache" / "java-version.json").path
        steps: dict[int, Callable[[Settings, MigrationState, str, Progress], None]] = {2: ph.phase2, 3: ph.phase3, 4: ph.phase4, 5: ph.phase5}
        result = MigrationResult(state.phase, IN_PROGRESS, state_file=str(paths.state))
        last = PHASES if finalize else 4
        if state.phase > 1:
            progress(f"resuming after phase {state.phase}: starting what it left running, if it stopped")
            try:
                ph.ensure_running(user, state, java, progress)
            except KafkaopsError as exc:
                raise _stopped(exc, user, state, state.phase + 1) from None
        for n in range(state.phase + 1, last + 1):
            progress(f"phase {n}: {PHASE_NAMES[n]}")
            try:
                steps[n](user, state, java, progress)
            except KafkaopsError as exc:
                raise _stopped(exc, user, state, n) from None
            state.phase = n
            if n == PHASES:
                state.status = FINALIZED
                _record_stack(settings, state, result)
            write_state(paths.state, state, f"phase {n} ({PHASE_NAMES[n]}) completed")
            result.ran.append(n)
        result.phase, result.status = state.phase, state.status
        result.running = running.what_runs(user, paths)
        result.seconds = round(time.monotonic() - t0, 1)
        if state.status == IN_PROGRESS:
            result.next = f"kafkaops migrate --to kraft --finalize (cannot be undone), or {ROLLBACK}"
        return result


def _record_stack(settings: Settings, state: MigrationState, result: MigrationResult) -> None:
    from kafkaops.procedures.services.config import kafka_version

    paths = Paths(Path(state.configs["root"]))
    record = write_stack_record(
        settings.kafkaops_home,
        {"server_properties": state.configs["kraft_broker"], "kafka_home": state.kafka_home, "kafka_version": kafka_version(Path(state.kafka_home))},
    )
    result.notes.append(f"the stack record {record} now points at {paths.kraft_broker} (KRaft split layout, controller {paths.final_controller})")
    result.notes.append(f"ZooKeeper is stopped; its data folder {state.zookeeper_data} is left untouched (`kafkaops reset` may empty it later)")
    for var, name, value in (
        ("KAFKAOPS_SERVER_PROPERTIES", "server_properties", state.configs["kraft_broker"]),
        ("KAFKA_HOME", "kafka_home", state.kafka_home),
    ):
        if settings.sources.get(name) in ("env", ".env", "flag") and str(getattr(settings, name)) != value:
            result.notes.append(f"{var} is set ({settings.sources[name]}) and overrides the stack record: unset it so that kafkaops uses the migrated stack")


def _stopped(exc: KafkaopsError, settings: Settings, state: MigrationState, phase: int) -> KafkaopsError:
    """The failure, with the phase reached, what runs, and the exact next command."""
    exc.details = [
        *exc.details,
        f"the migration stopped in phase {phase} ({PHASE_NAMES[phase]}); phase {state.phase} was the last completed",
        *running.what_runs(settings, paths_of(settings)),
    ]
    again = RESUME + (" --finalize" if phase == PHASES else "")
    exc.hint = f"{exc.hint + '; then ' if exc.hint else ''}resume with `{again}`" + (
        f", or return to ZooKeeper mode with `{ROLLBACK}`" if phase < PHASES else ""
    )
    exc.runbook = exc.runbook or "migration resume"
    return exc


def rollback(settings: Settings, progress: Progress = _noop) -> MigrationResult:
    from kafkaops.procedures.migrate.rollback import revert

    paths = paths_of(settings)
    state = read_state(paths.state)
    if state is None:
        raise RefusedError("no migration to roll back: there is no state file", hint=f"nothing to do ({paths.state} does not exist)")
    if state.status == FINALIZED:
        raise RefusedError(
            "the migration was finalized: it cannot be rolled back",
            hint="ZooKeeper's data is kept but no longer current; see `kafkaops runbook migration finalize`",
            runbook="migration finalize",
        )
    if state.status == ROLLED_BACK:
        return MigrationResult(state.phase, ROLLED_BACK, notes=["the migration was rolled back already"], state_file=str(paths.state))
    t0 = time.monotonic()
    from kafkaops.procedures.services.pidfiles import stack_lock

    user = user_settings(settings, state)
    with stack_lock(settings, "migrate", progress):
        notes = revert(user, state, progress)
        state.status = ROLLED_BACK
        write_state(paths.state, state, f"rolled back from phase {state.phase}")
    return MigrationResult(
        state.phase, ROLLED_BACK, notes=notes, seconds=round(time.monotonic() - t0, 1), running=running.what_runs(user, paths), state_file=str(paths.state)
    )


@dataclass
class MigrationStatus:
    label: str  # migrating (phase N of 5)
    phase: int | None
    state_file: str
    running: list[str]


def migration_status(settings: Settings) -> MigrationStatus | None:
    """While a migration is in progress: its label ('migrating (phase N of 5)'), phase, and what runs on which config."""
    paths = paths_of(settings)
    label = migration_label(settings.kafkaops_home)
    if label is None:
        return None
    state = read_state(paths.state)
    user = user_settings(settings, state) if state is not None else settings
    return MigrationStatus(label, state.phase if state else None, str(paths.state), running.what_runs(user, paths))


def stop_during_migration(settings: Settings, progress: Progress = _noop) -> list[StopOutcome]:
    """`kafkaops down` in the middle of a migration: the broker, the controller, then ZooKeeper, whatever config each runs on."""
    from kafkaops.procedures.services.config import CONTROLLER, KAFKA, ZOOKEEPER
    from kafkaops.procedures.services.pidfiles import stack_lock

    state = read_state(paths_of(settings).state)
    user = user_settings(settings, state) if state is not None else settings
    out = []
    with stack_lock(settings, "down", progress):
        for service in (KAFKA, CONTROLLER, ZOOKEEPER):
            stopped = running.stop(user, service, progress)
            out.append(stopped or StopOutcome(service, "not-running"))
    return out
