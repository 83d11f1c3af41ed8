"""kafkaops produce: send new database rows to the topic."""

from typing import TYPE_CHECKING, Annotated

import typer

from kafkaops.defaults import DEFAULT_BATCH_SIZE, DEFAULT_DELIVERY_TIMEOUT, DEFAULT_INTERVAL, DEFAULT_SETTLE_TIMEOUT, DEMO_TABLE

if TYPE_CHECKING:
    from kafkaops.procedures.produce import ProduceResult


def register(app: typer.Typer) -> None:
    app.command("produce")(produce)


def produce(
    ctx: typer.Context,
    batch_size: Annotated[
        int, typer.Option("--batch-size", help="Rows per read and per offset update (2000: fast, bounded re-sends after a crash; 10 reproduces the procedure).")
    ] = DEFAULT_BATCH_SIZE,
    max_rows: Annotated[int | None, typer.Option("--max-rows", help="Send at most this many rows.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be sent and the offset it would reach; send nothing, write nothing.")] = False,
    follow: Annotated[bool, typer.Option("--follow", help="Keep polling for new rows until Ctrl+C instead of exiting.")] = False,
    interval: Annotated[
        float,
        typer.Option(
            "--interval",
            help="With --follow: at most this many seconds between polls (a commit on a table with the NOTIFY trigger of db init --demo wakes it at once).",
        ),
    ] = DEFAULT_INTERVAL,
    table: Annotated[str, typer.Option("--table", help="The source table (table or schema.table).")] = DEMO_TABLE,
    topic: Annotated[str | None, typer.Option("--topic", help="The topic (env KAFKA_TOPIC).")] = None,
    mapper: Annotated[str | None, typer.Option("--mapper", help="Your own row-to-event function, module:function (it gets a dict, returns the event).")] = None,
    delivery_timeout: Annotated[
        float, typer.Option("--delivery-timeout", help="Seconds Kafka has to acknowledge each event before the run fails.")
    ] = DEFAULT_DELIVERY_TIMEOUT,
    settle_timeout: Annotated[
        float, typer.Option("--settle-timeout", help="Seconds to wait for open transactions that may still commit lower ids.")
    ] = DEFAULT_SETTLE_TIMEOUT,
    skip_oversize: Annotated[
        bool,
        typer.Option(
            "--skip-oversize",
            help="A row whose event is over the topic's max.message.bytes is not sent but recorded in producer_skipped (created if missing), and the run goes on (default: stop before it, naming it).",
        ),
    ] = False,
    envelope: Annotated[
        str,
        typer.Option(
            "--envelope",
            help='The event\'s shape: kafkaops (our own event, key "5") or debezium (Debezium\'s change event {before, after, source, op, ts_ms}, key {"id":5}, Debezium\'s type encodings: runbook producer).',
        ),
    ] = "kafkaops",
    with_schema: Annotated[
        bool,
        typer.Option(
            "--with-schema", help="With --envelope debezium: key and value in Kafka Connect's {schema, payload} form (JsonConverter with schemas.enable=true)."
        ),
    ] = False,
    exactly_once: Annotated[
        bool,
        typer.Option(
            "--exactly-once",
            help="Kafka transactions (transactional.id kafkaops-<table>-<topic>): each run's batches commit atomically, a restarted run fences the old one and recovers its position from the topic, so a crash re-sends nothing to read_committed readers (`kafkaops consume`'s default).",
        ),
    ] = False,
    mode: Annotated[
        str,
        typer.Option(
            "--mode",
            help="The cursor: 'id' sends new rows (inserts); 'timestamp+id' pages by (--timestamp-column, id) and also sends updated rows again (op \"u\" for rows seen before). Deletes are never seen: use log-based CDC (Debezium) for them.",
        ),
    ] = "id",
    timestamp_column: Annotated[
        str,
        typer.Option(
            "--timestamp-column",
            help="With --mode timestamp+id: a timestamptz column a trigger sets from clock_timestamp() on INSERT and UPDATE (db init --demo gives livedb one).",
        ),
    ] = "updated_at",
) -> None:
    """Send the rows above the offset to Kafka; the offset moves only past rows Kafka acknowledged.

    Exit codes: 0 sent (or nothing new), 1 Kafka rejected events or a row is too large for the
    topic (the message names it), 2 bad settings or options (or a table without an integer id),
    3 a table/topic is missing or open transactions did not settle, 4 broker or database
    unreachable (or no acknowledgement in time), 5 refused (another producer runs, the offset
    is ahead of the table, or with --exactly-once a newer producer of the pipeline fenced this one),
    130 interrupted.

    Examples: kafkaops produce --max-rows 100; kafkaops produce --envelope debezium --with-schema

    Exactly once for read_committed readers: kafkaops produce --exactly-once

    Updates too: kafkaops produce --mode timestamp+id --timestamp-column updated_at --topic livedb-changes
    """
    from kafkaops.cli import get_settings
    from kafkaops.cli.interrupt import graceful_stop
    from kafkaops.cli.produce_render import RunRenderer
    from kafkaops.procedures import produce as proc

    settings = get_settings(ctx)  # KAFKA_TOPIC stays the default pipeline's topic; --topic names this run's
    opts = proc.ProduceOptions(
        table=table,
        topic=topic or settings.kafka_topic,
        batch_size=batch_size,
        max_rows=max_rows,
        dry_run=dry_run,
        follow=follow,
        interval=interval,
        mapper=mapper,
        delivery_timeout=delivery_timeout,
        settle_timeout=settle_timeout,
        skip_oversize=skip_oversize,
        envelope=envelope,
        with_schema=with_schema,
        exactly_once=exactly_once,
        mode=mode,
        timestamp_column=timestamp_column,
    )
    with graceful_stop(_say_stopping) as stop, RunRenderer(settings.kafka_broker) as render:
        result = proc.produce(settings, opts, render, stop)
    _render(result, follow=follow, skip_oversize=skip_oversize)


def _say_stopping() -> None:
    from kafkaops import ui

    ui.info("stopping after the batches in flight are acknowledged (Ctrl+C again to leave now)")


def _render(result: "ProduceResult", *, follow: bool, skip_oversize: bool) -> None:
    """The run's result (a dry run: what it would send); an interrupted run without --follow exits 130."""
    from kafkaops.cli.produce_render import render_dry_run, render_result
    from kafkaops.errors import ExitCode

    if result.dry_run:
        render_dry_run(result, skip_oversize=skip_oversize)
        return
    render_result(result)
    if result.interrupted and not follow:
        raise typer.Exit(int(ExitCode.INTERRUPTED))
