"""kafkaops upgrade: the local KRaft stack onto newer Kafka 4.x binaries (over procedures.upgrade)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from kafkaops.procedures.upgrade import UpgradeResult


def register(app: typer.Typer) -> None:
    app.command("upgrade")(upgrade)


def upgrade(
    ctx: typer.Context,
    version: Annotated[str, typer.Option("--version", help="The Kafka 4.x release to run, e.g. 4.4.0 (installed under KAFKAOPS_HOME when missing).")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan (and the metadata.version it would raise from/to); change nothing.")] = False,
    json_: Annotated[bool, typer.Option("--json", help="Print the plan and the result as one JSON document on stdout.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Raise metadata.version without asking (it cannot be lowered again).")] = False,
    metadata_version: Annotated[
        str | None,
        typer.Option("--metadata-version", help="The metadata.version to raise to, e.g. 4.4-IV2. Default: the newest stable one of the new binaries."),
    ] = None,
) -> None:
    """Move the local KRaft stack to newer Kafka 4.x binaries with the same configs and data, then raise metadata.version when confirmed.

    Steps: preflight (a KRaft stack that is up; a ZooKeeper-mode stack is refused: `kafkaops migrate --to kraft`
    first), install the version if missing, copy configs out of the old install folder (your files are never
    rewritten), snapshot, stop the broker then the controller, start them on the new binaries, verify (cluster
    id, topics and partitions, end offsets, group offsets, topic config overrides), record the new binaries in
    KAFKAOPS_HOME/stack.json, and raise metadata.version only with --yes or a yes on the terminal. A failure says
    the step it reached, what runs now and the next command.

    Example: kafkaops upgrade --version 4.4.0 --dry-run

    Example: kafkaops upgrade --version 4.4.0 --yes
    """
    from kafkaops import ui
    from kafkaops.cli import get_settings
    from kafkaops.procedures import upgrade as proc

    settings = get_settings(ctx)
    plan = proc.make_plan(settings, version, metadata_version)
    if dry_run:
        result = proc.dry_run(settings, plan)
        if json_:
            ui.print_json(result.to_dict())
        else:
            ui.print_lines([f"kafkaops upgrade plan (nothing was changed): Kafka {plan.from_version} -> {plan.to_version}", *plan.steps])
            if plan.metadata.reason:
                ui.warn(plan.metadata.reason)
        return

    def confirm(question: str) -> bool:
        if yes:
            return True
        if ui.stdin_is_terminal():
            return ui.confirm(question)
        ui.warn("metadata.version is raised only with --yes when there is no terminal")
        return False

    result = proc.run(settings, plan, confirm=confirm, progress=ui.step)
    render(result)
    if json_:
        ui.print_json(result.to_dict())


def render(result: UpgradeResult) -> None:
    from kafkaops import ui

    plan = result.plan
    for note in result.notes:
        ui.info(note)
    if plan.binaries_change:
        ui.success(f"the stack runs Kafka {plan.to_version} ({plan.to_home}); verified: {_verified(result)}")
        ui.info(f"recorded in {result.stack_record}")
    else:
        ui.success(f"the stack already runs Kafka {plan.to_version}")
    md = plan.metadata
    if md.raised:
        ui.success(f"metadata.version raised from {md.current} to {md.target}")
    elif md.reason == "not confirmed":
        ui.info(f"metadata.version stays {md.current}; raise it to {md.target} with: kafkaops upgrade --version {plan.to_version} --yes")
    else:
        ui.info(md.reason or f"metadata.version is {md.current}")
    ui.info(f"done in {result.seconds:.1f}s")


def _verified(result: UpgradeResult) -> str:
    after = result.after or {}
    return (
        f"cluster id {after.get('cluster_id')} unchanged, {after.get('topics')} topics / {after.get('partitions')} partitions, "
        f"end offsets, {after.get('groups')} group(s)' offsets and {after.get('topic_config_overrides')} topic config override(s) as before"
    )
