"""kafkaops produce: send new database rows to the topic."""

from collections.abc import Callable
from contextlib import ExitStack
from types import TracebackType
from typing import Annotated

import typer

from kafkaops.procedures import produce as proc
from kafkaops.procedures.db import DEMO_TABLE


def register(app: typer.Typer) -> None:
    app.command("produce")(produce)


def produce(
    ctx: typer.Context,
    batch_size: Annotated[
        int, typer.Option("--batch-size", help="Rows per read and per offset update (2000: fast, bounded re-sends after a crash; 10 reproduces the procedure).")
    ] = proc.DEFAULT_BATCH_SIZE,
    max_rows: Annotated[int | None, typer.Option("--max-rows", help="Send at most this many rows.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be sent and the offset it would reach; send nothing, write nothing.")] = False,
    follow: Annotated[bool, typer.Option("--follow", help="Keep polling for new rows until Ctrl+C instead of exiting.")] = False,
    interval: Annotated[float, typer.Option("--interval", help="Seconds between polls with --follow.")] = proc.DEFAULT_INTERVAL,
    table: Annotated[str, typer.Option("--table", help="The source table (table or schema.table).")] = DEMO_TABLE,
    topic: Annotated[str | None, typer.Option("--topic", help="The topic (env KAFKA_TOPIC).")] = None,
    mapper: Annotated[str | None, typer.Option("--mapper", help="Your own row-to-event function, module:function (it gets a dict, returns the event).")] = None,
    delivery_timeout: Annotated[
        float, typer.Option("--delivery-timeout", help="Seconds Kafka has to acknowledge each event before the run fails.")
    ] = proc.DEFAULT_DELIVERY_TIMEOUT,
    settle_timeout: Annotated[
        float, typer.Option("--settle-timeout", help="Seconds to wait for open transactions that may still commit lower ids.")
    ] = proc.DEFAULT_SETTLE_TIMEOUT,
    skip_oversize: Annotated[
        bool,
        typer.Option(
            "--skip-oversize",
            help="A row whose event is over the topic's max.message.bytes is not sent but recorded in producer_skipped (created if missing), and the run goes on (default: stop before it, naming it).",
        ),
    ] = False,
) -> None:
    """Send the rows above the offset to Kafka; the offset moves only past rows Kafka acknowledged.

    Exit codes: 0 sent (or nothing new), 1 Kafka rejected events or a row is too large for the
    topic (the message names it), 2 bad settings or options (or a table without an integer id),
    3 a table/topic is missing or open transactions did not settle, 4 broker or database
    unreachable (or no acknowledgement in time), 5 refused (another producer runs, or the offset
    is ahead of the table), 130 interrupted.

    Example: kafkaops produce --max-rows 100
    """
    from kafkaops import ui
    from kafkaops.cli import get_settings
    from kafkaops.cli.interrupt import graceful_stop
    from kafkaops.errors import ExitCode

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
    )

    def say_stopping() -> None:
        ui.info("stopping after the batches in flight are acknowledged (Ctrl+C again to leave now)")

    with graceful_stop(say_stopping) as stop, RunRenderer(settings.kafka_broker) as render:
        result = proc.produce(settings, opts, render, stop)

    if result.dry_run:
        render_dry_run(result, skip_oversize=skip_oversize)
        return
    render_result(result)
    if result.interrupted and not follow:
        raise typer.Exit(int(ExitCode.INTERRUPTED))


class RunRenderer(proc.Hooks):
    """Renders a run as it goes on stderr; used with ``with`` so that a progress bar it opened is closed
    however the run ends."""

    def __init__(self, broker: str) -> None:
        self.broker = broker
        self.update: Callable[[int, int], None] | None = None
        self._open = ExitStack()  # holds the progress bar once the run knows how many rows it has

    def __enter__(self) -> "RunRenderer":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._open.close()
        self.update = None

    def initialized(self, plan: proc.Plan) -> None:
        from kafkaops import ui

        if plan.dry_run:
            ui.info(f"Dry run: nothing is sent and the offset is not written ({plan.table} -> {plan.topic})")
        else:
            ui.success(f"Producer initialized: {plan.table} -> topic {plan.topic} at {self.broker}, offset {plan.offset}")
            if plan.pending and ui.is_terminal():
                self.update = self._open.enter_context(ui.progress("producing", plan.pending, unit="rows"))

    def progress(self, sent: int, total: int) -> None:
        if self.update is not None:
            self.update(sent, total)

    def round(self, sent: int, offset: int) -> None:
        from kafkaops import ui

        if sent:
            ui.info(f"Sent {sent} events to Kafka; offset now {offset}")

    def waiting(self, message: str) -> None:
        from kafkaops import ui

        ui.info(message)

    def skipped(self, message: str) -> None:
        from kafkaops import ui

        ui.warn(message)


def render_dry_run(result: proc.ProduceResult, *, skip_oversize: bool) -> None:
    """What a dry run would send (stdout: the preview) and what it would do (stderr)."""
    from kafkaops import ui

    for key, value in result.preview:
        ui.print_lines([f"{key}\t{value}"])
    if result.too_large and skip_oversize:
        ids = ", ".join(str(i) for i, _ in result.too_large[:10]) + (", ..." if len(result.too_large) > 10 else "")
        ui.warn(f"{len(result.too_large)} row(s) too large for topic {result.topic} would be skipped and recorded in producer_skipped (ids {ids})")
    elif result.too_large:
        row_id, size = result.too_large[0]
        ui.warn(
            f"row id={row_id} of {result.table} is too large for topic {result.topic}: its event is {size:,} bytes, over max.message.bytes of {result.limit:,}; "
            "a real run stops before it (see `kafkaops runbook failures row-too-large`, or --skip-oversize)"
        )
    if result.sent or result.too_large:
        more = f" (showing the first {len(result.preview)})" if len(result.preview) < result.sent else ""
        ui.info(f"Would send {result.sent} events to {result.topic}{more}; the offset would move from {result.start_offset} to {result.offset}")
    else:
        ui.info(f"No new rows in {result.table}; offset stays at {result.start_offset}")


def render_result(result: proc.ProduceResult) -> None:
    """The run's last line: what was sent and where the offset stands."""
    from kafkaops import ui

    if result.sent == 0 and not result.skipped and not result.interrupted:
        ui.info(f"No new rows in {result.table}; offset stays at {result.offset}")
    else:
        skipped = f" ({result.skipped} row{'s' if result.skipped != 1 else ''} too large skipped: see producer_skipped)" if result.skipped else ""
        ui.success(f"Sent {result.sent} events to Kafka; offset now {result.offset}{skipped}")
