"""Starting, stopping and inspecting the local stack: ZooKeeper first, then the broker.

``up`` waits for real readiness (ZooKeeper answers ``srvr``; the broker logged "started", registered
under /brokers/ids and answers a metadata request) instead of fixed sleeps, and refuses to start into
the two classic traps (a stale registration, a cluster id mismatch). ``down`` stops the broker first,
waits for its clean shutdown, then ZooKeeper. Only processes kafkaops started are ever signalled: a
pid file under KAFKAOPS_HOME/run is trusted only when its process has the recorded start time and
really runs what kafkaops launches (java, the service's main class, this stack's config file).

``up``, ``down`` and ``reset`` hold the stack lock (KAFKAOPS_HOME/run/stack.lock) while they work, so
two of them never start, stop or empty the same stack at once; another one waits, saying for whom.
A pid file is removed only while its content is still what this command read or wrote.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from kafkaops.adapters import locks, processes
from kafkaops.adapters import zookeeper as zk
from kafkaops.adapters.java import find_java
from kafkaops.adapters.javaprops import Listener, Properties, parse_listeners, read_properties
from kafkaops.errors import ConfigError, KafkaopsError, NotReady, RefusedError, ServiceFailed, UnreachableError
from kafkaops.procedures import signatures
from kafkaops.procedures.layout import ensure_log4j
from kafkaops.settings import Settings

if TYPE_CHECKING:  # imported where used, at run time: `kafkaops up` without a topic or a database needs neither
    from kafkaops.adapters.embedded_pg import EmbeddedInfo
    from kafkaops.procedures.topics import EnsureResult

ZOOKEEPER = "zookeeper"
KAFKA = "kafka"
POSTGRES = "postgres"
MAIN_CLASS = {ZOOKEEPER: "org.apache.zookeeper.server.quorum.QuorumPeerMain", KAFKA: "kafka.Kafka"}
STARTED_LINE = "started (kafka.server.KafkaServer)"
SHUTDOWN_LINE = "shut down completed (kafka.server.KafkaServer)"
POLL = 0.05

Progress = Callable[[str], None]


def _noop(_msg: str) -> None:
    return None


# --------------------------------------------------------------------------------------------
# The stack's configuration, read from the (user's) config files; never rewritten.


@dataclass(frozen=True)
class StackConfig:
    zookeeper_props: Properties
    server_props: Properties
    zk_port: int
    zk_bind_host: str  # clientPortAddress, or "" for every interface
    listeners: tuple[Listener, ...]
    broker_id: int
    log_dirs: tuple[Path, ...]
    zk_data_dir: Path
    zk_data_log_dir: Path | None
    broker_zk_connect: str  # zookeeper.connect from server.properties (what the broker will use)
    zk_session_timeout_ms: int

    @property
    def zk_probe_host(self) -> str:
        return probe_host(self.zk_bind_host)

    @property
    def broker_ports(self) -> list[tuple[str, int]]:
        return [(lst.host or "", lst.port) for lst in self.listeners]


def read_stack_config(settings: Settings) -> StackConfig:
    zkp = read_properties(settings.zookeeper_properties)
    srv = read_properties(settings.server_properties)
    data_dir = zkp.get("dataDir")
    if not data_dir:
        raise ConfigError(f"{zkp.path} has no dataDir", hint="set dataDir to a folder outside /tmp")
    log_dirs = srv.get_list("log.dirs") or srv.get_list("log.dir", "/tmp/kafka-logs")
    listeners = parse_listeners(srv.get("listeners", "PLAINTEXT://:9092"))
    if not listeners:
        raise ConfigError(f"{srv.path} has an empty listeners setting")
    data_log = zkp.get("dataLogDir")

    def where(path: str) -> Path:
        # The JVMs run in KAFKAOPS_HOME, so a relative data path in a config is relative to it.
        p = Path(path).expanduser()
        return p if p.is_absolute() else settings.kafkaops_home / p

    return StackConfig(
        zookeeper_props=zkp,
        server_props=srv,
        zk_port=zkp.get_int("clientPort", 2181),
        zk_bind_host=zkp.get("clientPortAddress", "") or "",
        listeners=tuple(listeners),
        broker_id=srv.get_int("broker.id", 0),
        log_dirs=tuple(where(d) for d in log_dirs),
        zk_data_dir=where(data_dir),
        zk_data_log_dir=where(data_log) if data_log else None,
        broker_zk_connect=srv.get("zookeeper.connect", "localhost:2181") or "localhost:2181",
        zk_session_timeout_ms=srv.get_int("zookeeper.session.timeout.ms", 18000),
    )


def check_kafka_home(settings: Settings) -> Path:
    libs = settings.kafka_home / "libs"
    if not any(libs.glob("kafka_2.*.jar")):
        raise ConfigError(
            f"KAFKA_HOME {settings.kafka_home} is not a Kafka installation (no libs/kafka_2.*.jar)",
            hint="run `kafkaops install`, or point KAFKA_HOME at a Kafka folder with libs/ and config/",
        )
    return libs


def kafka_version(kafka_home: Path) -> str | None:
    for jar in (kafka_home / "libs").glob("kafka_2.*-*.jar"):
        name = jar.stem  # kafka_2.13-3.9.2
        if name.count("-") == 1 and not name.endswith(("sources", "javadoc", "test")):
            return name.split("-", 1)[1]
    return None


# --------------------------------------------------------------------------------------------
# Pid files: what kafkaops started, checked against the live process before it is trusted.


@dataclass
class PidRecord:
    service: str
    pid: int
    create_time: float
    main_class: str
    config: str
    log: str
    stdout: str
    log_offset: int
    started_at: float
    kafka_home: str


def pid_path(settings: Settings, service: str) -> Path:
    return settings.run_dir / f"{service}.json"


def log_dir(settings: Settings, service: str) -> Path:
    return settings.logs_dir / service


def log_path(settings: Settings, service: str) -> Path:
    return log_dir(settings, service) / "server.log"


def read_pid(settings: Settings, service: str) -> PidRecord | None:
    path = pid_path(settings, service)
    unreadable = PidRecord(service, -1, 0.0, "", "", "", "", 0, 0.0, "")  # treated as stale
    try:
        record = PidRecord(**json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None
    except (ValueError, TypeError, UnicodeDecodeError):
        return unreadable
    return record if record.service == service else unreadable


def write_pid(settings: Settings, record: PidRecord) -> None:
    path = pid_path(settings, record.service)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(record), indent=2), encoding="utf-8")
    tmp.replace(path)


def remove_pid(settings: Settings, record: PidRecord) -> bool:
    """Remove a pid file only if it still says what ``record`` says (what this command read or wrote)."""
    if read_pid(settings, record.service) != record:
        return False
    pid_path(settings, record.service).unlink(missing_ok=True)
    return True


SERVICE_LABEL = {ZOOKEEPER: "ZooKeeper", KAFKA: "Kafka broker"}


def service_config(settings: Settings, service: str) -> Path:
    return settings.zookeeper_properties if service == ZOOKEEPER else settings.server_properties


@dataclass(frozen=True)
class PidCheck:
    """What a pid file's process really is."""

    service: str
    verdict: str  # none (no pid file) | ours | gone | mismatch
    proc: processes.ProcInfo | None = None  # the live process: verified when "ours"
    detail: str | None = None


def check_pid(record: PidRecord | None, settings: Settings | None = None) -> PidCheck:
    """Whether a pid file names a live process that kafkaops launched, checked on the process itself.

    The process must have the start time recorded at launch (else the pid file is stale: "gone"),
    and its real command line must be java running the service's main class (fixed here, never read
    from the file) with the config file: this stack's (from ``settings``), else the one the file names.
    A live process with that start time that fails the second test is a "mismatch": never signalled.
    """
    if record is None:
        return PidCheck("", "none")
    main_class = MAIN_CLASS.get(record.service)
    info = processes.proc_info(record.pid) if record.pid > 0 else None
    if main_class is None or info is None or not processes.same_start(info.create_time, record.create_time):
        return PidCheck(record.service, "gone", detail=f"pid file names process {record.pid}, which is gone or is now another program")
    config = service_config(settings, record.service) if settings is not None else Path(record.config or ".")
    expected = str(config.resolve())
    if processes.runs_java_main(info, main_class, expected):
        return PidCheck(record.service, "ours", info)
    what = f"it runs `{info.command[:200]}`" if info.cmdline else f"{info.name}: its command line cannot be read"
    label = SERVICE_LABEL.get(record.service, record.service)
    return PidCheck(
        record.service,
        "mismatch",
        info,
        f"the {record.service} pid file names pid {record.pid}, which is not the {label} kafkaops started ({what}, not java {main_class} {expected})",
    )


def live_process(record: PidRecord | None, settings: Settings | None = None) -> processes.ProcInfo | None:
    """The process a pid file names, only if it is verified to be the service kafkaops launched (see check_pid)."""
    check = check_pid(record, settings)
    return check.proc if check.verdict == "ours" else None


LOCK_VERB = {"up": "starting", "down": "stopping", "reset": "resetting"}


def lock_path(settings: Settings) -> Path:
    return settings.run_dir / "stack.lock"


@contextmanager
def stack_lock(settings: Settings, command: str, notice: Progress = _noop) -> Iterator[None]:
    """Hold this stack's lock (one per KAFKAOPS_HOME) for ``command``: up, down or reset.

    Another holder is waited for up to KAFKAOPS_LOCK_TIMEOUT seconds, with one ``notice`` naming it;
    after that the command is refused (exit 5) with nothing done.
    """

    def on_wait(holder: locks.Holder | None) -> None:
        if holder is None:
            notice(f"another kafkaops command holds the stack lock ({lock_path(settings)}); waiting")
        else:
            notice(f"another kafkaops {holder.command} is {LOCK_VERB.get(holder.command, 'using')} the stack (pid {holder.pid}); waiting")

    with ExitStack() as held:
        try:
            held.enter_context(locks.hold(lock_path(settings), command, timeout=settings.lock_timeout, on_wait=on_wait))
        except locks.LockTimeout as exc:
            who = f"kafkaops {exc.holder.command} (pid {exc.holder.pid})" if exc.holder else "another kafkaops command"
            raise RefusedError(
                f"{who} still holds the stack lock after {exc.waited:g}s; nothing was done",
                hint="wait for it to finish, then rerun this command (KAFKAOPS_LOCK_TIMEOUT sets how long to wait)",
                runbook="startup one-command-at-a-time",
            ) from None
        yield


# --------------------------------------------------------------------------------------------
# State of each service.


@dataclass
class ServiceStatus:
    service: str
    state: str  # running | stopped | stale-pid-file | foreign | not-ready
    pid: int | None = None
    port: int | None = None
    uptime_s: float | None = None
    managed: bool = False  # started by kafkaops
    health: dict[str, object] = field(default_factory=dict)
    detail: str | None = None


def owner_label(info: processes.ProcInfo) -> str:
    """'pid N (ZooKeeper)', 'pid N (Kafka broker)' or 'pid N (<program>)': who holds a port, as status and reset say it."""
    kind = "ZooKeeper" if info.runs(MAIN_CLASS[ZOOKEEPER]) else "Kafka broker" if info.runs(MAIN_CLASS[KAFKA]) else info.name
    return f"pid {info.pid} ({kind})"


def zookeeper_status(settings: Settings, cfg: StackConfig) -> ServiceStatus:
    record = read_pid(settings, ZOOKEEPER)
    check = check_pid(record, settings)
    proc = check.proc if check.verdict == "ours" else None
    status = ServiceStatus(ZOOKEEPER, "stopped", port=cfg.zk_port)
    if proc is not None:
        status.state, status.pid, status.managed = "running", proc.pid, True
        status.uptime_s = round(time.time() - proc.create_time, 1)
    elif record is not None:
        status.state, status.pid = "stale-pid-file", record.pid
        status.detail = check.detail
    answer = zk.srvr(cfg.zk_probe_host, cfg.zk_port, timeout=1.0)
    if answer is not None:
        status.health = {"serving": answer.serving, "mode": answer.mode, "version": answer.version}
        if proc is None:
            owner = processes.port_owner(cfg.zk_port)
            status.state = "foreign"
            status.pid = owner.pid if owner else None
            status.detail = f"port {cfg.zk_port} answered by {owner_label(owner) if owner else 'a process kafkaops cannot see'}, not started by kafkaops"
        elif not answer.serving:
            status.state = "not-ready"
    elif proc is not None:
        status.state = "not-ready"
        status.detail = f"process {proc.pid} runs but port {cfg.zk_port} does not answer srvr"
    return status


def broker_status(settings: Settings, cfg: StackConfig, *, timeout: float = 3.0) -> ServiceStatus:
    record = read_pid(settings, KAFKA)
    check = check_pid(record, settings)
    proc = check.proc if check.verdict == "ours" else None
    port = cfg.listeners[0].port
    status = ServiceStatus(KAFKA, "stopped", port=port)
    if proc is not None:
        status.state, status.pid, status.managed = "running", proc.pid, True
        status.uptime_s = round(time.time() - proc.create_time, 1)
        status.health["kafka_version"] = kafka_version(Path(record.kafka_home)) if record else None
    elif record is not None:
        status.state, status.pid = "stale-pid-file", record.pid
        status.detail = check.detail
    open_ = processes.port_open(probe_host(cfg.listeners[0].host), port)
    if open_ and proc is None:
        owner = processes.port_owner(port)
        status.state = "foreign"
        status.pid = owner.pid if owner else None
        status.detail = f"port {port} held by {owner_label(owner) if owner else 'a process kafkaops cannot see'}, not started by kafkaops"
    if open_:
        from kafkaops.adapters.kafka import metadata

        try:
            md = metadata(settings, timeout=timeout)
            status.health.update(
                {
                    "broker_ids": sorted(b.id for b in md.brokers),
                    "controller": md.controller_id,
                    "cluster_id": md.cluster_id,
                    "topic": _topic_health(md, settings.kafka_topic),
                }
            )
        except KafkaopsError as exc:
            status.health["error"] = exc.message
            if status.state == "running":
                status.state = "not-ready"
    elif proc is not None:
        status.state = "not-ready"
        status.detail = f"process {proc.pid} runs but port {port} is closed"
    return status


def probe_host(host: str) -> str:
    """The address to connect to for a listener bound to `host` (a wildcard bind is probed on 127.0.0.1)."""
    return "127.0.0.1" if host in ("", "0.0.0.0", "::") else host


@dataclass
class StackStatus:
    services: list[ServiceStatus]
    local: bool = True  # the configured cluster is the local stack (else: another cluster, no local pids)
    reasons: list[str] = field(default_factory=list)  # why (cluster.identify)

    @property
    def up(self) -> bool:
        return all(s.state in ("running", "external", "reachable") for s in self.services)


def database_status(settings: Settings) -> ServiceStatus | None:
    """The database: the embedded one kafkaops runs, or an external DATABASE_URL (not probed here)."""
    from kafkaops.redact import redact_dsn

    if settings.database_url:
        return ServiceStatus(
            POSTGRES,
            "external",
            health={"url": redact_dsn(settings.database_url)},
            detail="DATABASE_URL is set: kafkaops neither starts nor stops it (`kafkaops doctor` checks it)",
        )
    if not settings.embedded_db:
        return None
    from kafkaops.adapters import embedded_pg

    st = embedded_pg.status(settings)
    out = ServiceStatus(
        POSTGRES,
        "running" if st.running else "stopped",
        pid=st.pid,
        port=st.port,
        managed=True,
        health={"url": st.url, "version": st.version, "embedded": True},
    )
    if st.pid:
        info = processes.proc_info(st.pid)
        out.uptime_s = round(time.time() - info.create_time, 1) if info else None
    return out


def _topic_health(md: object, topic: str) -> dict[str, object]:
    meta = md.topics.get(topic)  # type: ignore[attr-defined]
    if meta is None or meta.error is not None:
        return {"name": topic, "exists": False}
    return {"name": topic, "exists": True, "partitions": len(meta.partitions)}


def remote_status(settings: Settings) -> list[ServiceStatus]:
    """The configured cluster when it is not the local stack: what answers there, never a local pid."""
    from kafkaops.adapters import network
    from kafkaops.adapters.kafka import metadata

    out: list[ServiceStatus] = []
    if settings.sources.get("zookeeper_connect") != "default":  # a guessed localhost:2181 says nothing about this cluster
        try:
            host, port = zk.parse_hostport(settings.zookeeper_connect)
        except KafkaopsError as exc:
            raise ConfigError(f"ZOOKEEPER_CONNECT={settings.zookeeper_connect}: {exc.message}", hint="set ZOOKEEPER_CONNECT to host:port") from None
        answer = zk.srvr(host, port, timeout=1.0)
        zs = ServiceStatus(ZOOKEEPER, "unreachable", port=port, detail=f"ZOOKEEPER_CONNECT={settings.zookeeper_connect}: nothing answers srvr")
        if answer is not None:
            zs.health = {"serving": answer.serving, "mode": answer.mode, "version": answer.version}
            zs.state, zs.detail = ("reachable", None) if answer.serving else ("not-ready", "it does not serve requests yet")
        out.append(zs)
    _, bport = network.split_hostport(settings.kafka_broker, 9092)
    bs = ServiceStatus(KAFKA, "unreachable", port=bport)
    try:
        md = metadata(settings, timeout=3.0)
    except KafkaopsError as exc:
        bs.health["error"] = exc.message
    else:
        bs.state = "reachable"
        bs.health = {
            "broker_ids": sorted(b.id for b in md.brokers),
            "controller": md.controller_id,
            "cluster_id": md.cluster_id,
            "topic": _topic_health(md, settings.kafka_topic),
        }
    out.append(bs)
    return out


def status(settings: Settings) -> StackStatus:
    """Each service's state. Local pids only for the local stack (decided by :func:`cluster.identify`)."""
    from kafkaops.procedures import cluster

    identity = cluster.identify(settings)
    if identity.config_error and not identity.config_missing and identity.broker_on_this_machine:
        read_stack_config(settings)  # the local stack's config is there but broken: say so (exit 2), do not look elsewhere
    if not identity.local:
        services_ = remote_status(settings)
        db = database_status(settings)
        if db is not None and db.state != "stopped":  # a stopped embedded database belongs to the local stack, not to this cluster
            services_.append(db)
        return StackStatus(services_, local=False, reasons=identity.reasons)
    assert identity.cfg is not None
    cfg = identity.cfg
    services_ = [zookeeper_status(settings, cfg), broker_status(settings, cfg)]
    db = database_status(settings)
    if db is not None:
        services_.append(db)
    return StackStatus(services_, local=True, reasons=identity.reasons)


# --------------------------------------------------------------------------------------------
# Launching a JVM.


def jvm_command(settings: Settings, service: str, java: str, config: Path, log4j: Path) -> list[str]:
    heap = settings.zookeeper_heap if service == ZOOKEEPER else settings.kafka_heap
    classpath = str(settings.kafka_home / "libs" / "*")  # the JVM expands the wildcard: no long command lines
    return [
        java,
        f"-Xms{heap}",
        f"-Xmx{heap}",
        "-server",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-XX:InitiatingHeapOccupancyPercent=35",
        "-XX:+ExplicitGCInvokesConcurrent",
        "-Djava.awt.headless=true",
        f"-Dlog4j.configuration={log4j.resolve().as_uri()}",
        f"-Dkafka.logs.dir={log_dir(settings, service).resolve()}",
        *settings.jvm_opts,
        "-cp",
        classpath,
        MAIN_CLASS[service],
        str(config.resolve()),
    ]


def _start(settings: Settings, service: str, java: str, config: Path) -> PidRecord:
    log4j = ensure_log4j(settings.kafkaops_home / "conf" / "log4j.properties")
    logs = log_dir(settings, service)
    logs.mkdir(parents=True, exist_ok=True)
    log = log_path(settings, service)
    offset = log.stat().st_size if log.exists() else 0
    stdout = logs / f"{service}.out"
    info = processes.launch(jvm_command(settings, service, java, config, log4j), stdout_path=stdout, cwd=settings.kafkaops_home)
    record = PidRecord(
        service=service,
        pid=info.pid,
        create_time=info.create_time,
        main_class=MAIN_CLASS[service],
        config=str(config),
        log=str(log),
        stdout=str(stdout),
        log_offset=offset,
        started_at=time.time(),
        kafka_home=str(settings.kafka_home),
    )
    write_pid(settings, record)
    return record


def read_log_since(path: Path, offset: int) -> str:
    try:
        with open(path, "rb") as fh:
            size = fh.seek(0, 2)
            fh.seek(offset if offset <= size else 0)  # the file rolled over: read it whole
            return fh.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


def tail_lines(text: str, n: int = 15) -> list[str]:
    return [line for line in text.splitlines() if line.strip()][-n:]


def failure_report(service: str, record: PidRecord, reason: str) -> ServiceFailed:
    """A start failure with the last log lines and the known failure they match."""
    text = read_log_since(Path(record.log), record.log_offset)
    out = read_log_since(Path(record.stdout), 0) if record.stdout else ""
    finding = signatures.classify(text + "\n" + out)
    details = [f"last lines of {record.log}:"] + ["  " + ln for ln in tail_lines(text or out)]
    if finding is not None:
        return ServiceFailed(
            f"{service} {reason}: {finding.signature.title}",
            hint=finding.signature.remedy,
            details=details,
            runbook=finding.signature.runbook,
        )
    return ServiceFailed(f"{service} {reason}", hint=f"read the log: kafkaops logs {service}", details=details)


# --------------------------------------------------------------------------------------------
# up


@dataclass
class ServiceOutcome:
    service: str
    action: str  # started | already-running
    pid: int
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


@dataclass
class UpResult:
    services: list[ServiceOutcome]
    topic: EnsureResult | None = None
    database: EmbeddedInfo | None = None  # when kafkaops runs the database


def _check_port_free(service: str, host: str, port: int) -> None:
    probe = probe_host(host)
    if processes.port_open(probe, port) or not processes.port_bindable(host or "0.0.0.0", port):
        owner = processes.port_owner(port)
        who = f"{owner.name} (pid {owner.pid})" if owner else "another process (kafkaops cannot see which)"
        raise RefusedError(
            f"cannot start {service}: port {port} is in use by {who}",
            hint=f"stop that process, or change the port in the {service} config",
            details=[f"command: {owner.command[:200]}"] if owner else [],
            runbook="failures port-in-use",
        )


def _refuse_mismatch(settings: Settings, check: PidCheck) -> None:
    """A pid file whose process is alive but is not what kafkaops launched: never signal it, never overwrite it."""
    if check.verdict != "mismatch":
        return
    assert check.detail is not None and check.proc is not None
    raise RefusedError(
        f"{check.detail}; nothing was signalled",
        hint=mismatch_hint(settings, [(check.service, check.proc.pid)]),
        runbook="startup pid-files",
    )


def mismatch_hint(settings: Settings, mismatches: list[tuple[str, int]]) -> str:
    """What to do about pid files (service, pid) whose process is not what kafkaops launched."""
    pids = ", ".join(str(pid) for _s, pid in mismatches)
    files = " and ".join(str(pid_path(settings, service)) for service, _pid in mismatches)
    return (
        f"look at process {pids}: if kafkaops did not start it, delete {files}; if it is this stack's service started "
        "with another config file, set KAFKAOPS_ZOOKEEPER_PROPERTIES / KAFKAOPS_SERVER_PROPERTIES back to that file"
    )


def _clear_stale(settings: Settings, record: PidRecord | None, check: PidCheck) -> None:
    _refuse_mismatch(settings, check)
    if record is not None and check.verdict == "gone":
        remove_pid(settings, record)


def start_zookeeper(settings: Settings, cfg: StackConfig, java: str, progress: Progress) -> ServiceOutcome:
    record = read_pid(settings, ZOOKEEPER)
    check = check_pid(record, settings)
    proc = check.proc if check.verdict == "ours" else None
    if proc is not None:
        answer = zk.srvr(cfg.zk_probe_host, cfg.zk_port)
        if answer and answer.serving:
            return ServiceOutcome(ZOOKEEPER, "already-running", proc.pid)
        assert record is not None
        _wait_zookeeper(settings, cfg, record, progress, time.monotonic())
        return ServiceOutcome(ZOOKEEPER, "already-running", proc.pid)
    _clear_stale(settings, record, check)
    _check_port_free("zookeeper", cfg.zk_bind_host, cfg.zk_port)
    t0 = time.monotonic()
    progress(f"starting ZooKeeper on port {cfg.zk_port}")
    record = _start(settings, ZOOKEEPER, java, settings.zookeeper_properties)
    _wait_zookeeper(settings, cfg, record, progress, t0)
    return ServiceOutcome(ZOOKEEPER, "started", record.pid, round(time.monotonic() - t0, 2))


def _wait_zookeeper(settings: Settings, cfg: StackConfig, record: PidRecord, progress: Progress, t0: float) -> None:
    deadline = t0 + settings.start_timeout
    progress(f"waiting for ZooKeeper to serve on port {cfg.zk_port} (srvr)")
    while True:
        if not processes.is_alive(record.pid, record.create_time):
            processes.reap(record.pid)
            remove_pid(settings, record)
            raise failure_report("zookeeper", record, "exited while starting")
        answer = zk.srvr(cfg.zk_probe_host, cfg.zk_port, timeout=1.0)
        if answer is not None and answer.serving:
            return
        if time.monotonic() > deadline:
            raise failure_report("zookeeper", record, f"was not serving after {settings.start_timeout:g}s")
        time.sleep(POLL)


def read_meta_properties(log_dir_: Path) -> dict[str, str] | None:
    meta = log_dir_ / "meta.properties"
    if not meta.is_file():
        return None
    try:
        return dict(read_properties(meta).values)
    except ConfigError:
        return None


def check_cluster_id(cfg: StackConfig, client: object) -> None:
    """Refuse to start a broker whose log dirs belong to another cluster than ZooKeeper's."""
    from kafkaops.procedures.cluster import read_meta

    zk_id = zk.cluster_id(client)
    for d in cfg.log_dirs:
        meta = read_meta(d)
        if meta.state not in ("missing", "ok"):  # the broker would stop on it with a storage error that names no file
            values = f"version=0, broker.id={cfg.broker_id}" + (f", cluster.id={zk_id}" if zk_id else "")
            raise RefusedError(
                f"cannot start the broker: {meta.problem}",
                hint=f"restore that file, or rewrite it with {values}; `kafkaops doctor` says which",
                runbook="failures cluster-id-mismatch",
            )
        stored = meta.cluster_id
        if not stored:
            continue
        if zk_id is None or zk_id != stored:
            what = f"ZooKeeper has cluster id {zk_id}" if zk_id else "ZooKeeper has no cluster id (its data was wiped)"
            raise RefusedError(
                f"cluster id mismatch: {d}/meta.properties says {stored}, but {what}",
                hint="the broker would refuse to start; wipe Kafka's and ZooKeeper's data together with `kafkaops reset --confirm`",
                runbook="failures cluster-id-mismatch",
            )


def _same_broker(proc: processes.ProcInfo, cfg: StackConfig) -> bool:
    """Whether a running kafka.Kafka process is this broker (same ZooKeeper, same broker.id)."""
    args = list(proc.cmdline)
    try:
        config = Path(args[args.index(MAIN_CLASS[KAFKA]) + 1])
        props = read_properties(config)
    except (ValueError, IndexError, ConfigError):
        return True  # cannot tell: assume the worst, the caller refuses rather than waits forever

    def norm(connect: str) -> tuple[str, int]:
        host, port = zk.parse_hostport(connect)
        return ("127.0.0.1" if host == "localhost" else host), port

    same_zk = norm(props.get("zookeeper.connect", "localhost:2181") or "") == norm(cfg.broker_zk_connect)
    same_chroot = (props.get("zookeeper.connect", "") or "").partition("/")[2] == cfg.broker_zk_connect.partition("/")[2]
    return same_zk and same_chroot and props.get_int("broker.id", 0) == cfg.broker_id


def wait_stale_registration(cfg: StackConfig, client: object, progress: Progress, timeout: float) -> list[str]:
    """Wait for a registration left by an unclean stop to expire with its ZooKeeper session."""
    node = zk.broker_znode(client, cfg.broker_id)
    if node is None:
        return []
    live = [p for p in processes.find_processes(MAIN_CLASS[KAFKA]) if _same_broker(p, cfg)]
    if live:
        pids = ", ".join(str(p.pid) for p in live)
        raise RefusedError(
            f"broker id {cfg.broker_id} is registered in ZooKeeper and a Kafka broker is running (pid {pids})",
            hint="stop that broker first, or give this one another broker.id",
            runbook="failures stale-broker-registration",
        )
    age = time.time() - node.created / 1000.0
    expected = cfg.zk_session_timeout_ms / 1000.0
    progress(
        f"a stale registration of broker {cfg.broker_id} (session 0x{node.owner_session:x}, {age:.0f}s old) "
        f"is waiting for its ZooKeeper session to expire (up to ~{expected + 3:.0f}s)"
    )
    t0 = time.monotonic()
    while zk.broker_znode(client, cfg.broker_id) is not None:
        if time.monotonic() - t0 > timeout:
            raise ServiceFailed(
                f"the stale registration of broker {cfg.broker_id} did not expire within {timeout:g}s",
                hint="check that no other broker uses this ZooKeeper with the same broker.id (`kafkaops doctor`)",
                runbook="failures stale-broker-registration",
            )
        time.sleep(0.2)
    waited = time.monotonic() - t0
    return [f"waited {waited:.1f}s for a stale registration of broker {cfg.broker_id} to expire"]


def start_broker(settings: Settings, cfg: StackConfig, java: str, progress: Progress) -> ServiceOutcome:
    record = read_pid(settings, KAFKA)
    check = check_pid(record, settings)
    proc = check.proc if check.verdict == "ours" else None
    if proc is not None:
        assert record is not None
        _wait_broker(settings, cfg, record, progress, time.monotonic(), already=True)
        return ServiceOutcome(KAFKA, "already-running", proc.pid)
    _clear_stale(settings, record, check)
    for host, port in cfg.broker_ports:
        _check_port_free("kafka", host, port)
    t0 = time.monotonic()
    notes: list[str] = []
    with zk.connect(cfg.broker_zk_connect, timeout=5.0) as client:
        check_cluster_id(cfg, client)
        stale_timeout = cfg.zk_session_timeout_ms / 1000.0 * 2 + 10
        notes += wait_stale_registration(cfg, client, progress, stale_timeout)
    progress(f"starting the Kafka broker on port {cfg.listeners[0].port}")
    record = _start(settings, KAFKA, java, settings.server_properties)
    _wait_broker(settings, cfg, record, progress, time.monotonic())
    return ServiceOutcome(KAFKA, "started", record.pid, round(time.monotonic() - t0, 2), notes)


def _wait_broker(settings: Settings, cfg: StackConfig, record: PidRecord, progress: Progress, t0: float, already: bool = False) -> None:
    """Ready = the "started" line in its log, /brokers/ids/<id> in ZooKeeper, and a metadata answer."""
    from kafkaops.adapters.kafka import admin, metadata

    deadline = t0 + settings.start_timeout
    log = Path(record.log)
    stage = "its log says started"
    progress("waiting for the broker: " + stage)
    started = already
    registered = False
    client = None
    with zk.connect(cfg.broker_zk_connect, timeout=5.0) as zc:
        while True:
            if not processes.is_alive(record.pid, record.create_time):
                processes.reap(record.pid)
                remove_pid(settings, record)
                raise failure_report("kafka", record, "exited while starting")
            if time.monotonic() > deadline:
                raise failure_report("kafka", record, f"was not ready after {settings.start_timeout:g}s (waiting until {stage})")
            if not started:
                started = STARTED_LINE in read_log_since(log, record.log_offset)
                if not started:
                    time.sleep(POLL)
                    continue
                stage = f"it is registered under /brokers/ids/{cfg.broker_id}"
                progress("waiting for the broker: " + stage)
            if not registered:
                registered = zk.broker_znode(zc, cfg.broker_id) is not None
                if not registered:
                    time.sleep(POLL)
                    continue
                stage = f"{settings.kafka_broker} answers a metadata request"
                progress("waiting for the broker: " + stage)
            try:
                client = client or admin(settings)
                md = metadata(settings, timeout=2.0, client=client)
                if any(b.id == cfg.broker_id for b in md.brokers):
                    return
            except UnreachableError:
                pass
            time.sleep(POLL)


def up(settings: Settings, progress: Progress = _noop, *, ensure_topic: bool = True, notice: Progress = _noop) -> UpResult:
    """Start the stack under the stack lock; ``notice`` gets what must be shown even without a terminal (a wait)."""
    if ensure_topic:  # a partition count ZooKeeper cannot store would wedge the broker: refuse before starting
        from kafkaops.procedures.topics import check_partition_limit

        check_partition_limit(settings, settings.topic_partitions, settings.topic_replication_factor)
    java = find_java(settings.java).path
    check_kafka_home(settings)
    cfg = read_stack_config(settings)
    with stack_lock(settings, "up", notice):
        return _up(settings, cfg, java, progress, ensure_topic=ensure_topic)


def _up(settings: Settings, cfg: StackConfig, java: str, progress: Progress, *, ensure_topic: bool) -> UpResult:
    for service in (ZOOKEEPER, KAFKA):  # before anything starts
        _refuse_mismatch(settings, check_pid(read_pid(settings, service), settings))
    result = UpResult(services=[])
    result.services.append(start_zookeeper(settings, cfg, java, progress))
    try:
        result.services.append(start_broker(settings, cfg, java, progress))
    except KafkaopsError as exc:
        exc.details.append("ZooKeeper was left running; `kafkaops down` stops it")
        raise
    if ensure_topic:
        from kafkaops.procedures import topics

        progress(f"making sure topic {settings.kafka_topic} exists")
        result.topic = topics.ensure_topic(settings, settings.kafka_topic, settings.topic_partitions, settings.topic_replication_factor)
    if settings.database_url is None and settings.embedded_db:
        from kafkaops.adapters import embedded_pg

        progress("starting the embedded PostgreSQL (DATABASE_URL is not set)")
        result.database = embedded_pg.start(settings)
    return result


# --------------------------------------------------------------------------------------------
# down


@dataclass
class StopOutcome:
    service: str
    action: str  # stopped | forced | not-running | stale-pid-file-removed | foreign-left-running | pid-file-mismatch
    pid: int | None = None
    seconds: float = 0.0
    clean: bool | None = None
    detail: str | None = None


@dataclass
class DownResult:
    services: list[StopOutcome]


def _stop_one(settings: Settings, service: str, force: bool, progress: Progress) -> StopOutcome:
    record = read_pid(settings, service)
    check = check_pid(record, settings)
    if check.verdict == "mismatch":
        assert record is not None
        return StopOutcome(service, "pid-file-mismatch", record.pid, detail=check.detail)
    proc = check.proc if check.verdict == "ours" else None
    if proc is None or record is None:
        if record is not None:
            remove_pid(settings, record)
            return StopOutcome(
                service, "stale-pid-file-removed", record.pid if record.pid > 0 else None, detail="its process was already gone; nothing was signalled"
            )
        return StopOutcome(service, "not-running")
    log = Path(record.log)
    offset = log.stat().st_size if log.exists() else 0
    t0 = time.monotonic()
    label = "the Kafka broker" if service == KAFKA else "ZooKeeper"
    progress(f"stopping {label} (pid {proc.pid})")
    processes.request_stop(proc.pid, proc.create_time)
    exited = processes.wait_exit(proc.pid, proc.create_time, settings.stop_timeout)
    if not exited:
        if not force:
            raise ServiceFailed(
                f"{label} (pid {proc.pid}) did not stop within {settings.stop_timeout:g}s",
                hint="run `kafkaops down --force` to kill it (Kafka will recover its logs at the next start)",
                runbook="failures unclean-shutdown",
            )
        processes.kill(proc.pid, proc.create_time)
        processes.wait_exit(proc.pid, proc.create_time, 10)
        remove_pid(settings, record)
        return StopOutcome(
            service,
            "forced",
            proc.pid,
            round(time.monotonic() - t0, 2),
            clean=False,
            detail=f"killed after {settings.stop_timeout:g}s without a clean shutdown",
        )
    remove_pid(settings, record)
    clean = True
    if service == KAFKA:
        clean = SHUTDOWN_LINE in read_log_since(log, offset)
    return StopOutcome(
        service,
        "stopped",
        proc.pid,
        round(time.monotonic() - t0, 2),
        clean=clean,
        detail=None if clean else "the broker exited without logging a clean shutdown",
    )


def down(settings: Settings, progress: Progress = _noop, *, force: bool = False, notice: Progress = _noop) -> DownResult:
    """Stop the stack under the stack lock: a running `up` is waited for (``notice`` says so), then stopped.

    A pid file whose live process is not what kafkaops launched is left alone (nothing signalled, the
    file kept); after stopping what may be stopped, that is refused (exit 5) with what was done.
    """
    cfg = read_stack_config(settings)
    with stack_lock(settings, "down", notice):
        result = _down(settings, cfg, progress, force=force)
    mismatched = [s for s in result.services if s.action == "pid-file-mismatch"]
    if mismatched:
        raise RefusedError(
            f"{mismatched[0].detail}; nothing was signalled",
            hint=mismatch_hint(settings, [(s.service, s.pid or 0) for s in mismatched]),
            details=[f"{s.detail}; nothing was signalled" for s in mismatched[1:]] + [_done(s) for s in result.services if s.action != "pid-file-mismatch"],
            runbook="startup pid-files",
        )
    return result


def _done(outcome: StopOutcome) -> str:
    name = SERVICE_LABEL.get(outcome.service, "embedded PostgreSQL")
    what = {"stopped": "stopped", "forced": "killed", "not-running": "was not running", "stale-pid-file-removed": "was not running (stale pid file removed)"}
    return f"{name} {what.get(outcome.action, outcome.action)}" + (f" (pid {outcome.pid})" if outcome.pid and outcome.action in ("stopped", "forced") else "")


def _down(settings: Settings, cfg: StackConfig, progress: Progress, *, force: bool) -> DownResult:
    result = DownResult([])
    broker = _stop_one(settings, KAFKA, force, progress)
    result.services.append(broker)
    # Never stop ZooKeeper under a live broker: it could not unregister and would leave a ghost.
    port = cfg.listeners[0].port
    if processes.port_open(probe_host(cfg.listeners[0].host), port):
        owner = processes.port_owner(port)
        result.services.append(StopOutcome(ZOOKEEPER, "foreign-left-running", detail="left running because a broker is still alive"))
        raise RefusedError(
            f"a broker kafkaops did not start is still running on port {port}" + (f" ({owner_label(owner)})" if owner else ""),
            hint="stop that broker first; ZooKeeper was left running so that it can unregister cleanly",
            runbook="failures foreign-process",
        )
    result.services.append(_stop_one(settings, ZOOKEEPER, force, progress))
    if settings.database_url is None and settings.embedded_db:
        from kafkaops.adapters import embedded_pg

        t0 = time.monotonic()
        progress("stopping the embedded PostgreSQL")
        was_running = embedded_pg.stop(settings)
        result.services.append(StopOutcome(POSTGRES, "stopped" if was_running else "not-running", seconds=round(time.monotonic() - t0, 2), clean=True))
    return result


def require_up(settings: Settings) -> StackStatus:
    st = status(settings)
    if not st.up:
        raise NotReady("the stack is not fully up", hint="run `kafkaops up`")
    return st
