"""kafkaops doctor: the debug checklist, automated, ending with a verdict."""

from typing import Annotated, Any

import typer

from kafkaops.errors import ExitCode


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)


def render_lines(doc: dict[str, Any]) -> list[str]:
    """The explanation under the table: every WARN and FAIL with details, remedy and runbook; then the verdict."""
    lines: list[str] = []
    for c in doc["checks"]:
        if c["status"] not in ("WARN", "FAIL"):
            continue
        lines.append("")
        lines.append(f"{c['status']} {c['id']}: {c['finding']}")
        lines += [f"    {d}" for d in c["details"]]
        if c["remedy"]:
            lines.append(f"  fix: {c['remedy']}")
        if c["runbook"]:
            lines.append(f"  see: kafkaops runbook {c['runbook']}")
    v = doc["verdict"]
    s = doc["summary"]
    lines.append("")
    counts = f"{s['PASS']} passed, {s['WARN']} warning(s), {s['FAIL']} failed, {s['SKIP']} skipped in {doc['seconds']:.1f}s"
    if v["status"] == "ok":
        lines.append(f"verdict: healthy ({counts})")
    else:
        label = "fault in" if v["status"] == "fail" else "attention:"
        lines.append(f"verdict: {label} {v['layer']} layer ({counts})")
        lines.append(f"  why: {v['why']}")
        if v["next"]:
            lines.append(f"  next: {v['next']}")
        if v["runbook"]:
            lines.append(f"  see: kafkaops runbook {v['runbook']}")
    return lines


def print_checks(ids: list[str], *, json_: bool) -> None:
    """--list-checks: every check in the order doctor runs them (or those ``ids`` would run)."""
    from kafkaops import ui
    from kafkaops.doctor import registry

    listed = registry.select(ids) if ids else registry.all_checks()
    if json_:
        ui.print_json({"schema": "kafkaops.doctor.checks/1", "checks": [registry.describe(c) for c in listed]})
        return
    rows = [(registry.step_label(c.step), c.id, registry.applies_label(c) + (" (--canary)" if c.canary_only else ""), c.title) for c in listed]
    ui.print_table(None, ["step", "check", "applies to", "what it checks"], rows)


def doctor(
    ctx: typer.Context,
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON document (schema kafkaops.doctor/1) on stdout.")] = False,
    canary: Annotated[
        bool,
        typer.Option("--canary", help="Also send one marked test event through the pipeline (database, Kafka, consumer) and time each hop."),
    ] = False,
    topic: Annotated[str | None, typer.Option("--topic", help="The pipeline topic to check (env KAFKA_TOPIC).")] = None,
    list_checks: Annotated[
        bool, typer.Option("--list-checks", help="List the checks (id, step, where it applies, what it checks) instead of running them; with --json as JSON.")
    ] = False,
    ids: Annotated[
        list[str] | None,
        typer.Argument(metavar="CHECK", help="Run only these checks (ids from --list-checks) and the checks they require.", show_default=False),
    ] = None,
) -> None:
    """Walk the debug checklist (ZooKeeper or, in KRaft mode, the metadata quorum; broker, topic, configuration,
    database, producer, consumers, logs) and name the first layer at fault, why, and the command to run next.

    The checks follow what the cluster is: a ZooKeeper-mode or KRaft local stack, or a cluster kafkaops did
    not start (its local checks are skipped as "remote cluster"); --json says which in "cluster".

    Exit code 0 when nothing failed (warnings allowed), 3 when a check failed.

    Example: kafkaops doctor --json | jq .verdict
    """
    from kafkaops import ui
    from kafkaops.cli import get_settings
    from kafkaops.doctor import registry, run_doctor

    if list_checks:
        print_checks(ids or [], json_=json_)
        return
    if ids:
        registry.select(ids)  # an unknown id is a usage error before anything runs
    settings = get_settings(ctx, kafka_topic=topic)
    with ui.spinner("running the doctor's checks") as spin:
        report = run_doctor(settings, canary=canary, progress=spin.update, only=ids or ())
    doc = report.to_dict()
    if json_:
        ui.print_json(doc)
    else:
        rows = [(c["step"] if c["step"] <= 9 else "+", c["id"], c["status"], c["finding"]) for c in doc["checks"]]
        ui.print_table(None, ["step", "check", "status", "finding"], rows)
        ui.print_lines(render_lines(doc))
    if report.failed:
        raise typer.Exit(int(ExitCode.NOT_READY))
