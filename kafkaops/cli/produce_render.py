"""How kafkaops produce shows a run: progress as it goes, then the result (imported when the command runs)."""

from collections.abc import Callable
from contextlib import ExitStack
from types import TracebackType

from kafkaops.procedures import produce as proc


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

    def warn(self, message: str) -> None:
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
