"""Starting, stopping and inspecting the local stack: ZooKeeper first, then the broker.

``up`` waits for real readiness (ZooKeeper answers ``srvr``; the broker logged "started", registered
under /brokers/ids and answers a metadata request) instead of fixed sleeps, and refuses to start into
the two classic traps (a stale registration, a cluster id mismatch). ``down`` stops the broker first,
waits for its clean shutdown, then ZooKeeper. Only processes kafkaops started (recorded in pid files
under KAFKAOPS_HOME/run, checked against the live process) are ever signalled.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from kafkaops.adapters import processes
from kafkaops.adapters import zookeeper as zk
from kafkaops.adapters.java import find_java
from kafkaops.adapters.javaprops import Listener, Properties, parse_listeners, read_properties
from kafkaops.errors import ConfigError, KafkaopsError, NotReady, RefusedError, ServiceFailed, UnreachableError
from kafkaops.procedures import signatures
from kafkaops.procedures.layout import ensure_log4j
from kafkaops.settings import Settings

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
        host = self.zk_bind_host
        return "127.0.0.1" if host in ("", "0.0.0.0", "::") else host

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
    try:
        return PidRecord(**json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None
    except (ValueError, TypeError):
        return PidRecord(service, -1, 0.0, "", "", "", "", 0, 0.0, "")  # unreadable: treated as stale


def write_pid(settings: Settings, record: PidRecord) -> None:
    path = pid_path(settings, record.service)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(record), indent=2), encoding="utf-8")
    tmp.replace(path)


def remove_pid(settings: Settings, service: str) -> None:
    pid_path(settings, service).unlink(missing_ok=True)


def live_process(record: PidRecord | None) -> processes.ProcInfo | None:
    """The process a pid file names, only if it is still that process (same start time, same main class)."""
    if record is None or record.pid <= 0:
        return None
    info = processes.proc_info(record.pid)
    if info is None or abs(info.create_time - record.create_time) > 1.0:
        return None
    if info.cmdline and not info.runs(record.main_class):
        return None
    return info


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


def _owner_label(info: processes.ProcInfo) -> str:
    kind = "ZooKeeper" if info.runs(MAIN_CLASS[ZOOKEEPER]) else "Kafka broker" if info.runs(MAIN_CLASS[KAFKA]) else info.name
    return f"pid {info.pid} ({kind})"


def zookeeper_status(settings: Settings, cfg: StackConfig) -> ServiceStatus:
    record = read_pid(settings, ZOOKEEPER)
    proc = live_process(record)
    status = ServiceStatus(ZOOKEEPER, "stopped", port=cfg.zk_port)
    if proc is not None:
        status.state, status.pid, status.managed = "running", proc.pid, True
        status.uptime_s = round(time.time() - proc.create_time, 1)
    elif record is not None:
        status.state, status.pid = "stale-pid-file", record.pid
        status.detail = f"pid file names process {record.pid}, which is gone or is now another program"
    answer = zk.srvr(cfg.zk_probe_host, cfg.zk_port, timeout=1.0)
    if answer is not None:
        status.health = {"serving": answer.serving, "mode": answer.mode, "version": answer.version}
        if proc is None:
            owner = processes.port_owner(cfg.zk_port)
            status.state = "foreign"
            status.pid = owner.pid if owner else None
            status.detail = f"port {cfg.zk_port} answered by {_owner_label(owner) if owner else 'a process kafkaops cannot see'}, not started by kafkaops"
        elif not answer.serving:
            status.state = "not-ready"
    elif proc is not None:
        status.state = "not-ready"
        status.detail = f"process {proc.pid} runs but port {cfg.zk_port} does not answer srvr"
    return status


def broker_status(settings: Settings, cfg: StackConfig, *, timeout: float = 3.0) -> ServiceStatus:
    record = read_pid(settings, KAFKA)
    proc = live_process(record)
    port = cfg.listeners[0].port
    status = ServiceStatus(KAFKA, "stopped", port=port)
    if proc is not None:
        status.state, status.pid, status.managed = "running", proc.pid, True
        status.uptime_s = round(time.time() - proc.create_time, 1)
        status.health["kafka_version"] = kafka_version(Path(record.kafka_home)) if record else None
    elif record is not None:
        status.state, status.pid = "stale-pid-file", record.pid
        status.detail = f"pid file names process {record.pid}, which is gone or is now another program"
    open_ = processes.port_open(_probe_host(cfg.listeners[0].host), port)
    if open_ and proc is None:
        owner = processes.port_owner(port)
        status.state = "foreign"
        status.pid = owner.pid if owner else None
        status.detail = f"port {port} held by {_owner_label(owner) if owner else 'a process kafkaops cannot see'}, not started by kafkaops"
    if open_:
        from kafkaops.adapters.kafka import metadata

        try:
            md = metadata(settings, timeout=timeout)
            status.health.update(
                {"broker_ids": sorted(b.id for b in md.brokers), "controller": md.controller_id, "cluster_id": md.cluster_id}
            )
        except KafkaopsError as exc:
            status.health["error"] = exc.message
            if status.state == "running":
                status.state = "not-ready"
    elif proc is not None:
        status.state = "not-ready"
        status.detail = f"process {proc.pid} runs but port {port} is closed"
    return status


def _probe_host(host: str) -> str:
    return "127.0.0.1" if host in ("", "0.0.0.0", "::") else host


@dataclass
class StackStatus:
    services: list[ServiceStatus]

    @property
    def up(self) -> bool:
        return all(s.state in ("running", "external") for s in self.services)


def database_status(settings: Settings) -> ServiceStatus | None:
    """The database: the embedded one kafkaops runs, or an external DATABASE_URL (not probed here)."""
    from kafkaops.redact import redact_dsn

    if settings.database_url:
        return ServiceStatus(POSTGRES, "external", health={"url": redact_dsn(settings.database_url)},
                             detail="DATABASE_URL is set: kafkaops neither starts nor stops it (`kafkaops doctor` checks it)")
    if not settings.embedded_db:
        return None
    from kafkaops.adapters import embedded_pg

    st = embedded_pg.status(settings)
    out = ServiceStatus(POSTGRES, "running" if st.running else "stopped", pid=st.pid, port=st.port, managed=True,
                        health={"url": st.url, "version": st.version, "embedded": True})
    if st.pid:
        info = processes.proc_info(st.pid)
        out.uptime_s = round(time.time() - info.create_time, 1) if info else None
    return out


def status(settings: Settings) -> StackStatus:
    cfg = read_stack_config(settings)
    services_ = [zookeeper_status(settings, cfg), broker_status(settings, cfg)]
    db = database_status(settings)
    if db is not None:
        services_.append(db)
    return StackStatus(services_)


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
    topic: object | None = None  # topics.EnsureResult
    database: object | None = None  # embedded_pg.EmbeddedInfo, when kafkaops runs the database


def _check_port_free(service: str, host: str, port: int) -> None:
    probe = _probe_host(host)
    if processes.port_open(probe, port) or not processes.port_bindable(host or "0.0.0.0", port):
        owner = processes.port_owner(port)
        who = f"{owner.name} (pid {owner.pid})" if owner else "another process (kafkaops cannot see which)"
        raise RefusedError(
            f"cannot start {service}: port {port} is in use by {who}",
            hint=f"stop that process, or change the port in the {service} config",
            details=[f"command: {owner.command[:200]}"] if owner else [],
            runbook="failures port-in-use",
        )


def start_zookeeper(settings: Settings, cfg: StackConfig, java: str, progress: Progress) -> ServiceOutcome:
    record = read_pid(settings, ZOOKEEPER)
    proc = live_process(record)
    if proc is not None:
        answer = zk.srvr(cfg.zk_probe_host, cfg.zk_port)
        if answer and answer.serving:
            return ServiceOutcome(ZOOKEEPER, "already-running", proc.pid)
        assert record is not None
        _wait_zookeeper(settings, cfg, record, progress, time.monotonic())
        return ServiceOutcome(ZOOKEEPER, "already-running", proc.pid)
    if record is not None:
        remove_pid(settings, ZOOKEEPER)
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
            remove_pid(settings, ZOOKEEPER)
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
    zk_id = zk.cluster_id(client)
    for d in cfg.log_dirs:
        meta = read_meta_properties(d)
        if not meta or not meta.get("cluster.id"):
            continue
        stored = meta["cluster.id"]
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
    proc = live_process(record)
    if proc is not None:
        assert record is not None
        _wait_broker(settings, cfg, record, progress, time.monotonic(), already=True)
        return ServiceOutcome(KAFKA, "already-running", proc.pid)
    if record is not None:
        remove_pid(settings, KAFKA)
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
                remove_pid(settings, KAFKA)
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


def up(settings: Settings, progress: Progress = _noop, *, ensure_topic: bool = True) -> UpResult:
    if ensure_topic:  # a partition count ZooKeeper cannot store would wedge the broker: refuse before starting
        from kafkaops.procedures.topics import check_partition_limit

        check_partition_limit(settings, settings.topic_partitions, settings.topic_replication_factor)
    java = find_java(settings.java).path
    check_kafka_home(settings)
    cfg = read_stack_config(settings)
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
        result.topic = topics.ensure_topic(
            settings, settings.kafka_topic, settings.topic_partitions, settings.topic_replication_factor
        )
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
    action: str  # stopped | forced | not-running | stale-pid-file-removed | foreign-left-running
    pid: int | None = None
    seconds: float = 0.0
    clean: bool | None = None
    detail: str | None = None


@dataclass
class DownResult:
    services: list[StopOutcome]


def _stop_one(settings: Settings, service: str, force: bool, progress: Progress) -> StopOutcome:
    record = read_pid(settings, service)
    proc = live_process(record)
    if proc is None or record is None:
        if record is not None:
            remove_pid(settings, service)
            return StopOutcome(service, "stale-pid-file-removed", record.pid if record.pid > 0 else None,
                               detail="its process was already gone; nothing was signalled")
        return StopOutcome(service, "not-running")
    log = Path(record.log)
    offset = log.stat().st_size if log.exists() else 0
    t0 = time.monotonic()
    label = "the Kafka broker" if service == KAFKA else "ZooKeeper"
    progress(f"stopping {label} (pid {proc.pid})")
    processes.request_stop(proc.pid)
    exited = processes.wait_exit(proc.pid, proc.create_time, settings.stop_timeout)
    if not exited:
        if not force:
            raise ServiceFailed(
                f"{label} (pid {proc.pid}) did not stop within {settings.stop_timeout:g}s",
                hint="run `kafkaops down --force` to kill it (Kafka will recover its logs at the next start)",
                runbook="failures unclean-shutdown",
            )
        processes.kill(proc.pid)
        processes.wait_exit(proc.pid, proc.create_time, 10)
        remove_pid(settings, service)
        return StopOutcome(service, "forced", proc.pid, round(time.monotonic() - t0, 2), clean=False,
                           detail=f"killed after {settings.stop_timeout:g}s without a clean shutdown")
    remove_pid(settings, service)
    clean = True
    if service == KAFKA:
        clean = SHUTDOWN_LINE in read_log_since(log, offset)
    return StopOutcome(service, "stopped", proc.pid, round(time.monotonic() - t0, 2), clean=clean,
                       detail=None if clean else "the broker exited without logging a clean shutdown")


def down(settings: Settings, progress: Progress = _noop, *, force: bool = False) -> DownResult:
    cfg = read_stack_config(settings)
    result = DownResult([])
    broker = _stop_one(settings, KAFKA, force, progress)
    result.services.append(broker)
    # Never stop ZooKeeper under a live broker: it could not unregister and would leave a ghost.
    port = cfg.listeners[0].port
    if processes.port_open(_probe_host(cfg.listeners[0].host), port):
        owner = processes.port_owner(port)
        result.services.append(StopOutcome(ZOOKEEPER, "foreign-left-running",
                                           detail="left running because a broker is still alive"))
        raise RefusedError(
            f"a broker kafkaops did not start is still running on port {port}"
            + (f" ({_owner_label(owner)})" if owner else ""),
            hint="stop that broker first; ZooKeeper was left running so that it can unregister cleanly",
            runbook="failures foreign-process",
        )
    result.services.append(_stop_one(settings, ZOOKEEPER, force, progress))
    if settings.database_url is None and settings.embedded_db:
        from kafkaops.adapters import embedded_pg

        t0 = time.monotonic()
        progress("stopping the embedded PostgreSQL")
        was_running = embedded_pg.stop(settings)
        result.services.append(
            StopOutcome(POSTGRES, "stopped" if was_running else "not-running", seconds=round(time.monotonic() - t0, 2), clean=True)
        )
    return result


def require_up(settings: Settings) -> StackStatus:
    st = status(settings)
    if not st.up:
        raise NotReady("the stack is not fully up", hint="run `kafkaops up`")
    return st
