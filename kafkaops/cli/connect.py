"""kafkaops connect up | down | status | logs: Kafka Connect workers in distributed mode."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from kafkaops.procedures.connect.workers import Worker

connect_app = typer.Typer(
    name="connect",
    help="Kafka Connect in distributed mode: workers on this machine (installed by `kafkaops install --with connect`), "
    "or a remote Connect cluster (KAFKA_CONNECT_URL: status and logs-free commands only).",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def register(app: typer.Typer) -> None:
    app.add_typer(connect_app)


@connect_app.command("up")
def up(
    ctx: typer.Context,
    workers: Annotated[int, typer.Option("--workers", help="How many workers run here (same group id: one Connect cluster). Running ones are kept.")] = 1,
    port: Annotated[int | None, typer.Option("--port", help="REST port of the first worker (default 8083); further workers take the next free ports.")] = None,
) -> None:
    """Start Connect worker(s) against the broker and wait until each answers GET / and GET /connectors.

    The internal topics (kafkaops-connect-configs/-offsets/-status) get a replication factor of 3, or the
    number of brokers when fewer. Each worker has its own properties (KAFKAOPS_HOME/conf/connect-N.properties),
    pid file and log (`kafkaops connect logs`). Refused (exit 5) when KAFKA_CONNECT_URL names a remote cluster,
    or when the REST port is taken (its owner is named).

    Example: kafkaops connect up

    Example: kafkaops connect up --workers 2 --port 18083
    """
    from kafkaops import ui
    from kafkaops.adapters import kafka
    from kafkaops.adapters.java import find_java
    from kafkaops.cli import get_settings
    from kafkaops.procedures.connect import workers as proc

    settings = get_settings(ctx)
    proc.refuse_remote(settings, "start")
    java = find_java(settings.java)
    brokers = len(kafka.metadata(settings).brokers)
    with ui.spinner("starting Kafka Connect") as status:
        result = proc.up(settings, java.path, brokers, workers=workers, port=port, progress=lambda msg: status.update(msg))
    for w in result:
        verb = "started" if w.started else "already running"
        ui.success(f"{w.name} {verb}: {w.url} (pid {w.pid}, Kafka Connect {w.version})")


@connect_app.command("down")
def down(
    ctx: typer.Context,
    force: Annotated[bool, typer.Option("--force", help="Kill a worker that does not stop within KAFKAOPS_STOP_TIMEOUT.")] = False,
) -> None:
    """Stop every Connect worker kafkaops started here (the last one first). Its connectors keep their offsets.

    Example: kafkaops connect down
    """
    from kafkaops import ui
    from kafkaops.cli import get_settings
    from kafkaops.procedures.connect import workers as proc

    settings = get_settings(ctx)
    with ui.spinner("stopping Kafka Connect") as status:
        result = proc.down(settings, force=force, progress=lambda msg: status.update(msg))
    if not result:
        ui.success("no Connect worker runs here (nothing to do)")
    for w in result:
        ui.success(f"{w.name} {w.state}" + (f" ({w.detail})" if w.detail else f" (pid {w.pid})"))


@connect_app.command("status")
def status(
    ctx: typer.Context,
    json_: Annotated[bool, typer.Option("--json", help="One JSON document on stdout: the workers and their connectors.")] = False,
) -> None:
    """Each worker (or the remote cluster at KAFKA_CONNECT_URL): state, REST URL, pid, version, connectors.

    Exit 3 when no worker runs (or one is still starting), 4 when the remote cluster does not answer.

    Example: kafkaops connect status --json
    """
    from kafkaops import ui
    from kafkaops.cli import get_settings
    from kafkaops.errors import ExitCode
    from kafkaops.procedures.connect import workers as proc

    settings = get_settings(ctx)
    result = proc.status(settings)
    if json_:
        ui.print_json({"remote": settings.connect_url is not None, "workers": [as_dict(w) for w in result]})
    elif result:
        rows = [[w.name, w.state, w.url or "", w.pid or "", w.version or "", ", ".join(w.connectors) or w.detail or ""] for w in result]
        ui.print_table(None, ["worker", "state", "url", "pid", "version", "connectors"], rows)
    else:
        ui.info("no Connect worker runs here (start one: kafkaops connect up)")
    if any(w.state == "unreachable" for w in result):
        raise typer.Exit(int(ExitCode.UNREACHABLE))
    if not any(w.state == "running" for w in result) or any(w.state == "starting" for w in result):
        raise typer.Exit(int(ExitCode.NOT_READY))


def as_dict(w: Worker) -> dict[str, object]:
    return {"name": w.name, "state": w.state, "url": w.url, "pid": w.pid, "version": w.version, "connectors": w.connectors, "detail": w.detail}


@connect_app.command("logs")
def logs(
    ctx: typer.Context,
    worker: Annotated[int, typer.Option("--worker", help="Which local worker (1, 2, ...).")] = 1,
    lines: Annotated[int, typer.Option("--lines", "-n", help="How many of the last lines to print.")] = 50,
) -> None:
    """Print the last lines of a local worker's log (KAFKAOPS_HOME/logs/connect-N/server.log).

    Then, on stderr, each known failure in the log since the worker's last start (a taken REST port, the
    Debezium plugin missing, the broker unreachable, internal topics with too large a replication factor,
    Debezium's wal_level and replication slot errors) with its remedy and runbook section.

    Example: kafkaops connect logs --worker 2 -n 100
    """
    from kafkaops import ui
    from kafkaops.cli import get_settings
    from kafkaops.procedures.connect import workers as proc
    from kafkaops.procedures.services.launch import tail_lines

    path = proc.worker_log(get_settings(ctx), worker)
    ui.print_lines(tail_lines(path.read_text(encoding="utf-8", errors="replace"), lines))
    for f, count in proc.log_findings(path):
        times = f" ({count} times)" if count > 1 else ""
        ui.warn(
            f"{path.name}:{f.line_no} [{f.timestamp or '?'}] {f.signature.title}{times}: {f.signature.remedy} (see: kafkaops runbook {f.signature.runbook})"
        )
