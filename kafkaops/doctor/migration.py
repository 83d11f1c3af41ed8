"""The ZooKeeper-to-KRaft migration while it is in progress: 'migrating (phase N of 5)' and its own failures.

Three failures have a name (runbooks/failures.md#migration-stuck): the controller cannot reach
ZooKeeper, the metadata migration has not started because the broker runs without the migration
configs, and (phase 4) the broker is not registered with the controller.
"""

from __future__ import annotations

from pathlib import Path

from kafkaops.doctor.context import Context
from kafkaops.doctor.registry import check
from kafkaops.doctor.results import EXTRAS_STEP, Outcome, failed, passed, warned
from kafkaops.errors import KafkaopsError

RUNBOOK = "failures migration-stuck"
ZK_UNREACHABLE = ("ZooKeeperClientTimeoutException", "Timed out waiting for connection while in state: CONNECTING")
WAITING_FOR_BROKERS = "Still waiting for ZK brokers"


@check("migration.state", EXTRAS_STEP, "host", "a ZooKeeper-to-KRaft migration in progress", applies="local", timeout=8.0)
def check_migration(ctx: Context) -> Outcome:
    from kafkaops.procedures.migrate import RESUME, ROLLBACK, paths_of
    from kafkaops.procedures.migrate.state import read_state

    try:
        state = read_state(paths_of(ctx.settings).state)
    except KafkaopsError as exc:
        return failed(exc.message, remedy=exc.hint or "", runbook=RUNBOOK)
    if state is None or not state.in_progress:
        return passed("no ZooKeeper-to-KRaft migration in progress")
    problem = _problem(ctx, state)
    if problem is not None:
        finding, remedy = problem
        return failed(f"{state.label()}: {finding}", remedy=remedy, runbook=RUNBOOK, next=RESUME)
    from kafkaops.procedures.migrate import migration_status

    st = migration_status(ctx.settings)
    return warned(state.label(), details=st.running if st else [], next=f"{RESUME} --finalize, or {ROLLBACK}", runbook=RUNBOOK)


def _problem(ctx: Context, state: object) -> tuple[str, str] | None:
    """The named failure of a migration stuck in its current phase, or None."""
    from kafkaops.adapters import zookeeper as zk
    from kafkaops.procedures.migrate import running, user_settings
    from kafkaops.procedures.migrate.configs import MIGRATION_FLAG, Paths
    from kafkaops.procedures.migrate.phases import COMPLETED_LINE
    from kafkaops.procedures.migrate.state import MigrationState
    from kafkaops.procedures.services.config import CONTROLLER, KAFKA
    from kafkaops.procedures.services.launch import read_log_since
    from kafkaops.procedures.services.pidfiles import read_pid

    assert isinstance(state, MigrationState)
    user = user_settings(ctx.settings, state)
    paths = Paths(Path(state.configs["root"]))
    ctl = running.running_config(user, CONTROLLER)
    if ctl is None:
        return ("the KRaft controller is not running", "resume the migration (it starts the controller), or roll back")
    record = read_pid(running.for_controller(user, ctl), CONTROLLER)
    log = read_log_since(Path(record.log), record.log_offset) if record else ""
    if ctl == paths.controller and COMPLETED_LINE not in log:
        host, port = zk.parse_hostport(user.zookeeper_connect)
        if any(sig in log for sig in ZK_UNREACHABLE) or zk.srvr(host, port) is None:
            return ("the controller cannot reach ZooKeeper", f"start ZooKeeper (it must serve at {user.zookeeper_connect}), then resume")
        broker = running.running_config(user, KAFKA)
        if broker is None or MIGRATION_FLAG not in broker.read_text(encoding="utf-8", errors="replace"):
            return (
                "the metadata migration has not started: the broker runs without the migration configs",
                "resume the migration: it restarts the broker on the migration config",
            )
    if running.running_config(user, KAFKA) == paths.kraft_broker:
        from kafkaops.adapters.kafka import metadata

        try:
            ids = [b.id for b in metadata(user, timeout=3.0).brokers]
        except KafkaopsError:
            ids = []
        if state.broker_id not in ids:
            return (f"the broker (node {state.broker_id}) is not registered with the controller", "read `kafkaops logs kafka`, then resume (or roll back)")
    return None
