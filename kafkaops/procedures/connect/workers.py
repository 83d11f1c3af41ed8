"""kafkaops connect up|down|status|logs: Kafka Connect workers in distributed mode on this machine.

Worker ``n`` (1, 2, ...) is the service ``connect-<n>``: its properties in KAFKAOPS_HOME/conf/connect-<n>.properties
(written by kafkaops), its pid file in run/connect-<n>.json, its log in logs/connect-<n>/server.log. All workers share
one group.id and the three internal topics, so they form one Connect cluster. Readiness is the REST API
answering GET / and GET /connectors (the second only once the worker has joined the group and read its configs).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from kafkaops.adapters import connect_rest, processes
from kafkaops.adapters.javaprops import write_properties
from kafkaops.errors import KafkaopsError, RefusedError, ServiceFailed, UnreachableError, UsageError
from kafkaops.procedures import signatures
from kafkaops.procedures.connect import secrets
from kafkaops.procedures.connect.install import require_connect
from kafkaops.procedures.services.config import Progress, _noop
from kafkaops.procedures.services.launch import exited_while_starting, failure_report, log4j_option
from kafkaops.procedures.services.pidfiles import PidRecord, log_dir, log_path, read_pid, remove_pid, stack_lock, write_pid
from kafkaops.procedures.services.state import owner_label
from kafkaops.redact import redact_text
from kafkaops.settings import Settings

MAIN_CLASS = "org.apache.kafka.connect.cli.ConnectDistributed"
GROUP_ID = "kafkaops-connect"
TOPICS = {"config": "kafkaops-connect-configs", "offset": "kafkaops-connect-offsets", "status": "kafkaops-connect-status"}
DEFAULT_PORT = 8083
HEAP = "384m"
MAX_WORKERS = 9


@dataclass
class Worker:
    name: str  # connect-1, connect-2, ...
    url: str | None
    state: str  # running | stopped | starting | stale | unreachable (remote)
    pid: int | None = None
    version: str | None = None
    connectors: list[str] = field(default_factory=list)
    detail: str | None = None
    started: bool = False  # this command started it


def service(n: int) -> str:
    return f"connect-{n}"


def properties_path(settings: Settings, n: int) -> Path:
    return settings.kafkaops_home / "conf" / f"{service(n)}.properties"


def replication_factor(brokers: int) -> int:
    """The internal topics' replication factor: 3 where the cluster has 3 brokers or more, else every broker."""
    return max(1, min(3, brokers))


def worker_properties(settings: Settings, port: int, brokers: int) -> dict[str, str]:
    rf = str(replication_factor(brokers))
    return {
        "bootstrap.servers": settings.kafka_broker,
        "group.id": GROUP_ID,
        "config.storage.topic": TOPICS["config"],
        "offset.storage.topic": TOPICS["offset"],
        "status.storage.topic": TOPICS["status"],
        "config.storage.replication.factor": rf,
        "offset.storage.replication.factor": rf,
        "status.storage.replication.factor": rf,
        "offset.storage.partitions": "5",  # few: a local cluster, and fewer partitions start faster
        "key.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "key.converter.schemas.enable": "false",  # the shape `kafkaops produce --envelope debezium` writes
        "value.converter.schemas.enable": "false",
        "offset.flush.interval.ms": "1000",  # a stopped task restarts close to where it was (at-least-once)
        "scheduled.rebalance.max.delay.ms": "10000",  # a lost worker's tasks move after 10 s, not Connect's 5 min
        "listeners": f"http://127.0.0.1:{port}",
        "rest.advertised.host.name": "127.0.0.1",
        "rest.advertised.port": str(port),
        "plugin.path": str((settings.connect_home / "plugins").resolve()),
        "plugin.discovery": "hybrid_warn",
        **secrets.worker_properties(settings),  # ${file:...} references: the database password stays off the REST API
    }


def _alive(settings: Settings, record: PidRecord | None) -> processes.ProcInfo | None:
    if record is None or record.pid <= 0:
        return None
    info = processes.proc_info(record.pid)
    if info is None or not processes.same_start(info.create_time, record.create_time):
        return None
    return info if processes.runs_java_main(info, MAIN_CLASS, str(Path(record.config).resolve())) else None


def local_records(settings: Settings) -> list[tuple[int, PidRecord]]:
    found = []
    for n in range(1, MAX_WORKERS + 1):
        record = read_pid(settings, service(n))
        if record is not None:
            found.append((n, record))
    return found


def refuse_remote(settings: Settings, verb: str) -> None:
    if settings.connect_url:
        raise RefusedError(
            f"KAFKA_CONNECT_URL points at a remote Connect cluster ({settings.connect_url}): kafkaops does not {verb} its workers",
            hint="unset KAFKA_CONNECT_URL to run workers here; status, logs and cdc work against the remote cluster",
        )


def _pick_ports(first: int, count: int, taken: set[int]) -> list[int]:
    ports: list[int] = []
    port = first
    while len(ports) < count and port < 65535:
        if port not in taken and processes.port_bindable("127.0.0.1", port):
            ports.append(port)
        port += 1
    return ports


def _check_port(port: int, explicit: bool) -> None:
    if processes.port_bindable("127.0.0.1", port):
        return
    owner = processes.port_owner(port)
    who = owner_label(owner) if owner else "a process kafkaops cannot see"
    raise RefusedError(
        f"port {port} (Connect REST) is taken by {who}",
        hint="stop that process, or choose another port: kafkaops connect up --port N" if explicit else "choose a free port: kafkaops connect up --port N",
    )


def _command(settings: Settings, java: str, props: Path, n: int) -> list[str]:
    return [
        java,
        f"-Xms{HEAP}",
        f"-Xmx{HEAP}",
        "-XX:+UseG1GC",
        "-Djava.awt.headless=true",
        log4j_option(settings, settings.connect_home),  # log4j2 for a 4.x runtime, reload4j for 3.x: what its libs/ hold
        f"-Dkafka.logs.dir={log_dir(settings, service(n)).resolve()}",
        *settings.jvm_opts,
        "-cp",
        str((settings.connect_home / "libs").resolve() / "*"),
        MAIN_CLASS,
        str(props.resolve()),
    ]


def _launch(settings: Settings, java: str, n: int, port: int, brokers: int) -> PidRecord:
    props = properties_path(settings, n)
    secrets.ensure_secrets_dir(settings)
    write_properties(props, worker_properties(settings, port, brokers))
    log = log_path(settings, service(n))
    log.parent.mkdir(parents=True, exist_ok=True)
    stdout = log.parent / f"{service(n)}.out"
    info = processes.launch(_command(settings, java, props, n), stdout_path=stdout, cwd=settings.kafkaops_home)
    record = PidRecord(
        service(n), info.pid, info.create_time, MAIN_CLASS, str(props), str(log), str(stdout), log.stat().st_size if log.exists() else 0, time.time(), ""
    )
    write_pid(settings, record)
    return record


def worker_url(record: PidRecord) -> str:
    from kafkaops.adapters.javaprops import read_properties

    listeners = read_properties(Path(record.config)).get("listeners") or f"http://127.0.0.1:{DEFAULT_PORT}"
    return listeners.split(",")[0].strip()


def _logs_command(record: PidRecord) -> str:
    return f"kafkaops connect logs --worker {record.service.rsplit('-', 1)[1]}"


def _wait_ready(settings: Settings, record: PidRecord, url: str, progress: Progress) -> str:
    """Wait until the worker answers GET / and GET /connectors; its version. A dead worker is reported with its log."""
    deadline = time.monotonic() + settings.start_timeout
    version = None
    while time.monotonic() < deadline:
        if not processes.is_alive(record.pid, record.create_time):  # the process it launched (or found running and verified)
            raise exited_while_starting(settings, record, logs_command=_logs_command(record))
        try:
            root = connect_rest.request(url, "GET", "/", timeout=2.0)
            if root.status == 200 and connect_rest.request(url, "GET", "/connectors", timeout=5.0).status == 200:
                version = str(root.body.get("version")) if isinstance(root.body, dict) else "?"
                return version
        except UnreachableError:
            pass
        progress(f"waiting for {record.service} at {url}")
        time.sleep(0.5)
    raise failure_report(record.service, record, f"did not become ready within {settings.start_timeout:g}s", logs_command=_logs_command(record))


def up(settings: Settings, java: str, brokers: int, *, workers: int = 1, port: int | None = None, progress: Progress = _noop) -> list[Worker]:
    """Start ``workers`` Connect workers (those already running are kept) and wait until each is ready."""
    refuse_remote(settings, "start")
    if not 1 <= workers <= MAX_WORKERS:
        raise UsageError(f"--workers {workers}: expected 1 to {MAX_WORKERS}")
    require_connect(settings.connect_home)
    with stack_lock(settings, "up", progress):  # not while a `down` stops the broker under the workers (re-entrant for `up --with connect`)
        return _up(settings, java, brokers, workers, port, progress)


def _up(settings: Settings, java: str, brokers: int, workers: int, port: int | None, progress: Progress) -> list[Worker]:
    running = {n: rec for n, rec in local_records(settings) if _alive(settings, rec) is not None}
    for n, rec in local_records(settings):
        if n not in running:
            remove_pid(settings, rec)  # its process is gone: a stale file
    taken = {int(worker_url(rec).rsplit(":", 1)[1]) for rec in running.values()}
    missing = [n for n in range(1, workers + 1) if n not in running]
    if missing and 1 in missing:
        _check_port(port or DEFAULT_PORT, port is not None)
    ports = _pick_ports(port or DEFAULT_PORT, len(missing), taken)
    started = {n: _launch(settings, java, n, p, brokers) for n, p in zip(missing, ports, strict=True)}
    result = []
    for n in range(1, workers + 1):
        rec = started.get(n) or running[n]
        url = worker_url(rec)
        version = _wait_ready(settings, rec, url, progress)
        result.append(Worker(service(n), url, "running", rec.pid, version, started=n in started))
    return result


def down(settings: Settings, *, force: bool = False, progress: Progress = _noop) -> list[Worker]:
    """Stop every local worker, the last started first; a worker that does not stop in time is killed only with ``force``."""
    refuse_remote(settings, "stop")
    return stop_local(settings, force=force, progress=progress)


def stop_local(settings: Settings, *, force: bool = False, progress: Progress = _noop) -> list[Worker]:
    """Stop the workers kafkaops started here (pid files), whatever KAFKA_CONNECT_URL says: `kafkaops down` stops them before the broker."""
    with stack_lock(settings, "down", progress):
        return _stop_local(settings, force, progress)


def _stop_local(settings: Settings, force: bool, progress: Progress) -> list[Worker]:
    result = []
    for n, rec in sorted(local_records(settings), reverse=True):
        proc = _alive(settings, rec)
        if proc is None:
            remove_pid(settings, rec)
            result.append(Worker(service(n), None, "stale" if rec.pid > 0 else "stopped", rec.pid, detail="its process was already gone"))
            continue
        progress(f"stopping {service(n)} (pid {proc.pid})")
        processes.request_stop(proc.pid, proc.create_time)
        if not processes.wait_exit(proc.pid, proc.create_time, settings.stop_timeout):
            if not force:
                raise ServiceFailed(
                    f"{service(n)} (pid {proc.pid}) did not stop within {settings.stop_timeout:g}s",
                    hint="rerun with --force to kill it (kafkaops connect down --force)",
                )
            processes.kill(proc.pid, proc.create_time)
            processes.wait_exit(proc.pid, proc.create_time, 10)
        remove_pid(settings, rec)
        result.append(Worker(service(n), None, "stopped", proc.pid))
    return result


def _probe(name: str, url: str, pid: int | None) -> Worker:
    shown = redact_text(url)  # a KAFKA_CONNECT_URL may carry a password (http://user:pw@host:8083)
    try:
        root = connect_rest.request(url, "GET", "/", timeout=3.0)
        names = connect_rest.request(url, "GET", "/connectors", timeout=5.0)
    except UnreachableError as exc:
        return Worker(name, shown, "unreachable" if pid is None else "starting", pid, detail=exc.message)
    version = str(root.body.get("version")) if isinstance(root.body, dict) else None
    if names.status != 200:
        return Worker(name, shown, "starting", pid, version, detail=f"GET /connectors answered HTTP {names.status}")
    return Worker(name, shown, "running", pid, version, sorted(names.body or []))


def status(settings: Settings) -> list[Worker]:
    """Each worker: the remote cluster's URL (KAFKA_CONNECT_URL), else every local worker kafkaops started."""
    if settings.connect_url:
        return [_probe("remote", settings.connect_url, None)]
    result = []
    for n, rec in local_records(settings):
        if _alive(settings, rec) is None:
            result.append(Worker(service(n), None, "stale", rec.pid, detail="pid file of a process that is gone (connect up clears it)"))
        else:
            result.append(_probe(service(n), worker_url(rec), rec.pid))
    return result


def worker_log(settings: Settings, n: int = 1) -> Path:
    refuse_remote(settings, "read the logs of")
    path = log_path(settings, service(n))
    if not path.is_file():
        raise KafkaopsError(f"{service(n)} has no log yet ({path})", hint="start it: kafkaops connect up")
    return path


def log_findings(path: Path) -> list[tuple[signatures.Finding, int]]:
    """The known failures in a worker's log since its last start: each signature once (its first finding), with how often it occurs."""
    text, first = signatures.last_run(path.read_text(encoding="utf-8", errors="replace"))
    seen: dict[str, tuple[signatures.Finding, int]] = {}
    for f in signatures.scan(text, first_line=first):
        found, count = seen.get(f.id, (f, 0))
        seen[f.id] = (found, count + 1)
    return list(seen.values())


def providers_ready(settings: Settings) -> bool:
    """Whether every local worker that runs resolves ``${file:...}`` references (started with the secrets provider)."""
    from kafkaops.adapters.javaprops import read_properties

    running = [rec for _n, rec in local_records(settings) if _alive(settings, rec) is not None]
    return bool(running) and all(secrets.provider_ready(read_properties(Path(rec.config)).values) for rec in running)


def connect_url(settings: Settings) -> str:
    """The REST URL cdc talks to: KAFKA_CONNECT_URL, else the first local worker that runs."""
    if settings.connect_url:
        return settings.connect_url
    for _n, rec in local_records(settings):
        if _alive(settings, rec) is not None:
            return worker_url(rec)
    raise UnreachableError("no Kafka Connect worker runs here", hint="start one: kafkaops connect up (or set KAFKA_CONNECT_URL)")
