"""kafkaops cdc deploy | status | pause | resume | delete: Debezium's PostgreSQL connector for the pipeline."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from kafkaops.defaults import DEMO_TABLE

if TYPE_CHECKING:
    from kafkaops.procedures.connect.cdc import CdcStatus

cdc_app = typer.Typer(
    name="cdc",
    help="Change data capture on Kafka Connect: Debezium's PostgreSQL connector sends the pipeline's inserts, updates and deletes "
    "to its topic (workers: `kafkaops connect up`, or KAFKA_CONNECT_URL).",
    no_args_is_help=True,
    rich_markup_mode=None,
)

Table = Annotated[str, typer.Option("--table", help="The pipeline's source table (table or schema.table), as given to produce.")]
Topic = Annotated[str | None, typer.Option("--topic", help="The pipeline's topic (env KAFKA_TOPIC).")]
Json = Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")]


def register(app: typer.Typer) -> None:
    app.add_typer(cdc_app)


@cdc_app.command("deploy")
def deploy(
    ctx: typer.Context,
    table: Table = DEMO_TABLE,
    topic: Topic = None,
    from_producer: Annotated[
        bool,
        typer.Option(
            "--from-producer",
            help="Hand the pipeline over from `kafkaops produce`: the rows it has not sent yet are sent once, Debezium streams the rest, "
            "and produce refuses this pipeline from then on.",
        ),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Switch the embedded PostgreSQL to wal_level=logical (it restarts) when it is not.")] = False,
    json_: Json = False,
) -> None:
    """Create the Debezium connector for the pipeline: publication and slot named after it, events routed to the topic.

    Refused (exit 5) when the database cannot do logical replication (wal_level, the REPLICATION attribute, free
    slots), with the fix. Without --from-producer Debezium first snapshots the whole table (op "r").
    Running it again for a deployed pipeline changes nothing.

    Example: kafkaops cdc deploy --from-producer --yes

    Example: kafkaops cdc deploy --table public.orders --topic orders
    """
    from kafkaops import ui
    from kafkaops.cli import get_settings
    from kafkaops.procedures.connect import cdc

    settings = get_settings(ctx)
    with ui.spinner("deploying the Debezium connector") as status:
        result = cdc.deploy(settings, table, topic, from_producer=from_producer, yes=yes, progress=lambda msg: status.update(msg), warn=ui.warn)
    if result.bridged is not None:
        b = result.bridged
        ui.success(
            f"handed over at id {b.last_id}: {b.rows_bridged} row(s) up to it that the producer had not sent were sent now; "
            f"Debezium streams what commits after {b.slot_lsn}"
        )
    _render(result, json_)


@cdc_app.command("status")
def status(ctx: typer.Context, table: Table = DEMO_TABLE, topic: Topic = None, json_: Json = False) -> None:
    """The connector and its tasks (a failed task with its trace's first line), the slot's retained WAL and lag, the hand-over.

    Exit 3 when the connector is not deployed or not RUNNING.

    Example: kafkaops cdc status --json
    """
    from kafkaops.cli import get_settings
    from kafkaops.errors import ExitCode
    from kafkaops.procedures.connect import cdc

    result = cdc.status(get_settings(ctx), table, topic)
    _render(result, json_)
    if result.state != "RUNNING" or any(t.get("state") != "RUNNING" for t in result.tasks):
        raise typer.Exit(int(ExitCode.NOT_READY))


def _render(st: CdcStatus, json_: bool) -> None:
    from kafkaops import ui

    tasks = [
        {"id": t.get("id"), "state": t.get("state"), "worker": t.get("worker_id"), "error": (t.get("trace") or "").strip().split("\n")[0] or None}
        for t in st.tasks
    ]
    doc = {"connector": st.connector, "state": st.state, "worker": st.worker, "tasks": tasks, "slot": st.slot, "handover": st.handover}
    if json_:
        ui.print_json(doc)
        return
    lines = [f"connector {st.connector}: {st.state}" + (f" on {st.worker}" if st.worker else "")]
    lines += [f"  task {t['id']}: {t['state']} on {t['worker']}" + (f": {t['error']}" if t["error"] else "") for t in tasks]
    if st.slot:
        s = st.slot
        lines.append(f"slot {s['name']}: {'active' if s['active'] else 'INACTIVE'}, retains {s['retained_wal_bytes']} bytes of WAL, lag {s['lag_bytes']} bytes")
    if st.handover:
        lines.append(f"handed over from kafkaops produce after id {st.handover['last_id']}")
    ui.print_lines(lines)


@cdc_app.command("pause")
def pause(ctx: typer.Context, table: Table = DEMO_TABLE, topic: Topic = None) -> None:
    """Pause the connector (its slot keeps the WAL meanwhile: the disk grows).

    Example: kafkaops cdc pause
    """
    _verb(ctx, table, topic, "pause")


@cdc_app.command("resume")
def resume(ctx: typer.Context, table: Table = DEMO_TABLE, topic: Topic = None) -> None:
    """Resume a paused connector: it goes on from its slot.

    Example: kafkaops cdc resume
    """
    _verb(ctx, table, topic, "resume")


def _verb(ctx: typer.Context, table: str, topic: str | None, verb: str) -> None:
    from kafkaops import ui
    from kafkaops.cli import get_settings
    from kafkaops.procedures.connect import cdc

    st = cdc.pause_resume(get_settings(ctx), table, topic, verb)
    ui.success(f"connector {st.connector}: {verb} requested")


@cdc_app.command("delete")
def delete(
    ctx: typer.Context,
    table: Table = DEMO_TABLE,
    topic: Topic = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Delete without asking.")] = False,
) -> None:
    """Delete the connector, its replication slot and publication, and the hand-over mark: the way back to `kafkaops produce`.

    The producer's position goes back where the hand-over found it: `kafkaops produce` then sends again the rows
    the hand-over and Debezium sent (at-least-once; none is skipped). Updates and deletes are no longer captured.

    Example: kafkaops cdc delete --yes
    """
    from kafkaops import ui
    from kafkaops.cli import get_settings
    from kafkaops.errors import RefusedError
    from kafkaops.procedures.connect import cdc

    if not yes and not (ui.stdin_is_terminal() and ui.confirm("delete the connector, its slot and publication?")):
        raise RefusedError("not confirmed", hint="rerun with --yes")
    for line in cdc.delete(get_settings(ctx), table, topic):
        ui.success(line)
