"""kafkaops db init | seed | status | rewind: the pipeline's tables in PostgreSQL."""


from typing import Annotated

import typer

db_app = typer.Typer(
    name="db",
    help="The pipeline's tables: producer_offsets (and a demo livedb table), in DATABASE_URL or the embedded PostgreSQL.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

TABLE_HELP = "The source table (table or schema.table)."


def register(app: typer.Typer) -> None:
    app.add_typer(db_app)


@db_app.command("init")
def init(
    ctx: typer.Context,
    demo: Annotated[bool, typer.Option("--demo", help="Also create a demo livedb table (bigserial id, created_at, text, numeric, jsonb, bytea, nullable note).")] = False,
) -> None:
    """Create producer_offsets with its row id=1 at zero, if absent. Safe to repeat: existing data is never touched.

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
    table: Annotated[str, typer.Option("--table", help=TABLE_HELP)] = "livedb",
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
    table: Annotated[str, typer.Option("--table", help=TABLE_HELP)] = "livedb",
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")] = False,
) -> None:
    """Show the offset row, the newest id and how many rows wait to be produced.

    Exit code 3 when a table is missing or the offset is ahead of the table.

    Example: kafkaops db status --json
    """
    from kafkaops import ui
    from kafkaops.cli import get_settings
    from kafkaops.errors import ExitCode
    from kafkaops.procedures import db

    settings = get_settings(ctx)
    st = db.status(settings, table=table)
    if json_:
        ui.print_json(st.as_dict())
    else:
        ui.print_table(
            None,
            ["database", "table", "last_id", "last_created_at", "newest id", "pending"],
            [[st.database, st.table if st.table_exists else f"{st.table} (missing)", st.last_id, st.last_created_at, st.newest_id, st.pending]],
        )
        if not st.offsets_exists:
            ui.warn("the offset table producer_offsets does not exist: run `kafkaops db init`")
        if not st.table_exists:
            ui.warn(f"table {st.table} does not exist: run `kafkaops db init --demo` or pass --table")
        if st.offset_ahead:
            ui.warn(
                f"the offset ({st.last_id}) is ahead of the newest id ({st.newest_id}): produce would send nothing; "
                "rewind with `kafkaops db rewind --yes`"
            )
    if not st.offsets_exists or not st.table_exists or st.offset_ahead:
        raise typer.Exit(int(ExitCode.NOT_READY))


@db_app.command("rewind")
def rewind(
    ctx: typer.Context,
    to_id: Annotated[int, typer.Option("--to", help="The id to rewind to (rows above it are sent again).")] = 0,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Move the producer's offset back so that the next produce re-sends rows above it (default: all rows).

    Example: kafkaops db rewind --yes
    """
    from kafkaops import ui
    from kafkaops.cli import get_settings
    from kafkaops.errors import ExitCode, UsageError
    from kafkaops.procedures import db

    settings = get_settings(ctx)
    if not yes:
        if not ui.stdin_is_terminal():
            raise UsageError("rewinding the offset needs a confirmation", hint="pass --yes")
        if not ui.confirm(f"Set producer_offsets.last_id to {to_id}? The next produce re-sends every row above it"):
            raise typer.Exit(int(ExitCode.REFUSED))
    result = db.rewind_offset(settings, to_id)
    ui.success(f"offset moved from {result.before} to {result.after}")
