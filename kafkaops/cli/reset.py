"""kafkaops reset: the plan goes to stdout (it is the data of a dry run), progress and results to stderr."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from kafkaops.errors import RefusedError
    from kafkaops.procedures.reset import ResetPlan, ResetResult
    from kafkaops.settings import Settings


def register(app: typer.Typer) -> None:
    app.command("reset")(reset)


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def _files(n: int) -> str:
    return f"{n} file" if n == 1 else f"{n} files"


def render_plan(plan: ResetPlan, settings: Any) -> list[str]:
    """The plan as plain lines (no colour: it is data that may be saved or piped)."""
    from kafkaops.procedures import services

    names = {services.KAFKA: "Kafka broker", services.ZOOKEEPER: "ZooKeeper"}
    heading, width = "Stop, in this order:", 13
    if plan.mode == "kraft":
        split = any(s.service == services.CONTROLLER for s in plan.stop)
        names = {services.KAFKA: "KRaft broker" if split else "KRaft node", services.CONTROLLER: "KRaft controller"}
        heading, width = "Stop, in this order (KRaft):", 16
    lines = ["kafkaops reset plan (nothing has been deleted)", "", heading]
    for i, s in enumerate(plan.stop, 1):
        state = {"running": f"running, pid {s.pid}", "not-running": "not running", "foreign": f"NOT started by kafkaops: {s.detail}"}
        lines.append(f"  {i}. {names[s.service]:<{width}} {state.get(s.state, s.state)} (port {s.port})")
    lines += ["", "Empty these folders (the folders themselves stay):"]
    width = max((len(d.role) for d in plan.dirs), default=0)
    for d in plan.dirs:
        if not d.exists:
            what = "does not exist: nothing to delete"
        else:
            what = f"{human_size(d.size_bytes)} in {_files(d.files + d.links)}"
            if d.links:
                what += f" ({d.links} symbolic link(s): removed, not followed)"
            if d.foreign_named:
                what += f" [--force-path: {d.foreign_named} {'entry' if d.foreign_named == 1 else 'entries'} named]"
            elif d.forced:
                what += " [--force-path]"
        shown = d.real if d.real == d.path else f"{d.path} -> {d.real}"
        lines.append(f"  {d.role:<{width}}  {shown}  {what}")
        if d.refusal:
            lines.append(f"  {'':<{width}}  REFUSED: {d.refusal}")
    lines.append(f"  {'total':<{width}}  {human_size(plan.total_bytes)} in {_files(plan.total_files)}")
    then = []
    if plan.backup_dir:
        then.append(f"back up each folder to a .tar.gz in {plan.backup_dir}, verified before anything is deleted")
    if plan.reset_producer_offset:
        before = plan.offset_before
        pipeline = before["pipeline"] if before and "pipeline" in before else f"livedb -> {settings.kafka_topic}"
        was = f"last_id {before['last_id']}" if before else "not read"
        then.append(
            f"rewind the producer offset of {pipeline} ({was}) to last_id 0, last_created_at 1970-01-01: "
            "every livedb row will be sent again (other pipelines keep theirs)"
        )
    if plan.mode == "kraft":
        then.append("forget the cluster id kafkaops formatted these folders with: the next `kafkaops up` formats them with a new one")
    if plan.restart:
        then.append(f"start the stack again and create topic {settings.kafka_topic}")
    if then:
        lines += ["", "Also:"] + [f"  - {t}" for t in then]
    lines += ["", "You will lose:"] + [f"  - {x}" for x in plan.loses]
    lines += ["", "What stays:"] + [f"  - {x}" for x in plan.keeps]
    if plan.refusals:
        lines += ["", "Refused (nothing will be deleted):"] + [f"  - {r}" for r in plan.refusals]
    return lines


ConfirmOpt = Annotated[bool, typer.Option("--confirm", help="Really do it. Without it the plan is printed and nothing is deleted (exit 5).")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Print the plan and exit 0 (5 when a guard would refuse). Deletes nothing.")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask again on a terminal; needed with --confirm when there is no terminal.")]
BackupOpt = Annotated[
    Path | None,
    typer.Option("--backup", metavar="DIR", help="First archive each folder to a verified .tar.gz in DIR (outside the data folders)."),
]
ResetOffsetOpt = Annotated[
    bool,
    typer.Option(
        "--reset-producer-offset",
        help="Also rewind the default pipeline's offset (livedb -> KAFKA_TOPIC) to 0: every livedb row is sent again. Refused while its producer runs.",
    ),
]
RestartOpt = Annotated[bool, typer.Option("--restart", help="Start the stack again afterwards and recreate the pipeline topic.")]
ForcePathOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--force-path",
        metavar="PATH",
        help=(
            "Repeatable. A configured data folder: empty it although nothing in it proves it is Kafka's or ZooKeeper's. "
            "A file or folder inside one that Kafka and ZooKeeper never write: delete it too (each must be named)."
        ),
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the plan (and the result) as one JSON document on stdout.")]


def reset(
    ctx: typer.Context,
    confirm: ConfirmOpt = False,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
    backup: BackupOpt = None,
    reset_producer_offset: ResetOffsetOpt = False,
    restart: RestartOpt = False,
    force_path: ForcePathOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Stop the stack (broker, then ZooKeeper) and empty exactly Kafka's and ZooKeeper's data folders, after a plan and guards.

    The folders come from log.dirs (every entry), dataDir and dataLogDir in the configs. In KRaft mode they are
    every log.dirs and metadata.log.dir entry of the KRaft node(s) (server.properties, and controller.properties
    beside it), the KRaft node(s) kafkaops started are stopped the same way (the broker first), and the next
    `up` formats the folders with a new cluster id. Refuses a node kafkaops did not start, a folder that is a
    filesystem root, your home, KAFKA_HOME, the current folder (or a folder containing one of them), a non-empty
    folder with nothing in it that only Kafka or ZooKeeper writes, and any file Kafka and ZooKeeper never write
    unless --force-path names it. Every attempt with --confirm is appended to KAFKAOPS_HOME/reset-audit.log.

    Example: kafkaops reset --confirm --backup ~/kafka-backups --restart
    """
    from kafkaops import ui
    from kafkaops.cli import get_settings
    from kafkaops.procedures import reset as proc

    settings = get_settings(ctx)
    plan = proc.build_plan(settings, force_paths=force_path or (), backup_dir=backup, reset_producer_offset=reset_producer_offset, restart=restart)
    if not json_:
        ui.print_lines(render_plan(plan, settings))
    if dry_run or not confirm:
        _without_confirm(plan, json_, dry_run=dry_run)
        return
    _confirm(settings, plan, json_, yes=yes)
    result = _execute(settings, plan)
    _render_result(result, settings)
    _finish_json(json_, plan, result)


def _without_confirm(plan: ResetPlan, json_: bool, *, dry_run: bool) -> None:
    """A dry run prints the plan and exits 0 (5 when a guard refuses); without --confirm it is refused (5)."""
    from kafkaops import ui
    from kafkaops.errors import RefusedError

    _finish_json(json_, plan)
    plan.check()
    if dry_run:
        ui.info("dry run: nothing was stopped or deleted")
        return
    raise RefusedError(
        "nothing was deleted: a reset needs --confirm",
        hint="read the plan above, then run `kafkaops reset --confirm` (add --yes when there is no terminal)",
    )


def _confirm(settings: Settings, plan: ResetPlan, json_: bool, *, yes: bool) -> None:
    """Warn about the offset, ask (unless --yes); a no is audited and raised."""
    from kafkaops import ui
    from kafkaops.procedures import reset as proc

    if plan.reset_producer_offset:
        ui.warn("--reset-producer-offset: every row in livedb will be sent to the topic again at the next produce")
    refusal = None if plan.refusals or yes else _ask(plan)
    if refusal is not None:
        proc.audit(settings, plan, None, "refused", refusal.message)
        _finish_json(json_, plan)
        raise refusal


def _execute(settings: Settings, plan: ResetPlan) -> ResetResult:
    """Carry the plan out under the stack lock: no up or down in between (one that runs is waited for)."""
    from kafkaops import ui
    from kafkaops.procedures import reset as proc
    from kafkaops.procedures import services

    with services.stack_lock(settings, "reset", notice=ui.info):
        return proc.execute(settings, plan, progress=ui.step)


def _ask(plan: ResetPlan) -> RefusedError | None:
    """Ask on the terminal; the refusal to raise when there is none or the answer is no."""
    from kafkaops import ui
    from kafkaops.errors import RefusedError

    if not ui.stdin_is_terminal():
        return RefusedError(
            "no terminal to confirm on: a reset without a terminal needs --yes as well as --confirm",
            hint="kafkaops reset --confirm --yes",
        )
    what = f"delete {human_size(plan.total_bytes)} in {_files(plan.total_files)} from {len(plan.dirs)} folder(s)"
    question = f"{what[0].upper()}{what[1:]}?" if plan.mode == "kraft" else f"Stop the stack and {what}?"
    if not ui.confirm(question):
        return RefusedError("reset cancelled: nothing was deleted")
    return None


def _finish_json(json_: bool, plan: ResetPlan, result: ResetResult | None = None) -> None:
    """With --json: the plan and the result (None when nothing was done) as one document on stdout."""
    from kafkaops import ui

    if json_:
        ui.print_json({"plan": plan.to_dict(), "result": _result_dict(result) if result else None})


def _result_dict(result: ResetResult) -> dict[str, Any]:
    doc = asdict(result)
    doc["restarted"] = result.restarted is not None
    return doc


def _render_result(result: ResetResult, settings: Any) -> None:
    from kafkaops import ui
    from kafkaops.procedures import services

    split = any(s.service == services.CONTROLLER for s in result.stopped)
    kafka = ("KRaft broker" if split else "KRaft node") if settings.kraft else "Kafka broker"
    names = {services.KAFKA: kafka, services.ZOOKEEPER: "ZooKeeper", services.CONTROLLER: "KRaft controller"}
    for s in result.stopped:
        name = names.get(s.service, s.service)
        if s.action == "stopped":
            ui.success(f"{name} stopped{' cleanly' if s.clean else ''} in {s.seconds:.1f}s (pid {s.pid})")
        elif s.action == "not-running":
            ui.info(f"{name} was not running")
        elif s.action == "stale-pid-file-removed":
            ui.info(f"{name} was not running; removed its stale pid file")
    for b in result.backups:
        ui.success(f"backed up {b.source} to {b.archive} ({b.members} entries, {human_size(b.size_bytes)}, verified)")
    for e in result.emptied:
        ui.success(f"emptied {e.role} {e.path} ({human_size(e.size_bytes)} in {_files(e.files + e.links)})")
    if result.forgotten_cluster:
        ui.info(f"forgot cluster id {result.forgotten_cluster}: the next `kafkaops up` formats the KRaft storage with a new one")
    if result.offset_rewound:
        before = result.offset_before
        was = f"from last_id {before['last_id']} " if before else ""
        pipeline = f" of {before['pipeline']}" if before and "pipeline" in before else ""
        ui.warn(f"producer offset{pipeline} rewound {was}to 0: every livedb row will be sent again at the next produce")
    if result.restarted is not None:
        topic = result.restarted.topic
        ui.success(f"stack restarted; topic {settings.kafka_topic} {'created' if topic and topic.created else 'exists'}")
    else:
        ui.info(
            "next: kafkaops up ("
            + ("formats the KRaft storage, " if result.forgotten_cluster or settings.kraft else "")
            + "starts a new, empty cluster and creates the pipeline topic)"
        )
    ui.info(f"audit log: {result.audit_log}")
