"""kafkaops bundle: one archive to attach to a question (over procedures.bundle)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any

import typer


def register(app: typer.Typer) -> None:
    app.command("bundle")(bundle)


def bundle(
    ctx: typer.Context,
    file: Annotated[
        Path | None, typer.Argument(help="The zip to write (default: kafkaops-bundle-<UTC time>.zip in the current folder); never overwritten.")
    ] = None,
    lines: Annotated[int, typer.Option("--lines", "-n", help="How many of the last lines of each service log to include.")] = 200,
) -> None:
    """Write one zip a user can attach to a question: versions, settings and configs, status, doctor, log tails.

    Inside: versions.json (kafkaops, Python, Java, Kafka, PostgreSQL when reachable, OS), settings.json
    (each setting with where it came from), environment.json (KAFKA*, KAFKAOPS*, DATABASE_URL), status.json
    and doctor.json (as --json prints them), config/ (the services' .properties files), logs/ (the last
    --lines lines of each service log) and README.txt (what is inside, and whether the stack was up).
    Every password, secret, token and DSN password is replaced by ***. Works with the services down.

    Example: kafkaops bundle --lines 500
    """
    from kafkaops import ui
    from kafkaops.cli import get_settings
    from kafkaops.errors import UsageError
    from kafkaops.procedures import bundle as bundling

    if lines < 0:
        raise UsageError(f"--lines must be 0 or more (got {lines})")
    settings = get_settings(ctx)
    path = file or Path.cwd() / bundling.default_name()
    if path.exists():  # before the slow part
        bundling.write(path, {})
    with ui.spinner("collecting status, doctor, configs and logs"):
        status, doctor = _status(settings), _doctor(settings)
        members = bundling.build(settings, dict(os.environ), status=status, doctor=doctor, postgresql=_postgresql(doctor), lines=lines)
    bundling.write(path, members)
    ui.success(f"wrote {path} ({len(members)} files)" + ("" if status.get("up") else "; the stack is not up: the bundle says so"))
    ui.print_lines([str(path)])


def _status(settings: Any) -> dict[str, Any]:
    from kafkaops.cli.stack import status_document
    from kafkaops.errors import KafkaopsError
    from kafkaops.procedures import services

    try:
        return status_document(services.status(settings))
    except KafkaopsError as exc:
        return {"up": False, "error": exc.message, "services": []}


def _doctor(settings: Any) -> dict[str, Any]:
    from kafkaops.doctor import run_doctor
    from kafkaops.errors import KafkaopsError

    try:
        return run_doctor(settings, canary=False).to_dict()  # type: ignore[no-any-return]
    except KafkaopsError as exc:
        return {"error": exc.message}


def _postgresql(doctor: dict[str, Any]) -> str | None:
    """The server version the doctor's database check read ("PostgreSQL 16.4 at ..."), when it answered."""
    for check in doctor.get("checks", []):
        m = re.match(r"PostgreSQL (\d+\.\d+)", str(check.get("finding", "")))
        if m:
            return m.group(1)
    return None
