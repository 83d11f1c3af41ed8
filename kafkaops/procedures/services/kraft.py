"""The KRaft stack (Kafka 4.x): no ZooKeeper; the metadata quorum runs inside Kafka.

Two layouts, told apart by the config files, never by a flag:

- combined: server.properties has ``process.roles=broker,controller``: one process (service "kafka").
- split: server.properties has ``process.roles=broker`` and ``controller.properties`` lies beside it
  (``process.roles=controller``): the controller (service "controller") starts first, the broker
  second; ``down`` stops the broker first (its clean shutdown), then the controller.

Storage: a KRaft node will not start on an unformatted log dir. The first ``up`` formats every dir
with a new cluster id (``kafka.tools.StorageTool format``; Kafka keeps the id in meta.properties) and
says so; later ``up``s never format again. A dir that is not empty but was never formatted, a stack
whose dirs are only partly formatted, and dirs of another cluster (ids that disagree, or not the id
kafkaops formatted this stack with) are refused before anything starts: `kafkaops reset` empties them.

Readiness: the node's started line, the controller answering (its quorum has a leader, read from the
metadata log's ``quorum-state``, and its listener accepts connections) and, for a broker, a metadata
request at KAFKA_BROKER that lists its node id. No fixed sleeps.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from kafkaops.adapters import processes
from kafkaops.errors import KafkaopsError, UnreachableError
from kafkaops.procedures.services.config import CONTROLLER, KAFKA, KRAFT_STARTED_LINE, POLL, Progress, probe_host
from kafkaops.procedures.services.kraft_layout import (
    KraftLayout,
    KraftNode,
    check_storage,
    dir_state,
    format_storage,
    new_cluster_id,
    quorum_state,
    read_layout,
    read_node,
)
from kafkaops.procedures.services.launch import _start, exited_while_starting, failure_report, read_log_since
from kafkaops.procedures.services.pidfiles import PidRecord, check_pid, read_pid
from kafkaops.procedures.services.shutdown import DownResult, _stop_one, refuse_under_a_live_broker, stop_embedded_db
from kafkaops.procedures.services.startup import ServiceOutcome, UpResult, _check_port_free, _clear_stale, _refuse_mismatch
from kafkaops.procedures.services.state import ServiceStatus, StackStatus, _topic_health, database_status, owner_label, remote_broker_status
from kafkaops.settings import Settings

__all__ = ["KraftLayout", "KraftNode", "check_storage", "dir_state", "format_storage", "new_cluster_id", "quorum_state", "read_layout", "read_node"]

# --------------------------------------------------------------------------------------------
# up


def up(settings: Settings, layout: KraftLayout, java: str, progress: Progress) -> UpResult:
    """Start the node(s) in order (controller first); the caller holds the stack lock."""
    checks = {node.service: check_pid(read_pid(settings, node.service), settings) for node in layout.nodes}
    for check in checks.values():
        _refuse_mismatch(settings, check)
    for node in layout.nodes:  # ports first: a refused start leaves nothing formatted
        if checks[node.service].verdict != "ours":
            for lst in node.listeners:
                _check_port_free(node.service, lst.host or "", lst.port)
    notes: list[str] = []
    if all(c.verdict != "ours" for c in checks.values()):  # nothing of this stack runs: its storage may be checked
        if check_storage(settings, layout) is None:
            t0 = time.monotonic()
            cluster_id = format_storage(settings, layout, java, progress)
            notes.append(
                f"formatted the KRaft storage with a new cluster id {cluster_id} ({', '.join(str(d) for n in layout.nodes for d in n.dirs)}) in {time.monotonic() - t0:.1f}s"
            )
    result = UpResult(services=[])
    for node in layout.nodes:
        try:
            outcome = start_node(settings, layout, node, java, progress)
        except KafkaopsError as exc:
            if layout.split and node.service == KAFKA:
                exc.details.append("the KRaft controller was left running; `kafkaops down` stops it")
            raise
        outcome.notes[:0] = notes
        notes = []
        result.services.append(outcome)
    return result


def start_node(settings: Settings, layout: KraftLayout, node: KraftNode, java: str, progress: Progress) -> ServiceOutcome:
    record = read_pid(settings, node.service)
    check = check_pid(record, settings)
    if check.verdict == "ours":
        assert record is not None and check.proc is not None
        wait_ready(settings, layout, node, record, progress, time.monotonic(), already=True)
        return ServiceOutcome(node.service, "already-running", check.proc.pid)
    _clear_stale(settings, record, check)
    for lst in node.listeners:
        _check_port_free(node.service, lst.host or "", lst.port)
    t0 = time.monotonic()
    what = (
        "the KRaft controller"
        if node.service == CONTROLLER
        else "Kafka (KRaft, combined broker+controller)"
        if node.is_controller
        else "the Kafka broker (KRaft)"
    )
    progress(f"starting {what} on port {node.port}")
    record = _start(settings, node.service, java, node.config)
    wait_ready(settings, layout, node, record, progress, t0)
    return ServiceOutcome(node.service, "started", record.pid, round(time.monotonic() - t0, 2))


def wait_ready(settings: Settings, layout: KraftLayout, node: KraftNode, record: PidRecord, progress: Progress, t0: float, already: bool = False) -> None:
    """Ready = its started line; a controller: a quorum leader and its listener answering; a broker: a metadata answer."""
    from kafkaops.adapters.kafka import admin, metadata, preload_clients

    deadline = t0 + settings.start_timeout
    stage = "its log says started"
    progress(f"waiting for {node.service}: {stage}")
    if node.is_broker:
        preload_clients()  # while the JVM starts, not after its started line
    started, controller_ok = already, not node.is_controller
    client = None
    while True:
        if not processes.is_alive(record.pid, record.create_time):
            raise exited_while_starting(settings, record)
        if time.monotonic() > deadline:
            raise failure_report(node.service, record, f"was not ready after {settings.start_timeout:g}s (waiting until {stage})")
        if not started:
            started = KRAFT_STARTED_LINE in read_log_since(Path(record.log), record.log_offset)
            if not started:
                time.sleep(POLL)
                continue
            stage = "the metadata quorum has a leader and the controller listener answers"
            progress(f"waiting for {node.service}: {stage}")
        if not controller_ok:
            qs = quorum_state(node)
            lst = node.controller_listener
            controller_ok = bool(qs and qs["leader_id"] is not None) and lst is not None and processes.port_open(probe_host(lst.host), lst.port)
            if not controller_ok:
                time.sleep(POLL)
                continue
        if not node.is_broker:
            return
        stage = f"{settings.kafka_broker} answers a metadata request"
        try:
            client = client if client is not None else admin(settings)  # a client with nothing queued is falsy (len 0)
            md = metadata(settings, timeout=2.0, client=client)
            if any(b.id == node.node_id for b in md.brokers):
                return
        except UnreachableError:
            pass
        time.sleep(POLL)


# --------------------------------------------------------------------------------------------
# down


def down(settings: Settings, layout: KraftLayout, progress: Progress, *, force: bool) -> DownResult:
    """The broker first (its clean shutdown), then the split layout's controller, then the embedded database."""
    result = DownResult([])
    result.services.append(_stop_one(settings, KAFKA, force, progress))
    if layout.split:
        lst = layout.broker.client_listener
        if lst is not None:
            refuse_under_a_live_broker(result, CONTROLLER, lst.host, lst.port, "the controller was left running so that it can shut down cleanly")
        result.services.append(_stop_one(settings, CONTROLLER, force, progress))
    stop_embedded_db(settings, result, progress)
    return result


# --------------------------------------------------------------------------------------------
# status


@dataclass
class KraftStackStatus(StackStatus):
    mode: str = "kraft"
    layout: str | None = None  # combined | split (local stack only)
    quorum: dict[str, object] | None = None  # leader_id, leader_epoch, voters
    nodes: list[dict[str, object]] = field(default_factory=list)  # node_id, roles, service


def node_status(settings: Settings, node: KraftNode) -> ServiceStatus:
    record = read_pid(settings, node.service)
    check = check_pid(record, settings)
    proc = check.proc if check.verdict == "ours" else None
    st = ServiceStatus(node.service, "stopped", port=node.port)
    st.health = {"node_id": node.node_id, "roles": list(node.roles)}
    if proc is not None:
        st.state, st.pid, st.managed = "running", proc.pid, True
        st.uptime_s = round(time.time() - proc.create_time, 1)
        from kafkaops.procedures.services.config import kafka_version

        st.health["kafka_version"] = kafka_version(Path(record.kafka_home)) if record else None
    elif record is not None:
        st.state, st.pid, st.detail = "stale-pid-file", record.pid, check.detail
    lst = node.client_listener if node.is_broker else node.controller_listener
    open_ = lst is not None and processes.port_open(probe_host(lst.host), lst.port)
    if open_ and proc is None:
        owner = processes.port_owner(node.port)
        st.state, st.pid = "foreign", owner.pid if owner else None
        st.detail = f"port {node.port} held by {owner_label(owner) if owner else 'a process kafkaops cannot see'}, not started by kafkaops"
    elif not open_ and proc is not None:
        st.state, st.detail = "not-ready", f"process {proc.pid} runs but port {node.port} is closed"
    if open_ and node.is_broker:
        from kafkaops.adapters.kafka import metadata

        try:
            md = metadata(settings, timeout=3.0)
            st.health.update(
                {
                    "broker_ids": sorted(b.id for b in md.brokers),
                    "controller": md.controller_id,
                    "cluster_id": md.cluster_id,
                    "topic": _topic_health(md, settings.kafka_topic),
                }
            )
        except KafkaopsError as exc:
            st.health["error"] = exc.message
            if st.state == "running":
                st.state = "not-ready"
    return st


def is_local_broker(settings: Settings, layout: KraftLayout) -> bool:
    from kafkaops.adapters import network

    host, port = network.split_hostport(settings.kafka_broker, 9092)
    return network.is_local(host, timeout=0.5) and port in [lst.port for lst in layout.broker.listeners]


def status(settings: Settings) -> StackStatus:
    """The KRaft stack's nodes, its quorum (leader, voters) and node roles; a cluster elsewhere when no local config."""
    if not settings.server_properties.is_file():
        return remote_status(settings, f"no local stack is configured here (config file not found: {settings.server_properties})")
    layout = read_layout(settings)  # a broken local config is a setting error (exit 2), never "look elsewhere"
    if not is_local_broker(settings, layout):
        return remote_status(settings, f"KAFKA_BROKER={settings.kafka_broker} is not the local KRaft stack's broker ({settings.server_properties})")
    services_ = [node_status(settings, n) for n in layout.nodes]
    db = database_status(settings)
    if db is not None:
        services_.append(db)
    ctl = layout.controller
    quorum = quorum_state(ctl) if ctl is not None else None
    ctl_status = next((st for st in services_ if ctl is not None and st.service == ctl.service), None)
    if quorum is not None and (ctl_status is None or ctl_status.state not in ("running", "not-ready")):
        quorum["leader_id"] = None  # the file keeps the last leader after a stop: no controller runs, no leader
    nodes = [{"node_id": n.node_id, "roles": list(n.roles), "service": n.service} for n in layout.nodes]
    reasons = [f"KRaft stack ({layout.name} layout) configured by {settings.server_properties}"]
    return KraftStackStatus(services_, local=True, reasons=reasons, layout=layout.name, quorum=quorum, nodes=nodes)


def plaintext(settings: Settings) -> bool:
    return (settings.client_security.get("security.protocol") or "PLAINTEXT").upper() == "PLAINTEXT"


def wire_mode(settings: Settings) -> str | None:
    """The mode of the cluster at KAFKA_BROKER, asked over the wire (ApiVersions); None over TLS/SASL, where it is not asked."""
    from kafkaops.adapters import network
    from kafkaops.adapters.apiversions import cluster_mode

    if not plaintext(settings):
        return None
    return cluster_mode(*network.split_hostport(settings.kafka_broker, 9092))


def remote_status(settings: Settings, why: str) -> StackStatus:
    """A cluster kafkaops did not start: what answers at KAFKA_BROKER (brokers, controller, cluster id, mode)."""
    bs = remote_broker_status(settings)
    mode = None
    if bs.state == "reachable":
        mode = wire_mode(settings)
        bs.health["mode"] = mode
    services_ = [bs]
    db = database_status(settings)
    if db is not None and db.state != "stopped":
        services_.append(db)
    return KraftStackStatus(services_, local=False, reasons=[why], mode=mode or "unknown")
