"""kafkaops up | down | status | logs: the stack's verbs (over procedures.services.stack)."""

import time
from contextlib import nullcontext
from dataclasses import asdict
from typing import Annotated, Any

import typer

from kafkaops.errors import ExitCode
from kafkaops.text import format_uptime

WATCH_INTERVAL_HELP = "Seconds between two refreshes of --watch."
WATCH_COUNT_HELP = "Stop --watch after this many refreshes (default: until Ctrl+C)."


def register(app: typer.Typer) -> None:
    app.command("up")(up)
    app.command("down")(down)
    app.command("status")(status)
    app.command("logs")(logs)


def up(
    ctx: typer.Context,
    topic: Annotated[str | None, typer.Option("--topic", help="The pipeline topic to ensure (env KAFKA_TOPIC).")] = None,
    partitions: Annotated[int | None, typer.Option("--partitions", help="Partitions if the topic is created (env KAFKA_TOPIC_PARTITIONS).")] = None,
    replication_factor: Annotated[
        int | None, typer.Option("--replication-factor", help="Replication factor if the topic is created (env KAFKA_TOPIC_REPLICATION_FACTOR).")
    ] = None,
    timeout: Annotated[float | None, typer.Option("--timeout", help="Seconds each service may take to be ready (env KAFKAOPS_START_TIMEOUT).")] = None,
    no_topic: Annotated[bool, typer.Option("--no-topic", help="Start the services only; do not create the topic.")] = False,
    mode: Annotated[
        str | None, typer.Option("--mode", help="zookeeper or kraft (env KAFKAOPS_MODE): which installation to start when KAFKA_HOME is unset.")
    ] = None,
    with_: Annotated[
        list[str] | None,
        typer.Option(
            "--with",
            help="Also start: connect (Kafka Connect workers, after the broker, as `kafkaops connect up` starts them: the worker count "
            "and first REST port they last had here, else one worker on 8083).",
        ),
    ] = None,
) -> None:
    """Start ZooKeeper, then the broker, then make sure the pipeline topic exists; return when really ready.

    In KRaft mode (server.properties has process.roles) the KRaft node starts instead: formatted with a
    new cluster id on the first start; a split layout (controller.properties beside a broker-only
    server.properties) starts the controller first, then the broker.

    Safe to repeat: a stack that is already up is left as it is. Refused (exit 5) in the middle of a
    migration: `kafkaops migrate --to kraft` starts its services and resumes.

    With --with connect the Kafka Connect workers start once the broker is ready (readiness from their REST
    API); refused (exit 5) before anything starts when KAFKA_CONNECT_URL names a remote Connect cluster.

    Example: kafkaops up

    Example: kafkaops up --with connect
    """
    from kafkaops import ui
    from kafkaops.cli import get_settings
    from kafkaops.procedures import services

    settings = get_settings(ctx, kafka_topic=topic, topic_partitions=partitions, topic_replication_factor=replication_factor, start_timeout=timeout, mode=mode)
    with_connect = _with_connect(with_, settings)
    from kafkaops.errors import RefusedError
    from kafkaops.procedures.migrate import migration_status

    migrating = migration_status(settings)
    if migrating is not None:
        raise RefusedError(
            f"{migrating.label}: `kafkaops up` does not start a stack in the middle of a migration",
            hint="`kafkaops migrate --to kraft` starts what the last phase left running and resumes; `kafkaops migrate --rollback` returns to ZooKeeper mode",
            runbook="migration resume",
        )
    t0 = time.monotonic()
    # With the workers, one hold for the services and them (no `down` in between); else services.up takes it
    # itself, after its checks of the input (a refused `up` writes nothing, not even the lock file).
    with services.stack_lock(settings, "up", notice=ui.info) if with_connect else nullcontext():
        _up_stack(settings, not no_topic, with_connect)
    ui.info(f"stack ready in {time.monotonic() - t0:.1f}s; broker at {settings.kafka_broker}")


def _up_stack(settings: Any, ensure_topic: bool, with_connect: bool) -> None:
    from kafkaops import ui
    from kafkaops.procedures import services

    with ui.spinner("starting the stack") as spin:
        result = services.up(settings, progress=spin.update, ensure_topic=ensure_topic, notice=ui.info)
    for svc in result.services:
        name = _label(services, svc.service, settings.kraft)
        for note in svc.notes:
            ui.info(note)
        if svc.action == "already-running":
            ui.success(f"{name} already running (pid {svc.pid})")
        else:
            ui.success(f"{name} started (pid {svc.pid}, ready in {svc.seconds:.1f}s)")
    if result.database is not None:
        db = result.database
        if db.started:
            ui.success(f"embedded PostgreSQL started (pid {db.pid}, port {db.port}, ready in {db.seconds:.1f}s)")
        elif not db.external:
            ui.success(f"embedded PostgreSQL already running (pid {db.pid}, port {db.port})")
    if result.topic is not None:
        t = result.topic
        verb = "created" if t.created else "exists"
        ui.success(f"topic {t.name} {verb} ({t.partitions} partition(s), replication factor {t.replication_factor})")
    if with_connect:
        _up_connect(settings)


def _with_connect(with_: list[str] | None, settings: Any) -> bool:
    """Whether `up --with connect` was asked for; what it refuses is refused before the stack starts."""
    from kafkaops.errors import UsageError

    extras = set(with_ or ())
    if extras - {"connect"}:
        raise UsageError(f"--with {sorted(extras - {'connect'})[0]}: unknown part", hint="the only part is: --with connect")
    if extras:
        from kafkaops.procedures.connect import stack as connect_stack

        connect_stack.check_before_up(settings)
    return bool(extras)


def _up_connect(settings: Any) -> None:
    from kafkaops import ui
    from kafkaops.adapters.java import find_java
    from kafkaops.procedures.connect import stack as connect_stack

    with ui.spinner("starting Kafka Connect") as spin:
        workers = connect_stack.up(settings, find_java(settings.java).path, progress=spin.update)
    for w in workers:
        verb = "started" if w.started else "already running"
        ui.success(f"{w.name} {verb}: {w.url} (pid {w.pid}, Kafka Connect {w.version})")


def _label(services: object, service: str, kraft: bool) -> str:
    from kafkaops.procedures import services as svc

    if service == svc.KAFKA and kraft:
        return "Kafka (KRaft)"
    return {svc.ZOOKEEPER: "ZooKeeper", svc.KAFKA: "Kafka broker", svc.CONTROLLER: "KRaft controller", svc.POSTGRES: "embedded PostgreSQL"}[service]


def down(
    ctx: typer.Context,
    force: Annotated[bool, typer.Option("--force", help="Kill a service that does not stop within the timeout (and say so).")] = False,
    timeout: Annotated[float | None, typer.Option("--timeout", help="Seconds each service may take to stop (env KAFKAOPS_STOP_TIMEOUT).")] = None,
) -> None:
    """Stop the Connect workers, then the broker (waiting for its clean shutdown), then ZooKeeper (KRaft split layout: the controller). Only what kafkaops started.

    The Kafka Connect workers kafkaops started here (`up --with connect` or `connect up`) stop first, the
    last started first; --force kills one that does not stop in time, too.

    In the middle of a migration (`kafkaops migrate`) it stops the broker, the KRaft controller and ZooKeeper,
    whatever config each runs on; `kafkaops migrate --to kraft` starts them again and resumes.

    Example: kafkaops down
    """
    from kafkaops import ui
    from kafkaops.cli import get_settings
    from kafkaops.procedures import migrate, services
    from kafkaops.procedures.connect import stack as connect_stack

    settings = get_settings(ctx, stop_timeout=timeout)
    with services.stack_lock(settings, "down", notice=ui.info), ui.spinner("stopping the stack") as spin:  # workers and services in one hold
        for w in connect_stack.down(settings, force=force, progress=spin.update):  # before the broker they depend on
            ui.success(f"{w.name} {w.state}" + (f" ({w.detail})" if w.detail else f" (pid {w.pid})"))
        if migrate.migration_status(settings) is not None:  # the services run on the migration's configs
            result = services.DownResult(migrate.stop_during_migration(settings, progress=spin.update))
        else:
            result = services.down(settings, progress=spin.update, force=force, notice=ui.info)
    for svc in result.services:
        name = _label(services, svc.service, settings.kraft)
        if svc.action == "stopped":
            how = "cleanly" if svc.clean else "(no clean-shutdown line in its log)"
            pid = f" (pid {svc.pid})" if svc.pid else ""
            (ui.success if svc.clean else ui.warn)(f"{name} stopped {how} in {svc.seconds:.1f}s{pid}")
        elif svc.action == "forced":
            ui.warn(f"{name} killed (pid {svc.pid}): {svc.detail}")
        elif svc.action == "stale-pid-file-removed":
            ui.info(f"{name} was not running; removed its stale pid file ({svc.detail})")
        elif svc.action == "not-running":
            ui.info(f"{name} was not running")


def status(
    ctx: typer.Context,
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout (with --watch: one JSON line per refresh).")] = False,
    watch: Annotated[
        bool,
        typer.Option(
            "--watch", "-w", help="Refresh in place until Ctrl+C: services, the topic's end offsets and messages/s, group lag and trend, pending rows."
        ),
    ] = False,
    interval: Annotated[float, typer.Option("--interval", help=WATCH_INTERVAL_HELP)] = 2.0,
    count: Annotated[int | None, typer.Option("--count", help=WATCH_COUNT_HELP)] = None,
) -> None:
    """Show each service's state, pid, port, uptime and health. Exit code 0 only when the whole stack is up.

    --watch redraws a live view every --interval seconds: each service's (and Connect worker's) state, the pipeline topic's end
    offsets and messages/s, each consumer group's lag and its trend, and the producer's pending rows.
    Ctrl+C leaves the last picture on a normal screen (exit 0). Without a terminal (or with --json) it
    prints one JSON line per refresh instead; --count N stops after N refreshes.

    When KAFKA_BROKER / ZOOKEEPER_CONNECT name another cluster than the local stack (another host, or
    another port of this one), it shows that cluster (reachable, cluster id, brokers, topic) and no local
    pid; exit code 0 when it answers.

    When Kafka Connect is in use here (workers kafkaops started or that ran here, or KAFKA_CONNECT_URL), a
    row follows for each worker: name, state, pid, REST port, Kafka Connect version and URL (--json: the
    "connect" key). A worker with a pid file that does not run makes the exit code 3.

    Example: kafkaops status --json
    """
    from kafkaops import ui
    from kafkaops.cli import get_settings
    from kafkaops.procedures import services
    from kafkaops.procedures.migrate import migration_status

    settings = get_settings(ctx)
    if watch:
        from kafkaops.cli import watch as watching
        from kafkaops.procedures import watch as snapshots

        watching.check(interval, count)
        watching.run(lambda prev: snapshots.take(settings, prev), interval=interval, count=count, json_lines=json_)
        return
    from kafkaops.procedures.connect import stack as connect_stack

    st = services.status(settings)
    migrating = migration_status(settings)
    connect = connect_stack.status(settings)  # None: Connect is not in use here (no row, no "connect" key)
    if json_:
        from kafkaops.doctor.common import where_from

        doc = {**status_document(st), "settings": where_from(settings), "migration": asdict(migrating) if migrating else None}
        if connect is not None:
            from kafkaops.cli.connect import as_dict

            doc["connect"] = {"remote": settings.connect_url is not None, "workers": [as_dict(w) for w in connect]}
        ui.print_json(doc)
    else:
        render_status(st, settings, connect)
        if migrating is not None:
            ui.warn(f"{migrating.label}: see {migrating.state_file}; resume with `kafkaops migrate --to kraft`, or `kafkaops migrate --rollback`")
            for line in migrating.running:
                ui.info(f"  {line}")
    if not st.up or (connect and connect_stack.expected_down(connect)):
        raise typer.Exit(int(ExitCode.NOT_READY))


def status_document(st: Any) -> dict[str, object]:
    """status --json: up, local, reasons, mode (and, for a local KRaft stack, layout, quorum and nodes), services."""
    mode = getattr(st, "mode", "zookeeper")
    doc: dict[str, object] = {"up": st.up, "local": st.local, "reasons": st.reasons, "mode": mode}
    if mode == "kraft" and st.local:
        doc.update({"layout": getattr(st, "layout", None), "quorum": getattr(st, "quorum", None), "nodes": getattr(st, "nodes", [])})
    return {**doc, "services": [asdict(s) for s in st.services]}


def _health_text(service: str, h: dict[str, Any]) -> str:
    from kafkaops.procedures import services

    if service == services.ZOOKEEPER:
        return f"mode {h.get('mode')}, ZooKeeper {h.get('version')}" if h.get("serving") else ("not serving" if h else "")
    if service == services.POSTGRES:
        return " ".join(x for x in (f"PostgreSQL {h['version']}" if h.get("version") else "", str(h.get("url") or "")) if x)
    health = (
        f"broker ids {h.get('broker_ids')}, controller {h.get('controller')}, cluster {h.get('cluster_id')}" if "broker_ids" in h else str(h.get("error", ""))
    )
    topic = h.get("topic")
    if isinstance(topic, dict):
        health += f", topic {topic['name']} ({topic['partitions']} partition(s))" if topic.get("exists") else f", no topic {topic['name']}"
    if h.get("kafka_version"):
        health += f", Kafka {h['kafka_version']}"
    if "roles" in h:
        health = f"node {h['node_id']} ({','.join(map(str, h['roles']))})" + (f", {health}" if health else "")
    if h.get("mode"):
        health += f", {h['mode']} mode"
    return health


def render_status(st: Any, settings: Any, connect: list[Any] | None = None) -> None:
    """The status table on stdout (a row per Connect worker after the services); the KRaft quorum line, where the cluster is, and each detail on stderr."""
    from kafkaops import ui

    rows = [[s.service, s.state, s.pid, s.port, format_uptime(s.uptime_s), _health_text(s.service, s.health)] for s in st.services]
    for w in connect or []:
        port = w.url.rsplit(":", 1)[-1].strip("/") if w.url else ""
        health = " ".join(x for x in (f"Kafka Connect {w.version}" if w.version else "", w.url or "", w.detail or "") if x)
        rows.append([w.name, w.state, w.pid or "", port, "", health])
    ui.print_table(None, ["service", "state", "pid", "port", "uptime", "health"], rows)
    quorum = getattr(st, "quorum", None)
    if getattr(st, "mode", "zookeeper") == "kraft" and st.local:
        leader = quorum.get("leader_id") if quorum else None
        voters = ",".join(map(str, quorum.get("voters") or [])) if quorum else "?"
        ui.info(f"KRaft mode ({getattr(st, 'layout', '')} layout): quorum leader {leader if leader is not None else 'none'}, voters {voters}")
    if getattr(settings, "profile", None):
        from kafkaops.doctor.common import _source

        ui.info(
            f"profile {settings.profile}: KAFKA_BROKER={settings.kafka_broker} from {_source(settings, 'kafka_broker')} (status --json: every setting's source)"
        )
    if not st.local:
        where = f"KAFKA_BROKER={settings.kafka_broker}" + (
            f", ZOOKEEPER_CONNECT={settings.zookeeper_connect}" if settings.sources.get("zookeeper_connect") != "default" else ""
        )
        ui.info(f"showing the configured cluster ({where}), not the local stack: {st.reasons[0] if st.reasons else ''}")
    for s in st.services:
        if s.detail:
            ui.info(f"{s.service}: {s.detail}")


def logs(
    ctx: typer.Context,
    service: Annotated[str, typer.Argument(help="zookeeper or kafka; controller in KRaft mode (a combined node's log is kafka's)")],
    lines: Annotated[int, typer.Option("-n", "--lines", help="How many of the last lines to print.")] = 50,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines until Ctrl+C.")] = False,
) -> None:
    """Print the last lines of a service's log (the one kafkaops writes under KAFKAOPS_HOME/logs).

    Example: kafkaops logs kafka -n 100 --follow
    """
    from kafkaops.cli import get_settings
    from kafkaops.errors import UsageError
    from kafkaops.procedures import logs as logs_proc

    aliases = {"zookeeper": "zookeeper", "zk": "zookeeper", "kafka": "kafka", "broker": "kafka", "controller": "controller"}
    if service not in aliases:
        raise UsageError(f"unknown service {service!r}", hint="use zookeeper, kafka or controller")
    if lines < 0:
        raise UsageError("-n must be 0 or more")
    settings = get_settings(ctx)
    path = logs_proc.log_file(settings, logs_proc.log_service(settings, aliases[service]))
    shown, end = logs_proc.tail(path, lines)
    for line in shown:
        typer.echo(line)
    if follow:
        try:
            for line in logs_proc.follow(path, start=end):
                typer.echo(line)
        except KeyboardInterrupt:
            return
