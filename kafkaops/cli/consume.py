"""kafkaops consume."""

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from kafkaops.procedures.consume import ConsumeRequest, ConsumeResult, StartPlan

FORMATS = ("pretty", "json", "raw")


def register(app: typer.Typer) -> None:
    app.command("consume")(consume)


class _Writer:
    """Writes batches of messages to stdout: JSON lines, raw values, or pretty for a person (with headers)."""

    def __init__(self, fmt: str, keys: bool | None, topic: str) -> None:
        self.fmt = fmt
        self.topic = topic
        self.keys = keys if keys is not None else fmt != "raw"
        self.stream = sys.stdout.buffer if hasattr(sys.stdout, "buffer") else None

    def _write(self, data: bytes) -> None:
        from kafkaops.procedures.consume import OutputClosed

        try:
            if self.stream is not None:
                self.stream.write(data)
                self.stream.flush()
            else:  # a text-only stdout (tests)
                sys.stdout.write(data.decode("utf-8", errors="replace"))
                sys.stdout.flush()
        except BrokenPipeError:
            raise OutputClosed() from None

    def __call__(self, batch: list[Any]) -> None:
        from kafkaops.procedures import consume as proc

        if self.fmt == "json":
            self._write(proc.json_lines(batch, keys=self.keys, topic=self.topic))
        elif self.fmt == "raw":
            self._write(proc.raw_lines(batch, keys=self.keys))
        else:
            self._pretty(batch)

    def _pretty(self, batch: list[Any]) -> None:
        from kafkaops import ui
        from kafkaops.procedures import consume as proc

        try:
            for m in batch:
                head = [f"partition {m.partition()}", f"offset {m.offset()}"]
                if self.keys:
                    key, key_fmt = proc.decode_key(m.key())
                    head.append("key " + ("(none)" if key is None else f"base64:{key}" if key_fmt == "base64" else key))
                ts_type, ts = m.timestamp()
                if ts_type:
                    head.append(proc.iso_ms(ts))
                value, fmt, _ = proc.decode_value(m.value())
                ui.print_message("  ".join(head), value, fmt, [proc.header_line(*h) for h in proc.decode_headers(m.headers())])
        except BrokenPipeError:
            raise proc.OutputClosed() from None


def _silence_closed_stdout() -> None:
    """After the reader of a pipe went away: point stdout at /dev/null so the exit flush cannot fail."""
    import os

    try:
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def consume(
    ctx: typer.Context,
    topic: Annotated[str | None, typer.Argument(help="The topic to read (env KAFKA_TOPIC).", show_default=False)] = None,
    from_beginning: Annotated[
        bool, typer.Option("--from-beginning", help="Start at the oldest message kept, even when the group has committed offsets.")
    ] = False,
    group: Annotated[
        str | None, typer.Option("--group", "-g", help="Read as this consumer group and commit what was shown. Default: no group, commit nothing.")
    ] = None,
    max_messages: Annotated[int | None, typer.Option("--max-messages", "-n", help="Stop after this many messages.")] = None,
    timeout: Annotated[float | None, typer.Option("--timeout", help="Stop after this many seconds without a message.")] = None,
    exit_at_end: Annotated[bool, typer.Option("--exit-at-end", "-e", help="Stop once every partition is read up to its end as of start.")] = False,
    partition: Annotated[int | None, typer.Option("--partition", "-p", help="Read only this partition (no group).")] = None,
    offset: Annotated[str | None, typer.Option("--offset", help="With --partition: start at this offset, or 'earliest' / 'latest'.")] = None,
    fmt: Annotated[
        str | None,
        typer.Option("--format", "-f", help="pretty | json | raw. Default: pretty on a terminal, json when stdout is a pipe or file."),
    ] = None,
    keys: Annotated[bool | None, typer.Option("--keys/--no-keys", help="Show message keys. Default: yes for pretty and json, no for raw.")] = None,
) -> None:
    """Read messages from a topic to stdout, saying on stderr where reading starts and why.

    Without --group nothing is committed, so two runs behave the same. With --group the group's
    committed offsets decide where reading starts (it says so), --from-beginning really starts at
    the beginning, and what was shown is committed. Ctrl+C stops cleanly (exit code 130).

    Example: kafkaops consume --from-beginning --exit-at-end --format json | jq .value
    """
    from kafkaops import ui
    from kafkaops.cli import get_settings
    from kafkaops.cli.interrupt import graceful_stop
    from kafkaops.errors import ExitCode, UsageError
    from kafkaops.procedures import consume as proc

    settings = get_settings(ctx, kafka_topic=topic)
    if fmt is None:
        fmt = "pretty" if sys.stdout.isatty() else "json"
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r} is not one of {', '.join(FORMATS)}")
    req = proc.ConsumeRequest(
        topic=settings.kafka_topic,
        group=group,
        from_beginning=from_beginning,
        partition=partition,
        offset=proc.parse_offset(offset),
        max_messages=max_messages,
        timeout=timeout,
        exit_at_end=exit_at_end,
    )
    writer = _Writer(fmt, keys, req.topic)
    with graceful_stop() as stop, proc.open_session(settings, req) as session:
        render_start(session.plan, req, settings.kafka_broker)
        result = session.run(writer, stop=stop, notice=ui.warn)
    render_end(result, req)
    if result.stopped_by == "output-closed":
        _silence_closed_stdout()
    if result.stopped_by == "interrupted":
        raise typer.Exit(int(ExitCode.INTERRUPTED))


def render_start(plan: "StartPlan", req: "ConsumeRequest", broker: str) -> None:
    """On stderr: where reading starts on each partition and why, and what will stop it."""
    from kafkaops import ui
    from kafkaops.procedures import consume as proc

    ui.info(f"topic {plan.topic}: {len(plan.partitions)} partition(s) on {broker}" + (f", group {req.group}" if req.group else ""))
    for line in proc.describe_ranges(plan):
        ui.info("  " + line)
    for note in plan.notes:
        ui.info(note)
    timeout = req.timeout
    stops = [
        s
        for s, on in (
            ("at the end", req.exit_at_end),
            (f"after {req.max_messages} messages", req.max_messages),
            (f"after {timeout:g}s without a message" if timeout else "", timeout),
        )
        if on
    ]
    ui.info(f"waiting for messages on {plan.topic}" + (f" (stopping {' or '.join(stops)})" if stops else "") + "; Ctrl+C to stop")


def render_end(result: "ConsumeResult", req: "ConsumeRequest") -> None:
    """On stderr: the session's warnings, then how many messages were shown, why it stopped, what was committed."""
    from kafkaops import ui

    for w in result.warnings:
        ui.warn(w)
    why = {
        "end": "reached the end",
        "max-messages": "reached --max-messages",
        "timeout": f"no message for {req.timeout:g}s" if req.timeout else "",
        "interrupted": "interrupted",
        "output-closed": "output closed",
    }.get(result.stopped_by, result.stopped_by)
    committed = ""
    if req.group and result.committed:
        committed = "; committed for group " + req.group + ": " + ", ".join(f"partition {p} at {o}" for p, o in sorted(result.committed.items()))
    ui.info(f"Consumed {result.consumed} message{'s' if result.consumed != 1 else ''} ({why}){committed}")
