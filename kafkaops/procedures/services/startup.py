"""up: ZooKeeper first, then the broker, each waited for until it is really ready."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from kafkaops.adapters import processes
from kafkaops.adapters import zookeeper as zk
from kafkaops.adapters.javaprops import read_properties
from kafkaops.errors import ConfigError, KafkaopsError, RefusedError, ServiceFailed, UnreachableError
from kafkaops.procedures.services.config import (
    KAFKA,
    MAIN_CLASS,
    POLL,
    STARTED_LINE,
    ZOOKEEPER,
    Progress,
    StackConfig,
    probe_host,
)
from kafkaops.procedures.services.launch import _start, exited_while_starting, failure_report, read_log_since
from kafkaops.procedures.services.pidfiles import PidCheck, PidRecord, check_pid, pid_path, read_pid, remove_pid
from kafkaops.settings import Settings

if TYPE_CHECKING:  # imported where used, at run time: `kafkaops up` without a topic or a database needs neither
    from kafkaops.adapters.embedded_pg import EmbeddedInfo
    from kafkaops.procedures.topics import EnsureResult


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
            raise exited_while_starting(settings, record)
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
    from kafkaops.procedures.services.identity import read_meta

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
    from kafkaops.adapters.kafka import admin, metadata, preload_clients

    deadline = t0 + settings.start_timeout
    log = Path(record.log)
    stage = "its log says started"
    progress("waiting for the broker: " + stage)
    preload_clients()  # while the JVM starts, not after its started line
    started = already
    registered = False
    client = None
    with zk.connect(cfg.broker_zk_connect, timeout=5.0) as zc:
        while True:
            if not processes.is_alive(record.pid, record.create_time):
                raise exited_while_starting(settings, record)
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
                client = client if client is not None else admin(settings)  # a client with nothing queued is falsy (len 0)
                md = metadata(settings, timeout=2.0, client=client)
                if any(b.id == cfg.broker_id for b in md.brokers):
                    return
            except UnreachableError:
                pass
            time.sleep(POLL)


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
    return finish_up(settings, result, progress, ensure_topic=ensure_topic)


def finish_up(settings: Settings, result: UpResult, progress: Progress, *, ensure_topic: bool) -> UpResult:
    """After the broker is ready (either mode): the pipeline topic, then the embedded database."""
    if ensure_topic:
        from kafkaops.procedures import topics

        progress(f"making sure topic {settings.kafka_topic} exists")
        result.topic = topics.ensure_topic(settings, settings.kafka_topic, settings.topic_partitions, settings.topic_replication_factor)
    if settings.database_url is None and settings.embedded_db:
        from kafkaops.adapters import embedded_pg

        progress("starting the embedded PostgreSQL (DATABASE_URL is not set)")
        result.database = embedded_pg.start(settings)
    return result
