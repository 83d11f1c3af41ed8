"""All terminal output goes through here; this is the only module that imports rich.

stdout carries data (tables, JSON, consumed messages); stderr carries talk (progress, warnings,
errors). rich honours NO_COLOR and drops styling when a stream is not a terminal. On a pipe or a file
the lines and simple tables are written here as plain text, the same characters rich would print, and
rich is not imported at all: it costs a short command such as `topics list` a sixth of its CPU time.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TextIO

from kafkaops.errors import KafkaopsError
from kafkaops.redact import redact_text

if TYPE_CHECKING:
    from rich.console import Console


def escape(text: str) -> str:
    from rich.markup import escape as rich_escape

    return rich_escape(text)


class _LazyConsole:
    """A rich Console made at its first use. Output to a pipe or a file is plain text written here
    (see _plain), so a command whose output is not a terminal never imports rich (start-up time)."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self.console: Console | None = None

    def real(self) -> Console:
        if self.console is None:
            from rich.console import Console

            self.console = Console(**self._options)
        return self.console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real(), name)


out: Any = _LazyConsole(soft_wrap=True)
err: Any = _LazyConsole(stderr=True, soft_wrap=True)
_CONTROL = dict.fromkeys((7, 8, 11, 12, 13))  # what rich strips from printed text


def _real(console: Any) -> Console:
    return console.real() if isinstance(console, _LazyConsole) else console  # type: ignore[no-any-return]


def _plain(console: Any, stream: TextIO) -> bool:
    """Whether plain text serves: the console is kafkaops's own, not made yet (a test may swap in its own)
    and its stream is no terminal (rich would print the same characters, no styles)."""
    if not isinstance(console, _LazyConsole) or console.console is not None:
        return False
    if any(os.environ.get(v) for v in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")):
        return False
    try:
        return not stream.isatty()
    except (AttributeError, ValueError):
        return False


def _say(prefix: str, markup_prefix: str, message: str, **options: Any) -> None:
    """A line on stderr: ``prefix`` + the (redacted) message; ``markup_prefix`` is the styled prefix for rich."""
    text = redact_text(message)
    if _plain(err, sys.stderr):
        sys.stderr.write(prefix + text.translate(_CONTROL) + "\n")
        sys.stderr.flush()
    else:
        err.print(markup_prefix + escape(text), **options)


def info(message: str) -> None:
    _say("", "", message)


def step(message: str) -> None:
    _say("• ", "[cyan]•[/cyan] ", message)


def success(message: str) -> None:
    _say("✓ ", "[green]✓[/green] ", message)


def warn(message: str) -> None:
    _say("warning: ", "[yellow]warning:[/yellow] ", message)


def error(exc: KafkaopsError) -> None:
    _say("error: ", "[red]error:[/red] ", exc.message)
    for line in exc.details:
        _say("  ", "  ", line, highlight=False)
    if exc.hint:
        _say("hint: ", "[bold]hint:[/bold] ", exc.hint)
    if exc.runbook:
        _say("see: kafkaops runbook ", "see: kafkaops runbook ", exc.runbook)


def is_terminal() -> bool:
    return not _plain(err, sys.stderr) and bool(err.is_terminal)


def stdin_is_terminal() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


@contextmanager
def spinner(message: str) -> Iterator[Any]:
    """A spinner on stderr while slow work runs; on a non-terminal, one line instead."""
    if is_terminal():
        with err.status(escape(message)) as status:
            yield status
    else:
        _say("", "", message + " ...")

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
    cells = [["" if cell is None else str(cell) for cell in row] for row in rows]
    if title is None and _plain(out, sys.stdout) and (text := plain_table(columns, cells)) is not None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    for col in columns:
        table.add_column(col)
    for row in cells:
        table.add_row(*(escape(cell) for cell in row))
    if out.is_terminal:
        out.print(table)
    else:
        Console(file=sys.stdout, width=100_000, soft_wrap=True).print(table)


def plain_table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str | None:
    """The characters rich prints for such a table on a pipe (heavy head, no edge), without rich;
    None when a cell is not plain printable ASCII (wide or combining characters: rich measures those)."""
    if not columns or any(len(row) != len(columns) for row in rows):
        return None
    if not all(c.isascii() and c.isprintable() for c in (*columns, *(cell for row in rows for cell in row))):
        return None
    widths = [max([len(c), *(len(row[i]) for row in rows)]) for i, c in enumerate(columns)]

    def line(cells: Sequence[str], sep: str) -> str:
        return f" {sep} ".join(cell.ljust(w) for cell, w in zip(cells, widths, strict=True)) + "\n"

    last = len(widths) - 1
    rule = "╇".join("━" * (w + (i > 0) + (i < last)) for i, w in enumerate(widths)) + "\n"
    return line(columns, "┃") + rule + "".join(line(row, "│") for row in rows)


def print_lines(lines: Sequence[str]) -> None:
    for line in lines:
        sys.stdout.write(line + ("" if line.endswith("\n") else "\n"))
    sys.stdout.flush()


def confirm(question: str) -> bool:
    from rich.prompt import Confirm

    return Confirm.ask(question, console=_real(err), default=False)


@contextmanager
def progress(description: str, total: int, unit: str = "rows") -> Iterator[Callable[[int, int], None]]:
    """A progress bar with a rate (``unit``/s) on stderr when it is a terminal; silent otherwise.

    Yields ``update(done, total)``.
    """
    if not is_terminal():
        yield lambda done, total_: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn
    from rich.text import Text

    class _Rate(ProgressColumn):
        def render(self, task: Any) -> Text:
            speed = task.finished_speed or task.speed
            return Text(f"{speed:,.0f} {unit}/s" if speed else f"- {unit}/s")

    bar = Progress(TextColumn(escape(description)), BarColumn(), MofNCompleteColumn(), _Rate(), TimeElapsedColumn(), console=_real(err), transient=False)
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
    from rich.table import Table
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

    from rich.console import Console

    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    console.print(renderable)
    return console.export_text()


@contextmanager
def live() -> Iterator[Callable[[Sequence[Section], Sequence[str]], None]]:
    """A view on stdout redrawn in place; yields ``show(sections, footer)``. The last picture stays when it ends."""
    from rich.live import Live

    with Live(console=_real(out), auto_refresh=False, transient=False, redirect_stdout=False, redirect_stderr=False) as view:

        def show(parts: Sequence[Section], footer: Sequence[str] = ()) -> None:
            view.update(sections(parts, footer), refresh=True)

        yield show


def stdout_is_terminal() -> bool:
    return not _plain(out, sys.stdout) and bool(out.is_terminal)
