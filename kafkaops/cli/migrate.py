"""kafkaops migrate: the plan goes to stdout (it is the data of a dry run), progress and results to stderr."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from kafkaops.procedures.migrate import MigrationPlan, MigrationResult
    from kafkaops.procedures.migrate.plan import Check
    from kafkaops.settings import Settings


def register(app: typer.Typer) -> None:
    app.command("migrate")(migrate)


def render_plan(plan: MigrationPlan) -> list[str]:
    lines = ["kafkaops migrate plan: ZooKeeper mode -> KRaft (nothing has been changed)", "", "Phase 1 preflight checks:"]
    lines += [f"  [{'ok' if c.ok else 'REFUSED'}] {c.name}: {c.detail}" for c in plan.checks]
    for phase in plan.phases:
        lines += ["", f"Phase {phase.number}: {phase.title}"] + [f"  - {s}" for s in phase.steps]
        for path, diff in phase.diffs.items():
            lines += [f"  config {path}:"] + [f"    {ln}" for ln in diff]
    return lines


def _render_result(result: MigrationResult) -> None:
    from kafkaops import ui

    for note in result.notes:
        ui.info(note)
    for line in result.running:
        ui.info(line)
    if result.status == "finalized":
        ui.success(f"migration finalized: the stack runs in KRaft mode ({result.seconds:.1f}s this run)")
    elif result.status == "rolled-back":
        ui.success(f"rolled back to ZooKeeper mode from phase {result.phase} ({result.seconds:.1f}s)")
    else:
        ui.success(f"migrating (phase {result.phase} of 5) ({result.seconds:.1f}s this run)")
    if result.next:
        ui.info(f"next: {result.next}")


def _health(settings: Settings) -> Check:
    """doctor's verdict on the layers a migration depends on (the pipeline's database, producer and consumers do not count)."""
    from kafkaops.doctor.results import FAIL
    from kafkaops.doctor.runner import run_doctor
    from kafkaops.procedures.migrate import stack_health
    from kafkaops.procedures.migrate.plan import BLOCKING_LAYERS, NOT_BLOCKING

    if settings.kraft:
        return stack_health(settings, [])
    report = run_doctor(settings)
    return stack_health(settings, [(r.id, r.finding) for r in report.checks if r.status == FAIL and r.layer in BLOCKING_LAYERS and r.id not in NOT_BLOCKING])


def migrate(
    ctx: typer.Context,
    to: Annotated[str | None, typer.Option("--to", metavar="MODE", help="The mode to migrate to: kraft (the only one).")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan (checks, phases, each config change as a diff) and exit; changes nothing.")
    ] = False,
    finalize: Annotated[bool, typer.Option("--finalize", help="Also run phase 5 (cannot be undone): asks on a terminal unless --yes.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Run every phase, finalize included, without asking.")] = False,
    rollback: Annotated[
        bool, typer.Option("--rollback", help="Before finalizing: return to ZooKeeper mode (the documented revert steps); deletes nothing.")
    ] = False,
    controller_port: Annotated[
        int | None, typer.Option("--controller-port", help="The KRaft controller's port (default: the first free one after the broker's).")
    ] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print the plan or the result as one JSON document on stdout.")] = False,
) -> None:
    """Move the local ZooKeeper-mode stack (Kafka 3.9.x) to KRaft, phase by phase, keeping every topic, message, offset and config.

    Phases: 1 preflight (doctor, bridge release, cluster id, controller port, unsupported features);
    2 a KRaft controller in migration mode, formatted with the existing cluster id; 3 the broker restarted
    with the migration configs, until the controller logs that the metadata migration completed; 4 the
    broker restarted as a KRaft broker; 5 finalize (only with --finalize or --yes): the controller without
    migration, ZooKeeper stopped (its data folder is kept). Each phase is verified (topics, partitions,
    group offsets). The state is kept in KAFKAOPS_HOME/migration/state.json: running the command again
    resumes. Your configs are copied to KAFKAOPS_HOME/migration/, never rewritten; nothing is deleted.

    Example: kafkaops migrate --to kraft --dry-run
    """
    from kafkaops import ui
    from kafkaops.cli import get_settings
    from kafkaops.errors import RefusedError, UsageError
    from kafkaops.procedures import migrate as proc

    settings = get_settings(ctx)
    if rollback:
        if finalize or dry_run:
            raise UsageError("--rollback cannot be combined with --finalize or --dry-run")
        result = proc.rollback(settings, progress=ui.step)
        _finish(result, json_)
        return
    if to is None or to.strip().lower() != "kraft":
        raise UsageError(
            f"--to {to!r} is not supported: kafkaops migrates to kraft only" if to else "say where to: --to kraft", hint="kafkaops migrate --to kraft --dry-run"
        )
    if dry_run:
        migrating = proc.migration_status(settings)
        if migrating is not None:
            ui.warn(f"{migrating.label}: a run without --dry-run resumes after phase {migrating.phase}; the plan below is the whole migration")
        plan = proc.plan(settings, _health, controller_port)
        if json_:
            ui.print_json(plan.to_dict())
        else:
            ui.print_lines(render_plan(plan))
            ui.info("dry run: nothing was changed")
        return
    finalize = finalize or yes
    if finalize and not yes:
        if not ui.stdin_is_terminal():
            raise RefusedError("finalizing cannot be undone and there is no terminal to ask", hint="rerun with --yes to finalize without asking")
        if not ui.confirm("Finalize the migration? ZooKeeper is stopped and the stack cannot go back to ZooKeeper mode"):
            raise RefusedError("not finalized: you said no", hint="the migration stays in phase 4; `kafkaops migrate --rollback` returns to ZooKeeper mode")
    result = proc.migrate(settings, _health, finalize=finalize, controller_port=controller_port, progress=ui.step)
    _finish(result, json_)


def _finish(result: MigrationResult, json_: bool) -> None:
    from kafkaops import ui

    _render_result(result)
    if json_:
        ui.print_json(asdict(result))
