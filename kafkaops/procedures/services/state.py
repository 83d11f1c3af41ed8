"""State of each service: what `kafkaops status` reports."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from kafkaops.adapters import processes
from kafkaops.adapters import zookeeper as zk
from kafkaops.errors import ConfigError, KafkaopsError
from kafkaops.procedures.services.config import KAFKA, MAIN_CLASS, POSTGRES, ZOOKEEPER, StackConfig, kafka_version, probe_host
from kafkaops.procedures.services.pidfiles import PidCheck, PidRecord, check_pid, read_pid
from kafkaops.settings import Settings


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
    """'pid N (ZooKeeper)', 'pid N (Kafka broker)' or 'pid N (<program>)': who holds a port, in the one wording status, doctor and reset use."""
    kind = "ZooKeeper" if info.runs(MAIN_CLASS[ZOOKEEPER]) else "Kafka broker" if info.runs(MAIN_CLASS[KAFKA]) else info.name
    return f"pid {info.pid} ({kind})"


UNSEEN_OWNER = "a process kafkaops cannot see"


@dataclass
class ServiceProbe:
    """What runs a service and who holds its port: the one answer status, doctor, reset and identity.identify go by."""

    service: str
    host: str
    port: int
    record: PidRecord | None  # its pid file
    check: PidCheck  # what the pid file's process really is (against this stack's config)
    port_open: bool

    @property
    def proc(self) -> processes.ProcInfo | None:
        """The service kafkaops started, verified live; None when it does not run."""
        return self.check.proc if self.check.verdict == "ours" else None

    @cached_property
    def owner(self) -> processes.ProcInfo | None:
        """The process holding the port (looked up once, when first asked: it reads the machine's sockets)."""
        return processes.port_owner(self.port) if self.port_open else None

    @property
    def owner_text(self) -> str:
        return owner_label(self.owner) if self.owner is not None else UNSEEN_OWNER

    @property
    def state(self) -> str:
        """running (kafkaops's process) | foreign (another process holds its port) | stale-pid-file | stopped."""
        if self.proc is not None:
            return "running"
        if self.port_open:
            return "foreign"
        return "stale-pid-file" if self.record is not None else "stopped"


def service_address(cfg: StackConfig, service: str) -> tuple[str, int]:
    """Where a service of the local stack answers: (host to connect to, port); the broker's first listener."""
    if service == ZOOKEEPER:
        return cfg.zk_probe_host, cfg.zk_port
    first = cfg.listeners[0]
    return probe_host(first.host), first.port


def probe(settings: Settings, cfg: StackConfig, service: str, *, address: tuple[str, int] | None = None) -> ServiceProbe:
    """Probe ``service``: its pid file checked against the live process, and its port (``address``, else its own)."""
    host, port = address or service_address(cfg, service)
    record = read_pid(settings, service)
    return ServiceProbe(service, host, port, record, check_pid(record, settings), processes.port_open(host, port))


def _base_status(p: ServiceProbe) -> ServiceStatus:
    """A service's status as far as its probe tells: process, pid file and port."""
    status = ServiceStatus(p.service, "stopped", port=p.port)
    if p.proc is not None:
        status.state, status.pid, status.managed = "running", p.proc.pid, True
        status.uptime_s = round(time.time() - p.proc.create_time, 1)
    elif p.record is not None:
        status.state, status.pid = "stale-pid-file", p.record.pid
        status.detail = p.check.detail
    return status


def _foreign(status: ServiceStatus, p: ServiceProbe, verb: str) -> None:
    status.state = "foreign"
    status.pid = p.owner.pid if p.owner else None
    status.detail = f"port {p.port} {verb} by {p.owner_text}, not started by kafkaops"


def zookeeper_status(settings: Settings, cfg: StackConfig) -> ServiceStatus:
    p = probe(settings, cfg, ZOOKEEPER)
    status = _base_status(p)
    answer = zk.srvr(p.host, p.port, timeout=1.0)
    if answer is not None:
        status.health = {"serving": answer.serving, "mode": answer.mode, "version": answer.version}
    if p.proc is None:
        if answer is not None or p.port_open:
            _foreign(status, p, "answered" if answer is not None else "held")
    elif answer is None:
        status.state = "not-ready"
        status.detail = f"process {p.proc.pid} runs but port {p.port} does not answer srvr"
    elif not answer.serving:
        status.state = "not-ready"
    return status


def broker_status(settings: Settings, cfg: StackConfig, *, timeout: float = 3.0) -> ServiceStatus:
    p = probe(settings, cfg, KAFKA)
    status = _base_status(p)
    if p.proc is not None:
        status.health["kafka_version"] = kafka_version(Path(p.record.kafka_home)) if p.record else None
    elif p.port_open:
        _foreign(status, p, "held")
    if p.port_open:
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
    elif p.proc is not None:
        status.state = "not-ready"
        status.detail = f"process {p.proc.pid} runs but port {p.port} is closed"
    return status


@dataclass
class StackStatus:
    services: list[ServiceStatus]
    local: bool = True  # the configured cluster is the local stack (else: another cluster, no local pids)
    reasons: list[str] = field(default_factory=list)  # why (identity.identify)

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
    bs = remote_broker_status(settings)
    out.append(bs)
    return out


def remote_broker_status(settings: Settings) -> ServiceStatus:
    """What answers at KAFKA_BROKER: broker ids, controller, cluster id and the pipeline topic (or the error)."""
    from kafkaops.adapters import network
    from kafkaops.adapters.kafka import metadata

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
    return bs
