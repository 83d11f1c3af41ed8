"""kafkaops consume: parse, call the consume procedure, render (the plan and the summary on stderr,
the messages on stdout)."""

import functools
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from kafkaops.adapters.consumer import Message
    from kafkaops.procedures.consume import ConsumeRequest, ConsumeResult, StartPlan

FORMATS = ("pretty", "json", "raw")

TopicArg = Annotated[str | None, typer.Argument(help="The topic to read (env KAFKA_TOPIC).", show_default=False)]
FromBeginning = Annotated[bool, typer.Option("--from-beginning", help="Start at the oldest message kept, even when the group has committed offsets.")]
Group = Annotated[str | None, typer.Option("--group", "-g", help="Read as this consumer group and commit what was shown. Default: no group, commit nothing.")]
MaxMessages = Annotated[int | None, typer.Option("--max-messages", "-n", help="Stop after this many messages.")]
Timeout = Annotated[float | None, typer.Option("--timeout", help="Stop after this many seconds without a message.")]
ExitAtEnd = Annotated[bool, typer.Option("--exit-at-end", "-e", help="Stop once every partition is read up to its end as of start.")]
Partition = Annotated[int | None, typer.Option("--partition", "-p", help="Read only this partition (no group).")]
Offset = Annotated[str | None, typer.Option("--offset", help="With --partition: start at this offset, or 'earliest' / 'latest'.")]
Format = Annotated[
    str | None,
    typer.Option("--format", "-f", help="pretty | json | raw. Default: pretty on a terminal, json when stdout is a pipe or file."),
]
_TIME_FORMS = "ISO-8601 (2026-05-01T10:00:00Z; without a zone it is this machine's local time), -15m / -2h / -1d / -90s, @<epoch-millis>, or now"
FromTime = Annotated[
    str | None,
    typer.Option(
        "--from",
        help="Start each partition at its first message stamped at or after TIME (the broker's offsets-for-times lookup;"
        f" a partition with none starts at its end). TIME: {_TIME_FORMS}.",
        show_default=False,
    ),
]
UntilTime = Annotated[
    str | None,
    typer.Option(
        "--until",
        help="Stop each partition at its first message stamped after TIME; end once every partition passed it or, when TIME"
        " has come, reached its end. Same TIME forms as --from.",
        show_default=False,
    ),
]
Isolation = Annotated[
    str,
    typer.Option(
        "--isolation",
        help="read_committed (default: events of aborted or still open transactions are not shown, so an exactly-once pipeline's crash leaves no duplicates) or read_uncommitted (everything written, like Kafka's console consumer).",
    ),
]
Keys = Annotated[bool | None, typer.Option("--keys/--no-keys", help="Show message keys. Default: yes for pretty and json, no for raw.")]


def register(app: typer.Typer) -> None:
    app.command("consume")(consume)


def consume(
    ctx: typer.Context,
    topic: TopicArg = None,
    from_beginning: FromBeginning = False,
    group: Group = None,
    max_messages: MaxMessages = None,
    timeout: Timeout = None,
    exit_at_end: ExitAtEnd = False,
    partition: Partition = None,
    offset: Offset = None,
    from_: FromTime = None,
    until: UntilTime = None,
    fmt: Format = None,
    keys: Keys = None,
    isolation: Isolation = "read_committed",
) -> None:
    """Read messages from a topic to stdout, saying on stderr where reading starts and why.

    Without --group nothing is committed, so two runs behave the same. With --group the group's
    committed offsets decide where reading starts (it says so), --from-beginning really starts at
    the beginning, and what was shown is committed. Ctrl+C stops cleanly (exit code 130).
    --from TIME / --until TIME read a window of time (with --group, --from wins over the committed
    offsets for this run, and the group commits up to the last message shown).

    Example: kafkaops consume --from-beginning --exit-at-end --format json | jq .value

    Example: kafkaops consume --from -1h --until -30m --format json
    """
    from kafkaops import ui
    from kafkaops.cli import get_settings
    from kafkaops.cli.interrupt import graceful_stop
    from kafkaops.procedures import consume as proc

    from_time, until_time = _times(from_, until)
    settings = get_settings(ctx, kafka_topic=topic)
    fmt = output_format(fmt)
    req = proc.ConsumeRequest(
        topic=settings.kafka_topic,
        group=group,
        from_beginning=from_beginning,
        partition=partition,
        offset=proc.parse_offset(offset),
        max_messages=max_messages,
        timeout=timeout,
        exit_at_end=exit_at_end,
        from_time=from_time,
        until_time=until_time,
        isolation=isolation,
    )
    with graceful_stop() as stop:
        on_start = functools.partial(render_start, req=req, broker=settings.kafka_broker)
        result = proc.consume(settings, req, writer(fmt, keys, req.topic), on_start=on_start, stop=stop, notice=ui.warn)
    render_end(result, req)
    finish(result)


def _times(from_: str | None, until: str | None) -> tuple[int | None, int | None]:
    """--from and --until as epoch milliseconds, relative ones against the same now."""
    from kafkaops.procedures.timespec import now_ms, parse_time

    now = now_ms()
    return (
        None if from_ is None else parse_time(from_, "--from", now),
        None if until is None else parse_time(until, "--until", now),
    )


def output_format(fmt: str | None) -> str:
    """--format, or its default: pretty on a terminal, json when stdout is a pipe or a file."""
    from kafkaops.errors import UsageError

    if fmt is None:
        return "pretty" if sys.stdout.isatty() else "json"
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r} is not one of {', '.join(FORMATS)}")
    return fmt


def finish(result: "ConsumeResult") -> None:
    """After the read: a closed stdout is silenced so the exit flush cannot fail; Ctrl+C exits 130."""
    from kafkaops.errors import ExitCode

    if result.stopped_by == "output-closed":
        _silence_closed_stdout()
    if result.stopped_by == "interrupted":
        raise typer.Exit(int(ExitCode.INTERRUPTED))


def _silence_closed_stdout() -> None:
    """After the reader of a pipe went away: point stdout at /dev/null so the exit flush cannot fail."""
    import os

    try:
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _write(data: bytes) -> None:
    """To stdout as bytes (a text-only stdout, as in tests, gets them decoded); a closed pipe stops the read."""
    from kafkaops.procedures.consume import OutputClosed

    try:
        if hasattr(sys.stdout, "buffer"):
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        else:
            sys.stdout.write(data.decode("utf-8", errors="replace"))
            sys.stdout.flush()
    except BrokenPipeError:
        raise OutputClosed() from None


def write_json(batch: "list[Message]", keys: bool, topic: str) -> None:
    from kafkaops.procedures.consume import json_lines

    _write(json_lines(batch, keys=keys, topic=topic))


def write_raw(batch: "list[Message]", keys: bool, topic: str) -> None:
    from kafkaops.procedures.consume import raw_lines

    _write(raw_lines(batch, keys=keys))


def write_pretty(batch: "list[Message]", keys: bool, topic: str) -> None:
    """For a person: a header line per message (partition, offset, key, time), its headers, then the value."""
    from kafkaops import ui
    from kafkaops.procedures import consume as proc

    try:
        for m in batch:
            head = [f"partition {m.partition()}", f"offset {m.offset()}"]
            if keys:
                key, key_fmt = proc.decode_key(m.key())
                head.append("key " + ("(none)" if key is None else f"base64:{key}" if key_fmt == "base64" else key))
            ts_type, ts = m.timestamp()
            if ts_type:
                head.append(proc.iso_ms(ts))
            value, fmt, _ = proc.decode_value(m.value())
            ui.print_message("  ".join(head), value, fmt, [proc.header_line(*h) for h in proc.decode_headers(m.headers())])
    except BrokenPipeError:
        raise proc.OutputClosed() from None


def writer(fmt: str, keys: bool | None, topic: str) -> "Callable[[list[Message]], None]":
    """What writes each batch to stdout: JSON lines, raw values, or pretty (with headers); keys shown by
    default except in raw."""
    write = {"json": write_json, "raw": write_raw}.get(fmt, write_pretty)
    return functools.partial(write, keys=keys if keys is not None else fmt != "raw", topic=topic)


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
            (f"at the first message after {proc.iso_ms(req.until_time or 0)}", req.until_time is not None),
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
        "until": "passed --until",
        "max-messages": "reached --max-messages",
        "timeout": f"no message for {req.timeout:g}s" if req.timeout else "",
        "interrupted": "interrupted",
        "output-closed": "output closed",
    }.get(result.stopped_by, result.stopped_by)
    committed = ""
    if req.group and result.committed:
        committed = "; committed for group " + req.group + ": " + ", ".join(f"partition {p} at {o}" for p, o in sorted(result.committed.items()))
    ui.info(f"Consumed {result.consumed} message{'s' if result.consumed != 1 else ''} ({why}){committed}")
