"""The generated CLI reference (runbooks/cli-reference.md), built from the Typer app itself.

Regenerate after changing a command or an option:

    python -m kafkaops.cli.reference --write-reference

``--check`` exits 1 when the file on disk differs from what the app would generate now.
This module is not mounted on the app; it is imported by the tests and run by hand.
"""

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
import typer.main

HEADER = """\
# CLI reference

Every command and option of kafkaops, generated from the command-line app itself. Do not edit by
hand: regenerate with `python -m kafkaops.cli.reference --write-reference`. A test fails when this
file is out of date. For what the commands are for, read the other runbooks (`kafkaops runbook`).
"""


@dataclass(frozen=True)
class CommandInfo:
    path: tuple[str, ...]  # ("kafkaops", "topics", "create")
    command: Any
    ctx: Any

    @property
    def name(self) -> str:
        return " ".join(self.path)

    @property
    def is_group(self) -> bool:
        return hasattr(self.command, "list_commands")


def walk(app: typer.Typer | None = None) -> Iterator[CommandInfo]:
    """The root command, then every visible command and group below it, depth first, by name."""
    if app is None:
        from kafkaops.cli import app as root_app

        app = root_app
    root = typer.main.get_command(app)
    ctx = typer.Context(root, info_name="kafkaops")
    yield from _walk(root, ctx, ("kafkaops",))


def _walk(command: Any, ctx: Any, path: tuple[str, ...]) -> Iterator[CommandInfo]:
    yield CommandInfo(path, command, ctx)
    if not hasattr(command, "list_commands"):
        return
    for name in sorted(command.list_commands(ctx)):
        sub = command.get_command(ctx, name)
        if sub is None or getattr(sub, "hidden", False):
            continue
        yield from _walk(sub, typer.Context(sub, info_name=name, parent=ctx), (*path, name))


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _section(info: CommandInfo) -> list[str]:
    cmd, ctx = info.command, info.ctx
    lines = [f"## `{info.name}`", ""]
    if cmd.help:
        lines += [cmd.help.strip().replace("\b\n", ""), ""]
    usage = " ".join([ctx.command_path, *cmd.collect_usage_pieces(ctx)])  # not get_usage(): it wraps at the terminal width
    lines += ["```", usage, "```", ""]
    args: list[tuple[str, str]] = []
    opts: list[tuple[str, str]] = []
    for param in cmd.get_params(ctx):
        if getattr(param, "hidden", False):
            continue
        record = param.get_help_record(ctx)
        if record is None:
            continue
        (args if param.param_type_name == "argument" else opts).append(record)
    for title, records in (("Arguments", args), ("Options", opts)):
        if not records:
            continue
        lines += [f"| {title[:-1]} | Meaning |", "|---|---|"]
        lines += [f"| `{_cell(names)}` | {_cell(help_)} |" for names, help_ in records]
        lines.append("")
    if info.is_group:
        subs = [(name, cmd.get_command(ctx, name)) for name in sorted(cmd.list_commands(ctx))]
        subs = [(n, c) for n, c in subs if c is not None and not getattr(c, "hidden", False)]
        if subs:
            lines += ["Commands:", ""]
            lines += [f"- [`{info.name} {n}`](#{_anchor(f'{info.name} {n}')}): {_cell(c.get_short_help_str(limit=200))}" for n, c in subs]
            lines.append("")
    return lines


def _anchor(name: str) -> str:
    from kafkaops.procedures.runbooks import slugify

    return slugify(f"`{name}`")


def generate(app: typer.Typer | None = None) -> str:
    lines = [HEADER]
    for info in walk(app):
        lines += _section(info)
    return "\n".join(lines).rstrip() + "\n"


def reference_path() -> Path:
    from kafkaops.procedures.runbooks import REFERENCE_FILE, source_dir

    folder = source_dir()
    if folder is None:
        raise SystemExit("no runbooks/ folder: run this from a source checkout of kafkaops")
    return folder / REFERENCE_FILE


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["--write-reference"]:
        path = reference_path()
        path.write_text(generate(), encoding="utf-8")
        print(f"wrote {path}")
        return 0
    if args == ["--check"]:
        path = reference_path()
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != generate():
            print(f"{path} is out of date: run python -m kafkaops.cli.reference --write-reference", file=sys.stderr)
            return 1
        print(f"{path} is up to date")
        return 0
    print("usage: python -m kafkaops.cli.reference --write-reference | --check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
