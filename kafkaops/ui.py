"""All terminal output goes through here; this is the only module that imports rich.

stdout carries data (tables, JSON, consumed messages); stderr carries talk (progress, warnings,
errors). rich honours NO_COLOR and drops styling when a stream is not a terminal.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from kafkaops.errors import KafkaopsError
from kafkaops.redact import redact_text

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def info(message: str) -> None:
    err.print(escape(redact_text(message)))


def step(message: str) -> None:
    err.print(f"[cyan]•[/cyan] {escape(redact_text(message))}")


def success(message: str) -> None:
    err.print(f"[green]✓[/green] {escape(redact_text(message))}")


def warn(message: str) -> None:
    err.print(f"[yellow]warning:[/yellow] {escape(redact_text(message))}")


def error(exc: KafkaopsError) -> None:
    err.print(f"[red]error:[/red] {escape(redact_text(exc.message))}")
    for line in exc.details:
        err.print(f"  {escape(redact_text(line))}", highlight=False)
    if exc.hint:
        err.print(f"[bold]hint:[/bold] {escape(redact_text(exc.hint))}")
    if exc.runbook:
        err.print(f"see: kafkaops runbook {escape(exc.runbook)}")


def is_terminal() -> bool:
    return err.is_terminal


def stdin_is_terminal() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


@contextmanager
def spinner(message: str) -> Iterator[Any]:
    """A spinner on stderr while slow work runs; on a non-terminal, one line instead."""
    if err.is_terminal:
        with err.status(escape(message)) as status:
            yield status
    else:
        err.print(escape(message) + " ...")

        class _Quiet:
            def update(self, *_: object, **__: object) -> None:
                return None

        yield _Quiet()


def print_json(data: Any) -> None:
    """One JSON document on stdout (plain, so that scripts and jq can read it)."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    sys.stdout.flush()


def print_table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A table on stdout. On a pipe or file it keeps its natural width: no cell is cut to '…'."""
    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*("" if cell is None else escape(str(cell)) for cell in row))
    if out.is_terminal:
        out.print(table)
    else:
        Console(file=sys.stdout, width=100_000, soft_wrap=True).print(table)


def print_lines(lines: Sequence[str]) -> None:
    for line in lines:
        sys.stdout.write(line + ("" if line.endswith("\n") else "\n"))
    sys.stdout.flush()


def confirm(question: str) -> bool:
    from rich.prompt import Confirm

    return Confirm.ask(question, console=err, default=False)


@contextmanager
def progress(description: str, total: int, unit: str = "rows") -> Iterator[Callable[[int, int], None]]:
    """A progress bar with a rate (``unit``/s) on stderr when it is a terminal; silent otherwise.

    Yields ``update(done, total)``.
    """
    if not err.is_terminal:
        yield lambda done, total_: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn
    from rich.text import Text

    class _Rate(ProgressColumn):
        def render(self, task: Any) -> Text:
            speed = task.finished_speed or task.speed
            return Text(f"{speed:,.0f} {unit}/s" if speed else f"- {unit}/s")

    bar = Progress(TextColumn(escape(description)), BarColumn(), MofNCompleteColumn(), _Rate(), TimeElapsedColumn(), console=err, transient=False)
    with bar:
        task = bar.add_task(description, total=total or None)

        def update(done: int, total_: int) -> None:
            bar.update(task, completed=done, total=total_ or None)

        yield update


def markdown(text: str) -> None:
    """Markdown on stdout: rendered by rich on a terminal, the plain text when stdout is a pipe or a file."""
    if out.is_terminal:
        from rich.markdown import Markdown

        out.print(Markdown(text, hyperlinks=False), soft_wrap=False)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()


def print_message(header: str, value: Any, value_format: str | None, details: Sequence[str] = ()) -> None:
    """One consumed message for a person: a dim header line (and dim detail lines, such as the message's
    headers, indented), then the value (JSON highlighted)."""
    out.print(escape(header), style="dim", highlight=False)
    for line in details:
        out.print("  " + escape(line), style="dim", highlight=False)
    if value_format == "json":
        compact = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
        out.print_json(compact, indent=None if len(compact) <= max(out.width - 2, 40) else 2)
    elif value_format == "text":
        out.print(escape(str(value)), highlight=False)
    elif value_format == "base64":
        out.print(f"[magenta]<binary, not UTF-8; base64>[/magenta] {escape(str(value))}", highlight=False)
    else:
        out.print("[dim](null value)[/dim]", highlight=False)


def print_data_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    print_table(None, columns, rows)


Section = tuple[str, Sequence[str], Sequence[Sequence[Any]]]  # title, columns, rows


def print_json_line(data: Any) -> None:
    """One JSON document on one line of stdout (a stream of them: one per refresh)."""
    sys.stdout.write(json.dumps(data, default=str, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def sections(parts: Sequence[Section], footer: Sequence[str] = ()) -> Any:
    """Tables under their titles, then footer lines: one renderable (for live())."""
    from rich.console import Group
    from rich.text import Text

    shown: list[Any] = []
    for title, columns, rows in parts:
        shown.append(Text(redact_text(title), style="bold"))  # above the table, never wrapped to its width
        if columns:
            table = Table(show_edge=False, pad_edge=False)
            for col in columns:
                table.add_column(col)
            for row in rows:
                table.add_row(*("" if cell is None else escape(str(cell)) for cell in row))
            shown.append(table)
        shown.append(Text(""))
    shown += [Text(redact_text(line), style="dim", overflow="fold") for line in footer]
    return Group(*shown)


def render_text(renderable: Any, width: int = 120) -> str:
    """What ``renderable`` looks like, as plain text (tests, and anything that wants the picture without a terminal)."""
    import io

    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    console.print(renderable)
    return console.export_text()


@contextmanager
def live() -> Iterator[Callable[[Sequence[Section], Sequence[str]], None]]:
    """A view on stdout redrawn in place; yields ``show(sections, footer)``. The last picture stays when it ends."""
    from rich.live import Live

    with Live(console=out, auto_refresh=False, transient=False, redirect_stdout=False, redirect_stderr=False) as view:

        def show(parts: Sequence[Section], footer: Sequence[str] = ()) -> None:
            view.update(sections(parts, footer), refresh=True)

        yield show


def stdout_is_terminal() -> bool:
    return out.is_terminal
