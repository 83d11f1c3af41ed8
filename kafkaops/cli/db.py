"""kafkaops db init | seed | status | rewind: the pipeline's tables in PostgreSQL."""

from typing import Annotated

import typer

from kafkaops.defaults import DEMO_TABLE

db_app = typer.Typer(
    name="db",
    help="The pipeline's tables: producer_offsets (and a demo livedb table), in DATABASE_URL or the embedded PostgreSQL.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

TABLE_HELP = "The source table (table or schema.table)."
PIPELINE_TABLE_HELP = "The pipeline's source table (table or schema.table), as given to produce."
TOPIC_HELP = "The pipeline's topic, as given to produce (env KAFKA_TOPIC)."


def register(app: typer.Typer) -> None:
    app.add_typer(db_app)


@db_app.command("init")
def init(
    ctx: typer.Context,
    demo: Annotated[
        bool, typer.Option("--demo", help="Also create a demo livedb table (bigserial id, created_at, text, numeric, jsonb, bytea, nullable note).")
    ] = False,
) -> None:
    """Create producer_offsets with the default pipeline's row (livedb -> KAFKA_TOPIC, id=1) at zero, if absent.

    Safe to repeat: no offset is ever changed. An offset table made by an older kafkaops (one row for
    every table) is upgraded in place to one row per pipeline; its row becomes the default pipeline's.

    Example: kafkaops db init --demo
    """
    from kafkaops import ui
    from kafkaops.cli import get_settings
    from kafkaops.procedures import db

    settings = get_settings(ctx)
    result = db.init(settings, demo=demo)
    for name in result.created:
        ui.success(f"created {name}")
    for name in result.existed:
        ui.info(f"{name} already exists (left as it is)")
    ui.info(f"database: {result.database}")


@db_app.command("seed")
def seed(
    ctx: typer.Context,
    rows: Annotated[int, typer.Argument(help="How many demo rows to insert.")],
    table: Annotated[str, typer.Option("--table", help=TABLE_HELP)] = DEMO_TABLE,
) -> None:
    """Insert N demo rows into the demo table in one statement.

    Example: kafkaops db seed 1000
    """
    from kafkaops import ui
    from kafkaops.cli import get_settings
    from kafkaops.procedures import db

    settings = get_settings(ctx)
    result = db.seed(settings, rows, table=table)
    ui.success(f"inserted {result.inserted} rows into {result.table} (ids {result.first_id}..{result.last_id})")


@db_app.command("status")
def status(
    ctx: typer.Context,
    table: Annotated[str, typer.Option("--table", help=PIPELINE_TABLE_HELP)] = DEMO_TABLE,
    topic: Annotated[str | None, typer.Option("--topic", help=TOPIC_HELP)] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")] = False,
) -> None:
    """Show a pipeline's position (table -> topic), the newest id and how many rows wait to be produced.

    The other pipelines' positions are listed below it.

    Exit code 3 when a table is missing or the offset is ahead of the table.

    Example: kafkaops db status --json
    """
    from kafkaops import ui
    from kafkaops.cli import get_settings
    from kafkaops.errors import ExitCode
    from kafkaops.procedures import db

    settings = get_settings(ctx)
    st = db.status(settings, table=table, topic=topic)
    if json_:
        ui.print_json(st.as_dict())
    else:
        ui.print_table(
            None,
            ["database", "table", "topic", "last_id", "last_created_at", "newest id", "pending"],
            [[st.database, st.table if st.table_exists else f"{st.table} (missing)", st.topic, st.last_id, st.last_created_at, st.newest_id, st.pending]],
        )
        if st.others:
            ui.print_table("other pipelines", ["table", "topic", "last_id"], [[o["table"], o["topic"], o["last_id"]] for o in st.others])
        if not st.offsets_exists:
            ui.warn("the offset table producer_offsets does not exist: run `kafkaops db init`")
        if not st.table_exists:
            ui.warn(f"table {st.table} does not exist: run `kafkaops db init --demo` or pass --table")
        if st.offset_ahead:
            ui.warn(
                f"the offset ({st.last_id}) is ahead of the newest id ({st.newest_id}): produce would send nothing; "
                f"rewind with `kafkaops db rewind --yes{db.Pipeline(st.table, st.topic).flags}`"
            )
    if not st.offsets_exists or not st.table_exists or st.offset_ahead:
        raise typer.Exit(int(ExitCode.NOT_READY))


@db_app.command("rewind")
def rewind(
    ctx: typer.Context,
    to_id: Annotated[int, typer.Option("--to", help="The id to rewind to (rows above it are sent again).")] = 0,
    table: Annotated[str, typer.Option("--table", help=PIPELINE_TABLE_HELP)] = DEMO_TABLE,
    topic: Annotated[str | None, typer.Option("--topic", help=TOPIC_HELP)] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Move a pipeline's offset back so that its next produce re-sends rows above it (default: all rows).

    Only the pipeline named by --table and --topic moves; refused (exit 5) while its producer runs.

    Example: kafkaops db rewind --yes
    """
    from kafkaops import ui
    from kafkaops.cli import get_settings
    from kafkaops.errors import ExitCode, UsageError
    from kafkaops.procedures import db

    settings = get_settings(ctx)
    topic = topic or settings.kafka_topic
    if not yes:
        if not ui.stdin_is_terminal():
            raise UsageError("rewinding the offset needs a confirmation", hint="pass --yes")
        question = f"Set the offset of {table} -> {topic} to {to_id}? The next produce re-sends every row above it"
        if not ui.confirm(question):
            raise typer.Exit(int(ExitCode.REFUSED))
    result = db.rewind_offset(settings, to_id, table=table, topic=topic)
    ui.success(f"offset of {result.pipeline} moved from {result.before} to {result.after}")
