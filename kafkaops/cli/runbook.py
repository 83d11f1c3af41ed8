"""kafkaops runbook [NAME [SECTION]]."""

from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    app.command("runbook")(runbook)


def runbook(
    name: Annotated[str | None, typer.Argument(help="A runbook (see the list), e.g. failures.", show_default=False)] = None,
    section: Annotated[
        str | None,
        typer.Argument(help="A section's anchor, e.g. port-in-use (as in `see: kafkaops runbook failures port-in-use`).", show_default=False),
    ] = None,
    sections: Annotated[bool, typer.Option("--sections", help="List the sections of NAME (their anchors) instead of showing it.")] = False,
    json_: Annotated[bool, typer.Option("--json", help="With no NAME or with --sections: print one JSON document on stdout.")] = False,
) -> None:
    """Read the runbooks: what each command does, and how to fix each known failure, by hand too.

    Without NAME, list the runbooks. With NAME, show it (rendered on a terminal, plain Markdown when
    stdout is a pipe or a file); with a SECTION, only that section.

    Example: kafkaops runbook failures stale-broker-registration
    """
    from kafkaops import ui
    from kafkaops.procedures import runbooks

    if name is None:
        books = runbooks.list_runbooks()
        if json_:
            ui.print_json([{"name": b.name, "title": b.title, "file": b.path.name} for b in books])
        else:
            ui.print_table(None, ["runbook", "title"], [[b.name, b.title] for b in books])
            ui.info("read one with: kafkaops runbook NAME [SECTION]")
        return
    if sections:
        book = runbooks.find_runbook(runbooks.parse_reference(name)[0])
        found = [h for h in runbooks.headings(runbooks.read(book)) if h.level > 1]
        if json_:
            ui.print_json([{"anchor": h.anchor, "title": h.title, "level": h.level} for h in found])
        else:
            ui.print_lines([("  " * (h.level - 2)) + h.anchor for h in found])
        return
    if section is None:
        _, text = runbooks.resolve(name)  # also "failures#port-in-use", "failures.md#port-in-use"
    else:
        _, text = runbooks.load(name, section)
    ui.markdown(text)
