"""Step 1 of the checklist in KRaft mode: the metadata quorum (it replaces the ZooKeeper layer).

- ``quorum.controller``: the local controller process and its listener (local stack only)
- ``quorum.voters``: the local node's quorum configuration (controller.quorum.voters, controller listener, node.id)
- ``quorum.leader``: the quorum leader, the voters and how far each lags, as a broker reports them
  (one DescribeQuorum request, :mod:`kafkaops.adapters.quorum`; the admin API's view when it cannot be sent)
- ``quorum.log``: the KRaft failure signatures in the local node's log since its last start
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kafkaops.adapters import network, processes
from kafkaops.doctor import kraft
from kafkaops.doctor.context import Context
from kafkaops.doctor.registry import check
from kafkaops.doctor.results import Outcome, failed, passed, skipped, warned
from kafkaops.errors import KafkaopsError
from kafkaops.procedures import services
from kafkaops.text import format_uptime

if TYPE_CHECKING:
    from kafkaops.adapters.quorum import QuorumInfo

# A voter this many metadata records behind the leader's high watermark is worth a warning.
LAG_WARN_RECORDS = 1000


def _config(ctx: Context) -> kraft.KraftConfig:
    return kraft.read_kraft_config(ctx.settings)


def _local_controller_ports(kc: kraft.KraftConfig) -> list[tuple[str, int]]:
    """Where this machine's controller listens: its CONTROLLER listeners, else the voters on this machine."""
    if "controller" in kc.roles and kc.controller_listeners:
        return [(services.probe_host(lst.host), lst.port) for lst in kc.controller_listeners]
    try:
        voters = kraft.parse_voters(kc.voters_raw)
    except ValueError:
        voters = []
    return [(services.probe_host(v.host), v.port) for v in voters if network.is_local(v.host, timeout=0.5)]


def _controller_pid(ctx: Context) -> int | None:
    for service in (getattr(services, "CONTROLLER", None), services.KAFKA):
        if service is None:
            continue
        proc = services.live_process(services.read_pid(ctx.settings, service))
        if proc is not None:
            return proc.pid
    return None


@check("quorum.controller", 1, "quorum", "KRaft controller process and port", local="broker", applies="local")
def check_controller_process(ctx: Context) -> Outcome:
    kc = _config(ctx)
    ports = _local_controller_ports(kc)
    if not ports:
        return skipped(
            f"no controller of the quorum runs on this machine ({ctx.settings.server_properties}: process.roles={','.join(kc.roles)}, "
            f"controller.quorum.voters={kc.voters_raw or '(unset)'})",
            kind="not-configured",
        )
    open_ = [(h, p) for h, p in ports if processes.port_open(h, p)]
    if not open_:
        port = ports[0][1]
        return failed(
            f"the KRaft controller is not running (nothing listens on controller port {port})",
            remedy="start the stack: `kafkaops up` starts the controller (and the broker) and waits until the quorum has a leader; "
            "if it stops again, read its log",
            runbook="broker-unreachable",
            next="kafkaops up",
            priority=5,
            data={"ports": [p for _, p in ports]},
        )
    host, port = open_[0]
    owner = processes.port_owner(port)
    pid = _controller_pid(ctx)
    if owner is not None and not owner.runs(services.MAIN_CLASS[services.KAFKA]):
        return failed(
            f"controller port {port} is held by {services.owner_label(owner)}, not by a Kafka controller",
            remedy=f"stop that process (pid {owner.pid}), or move the controller listener (listeners and controller.quorum.voters in "
            f"{ctx.settings.server_properties}), then `kafkaops up`",
            runbook="port-in-use",
            next=f"kafkaops status  # then stop pid {owner.pid}",
            priority=10,
            data={"pid": owner.pid, "port": port, "owner": owner.name},
        )
    if owner is not None and pid is not None and owner.pid == pid:
        return passed(
            f"the KRaft controller runs (pid {owner.pid}, up {format_uptime(time.time() - owner.create_time)}) and listens on port {port}",
            data={"pid": owner.pid, "port": port, "managed": True},
        )
    if owner is not None:
        return warned(
            f"the KRaft controller on port {port} was not started by kafkaops ({services.owner_label(owner)})",
            remedy="kafkaops can check it but will never stop it",
            runbook="foreign-process",
            details=[f"command: {owner.command[:300]}"],
            data={"pid": owner.pid, "port": port, "managed": False},
        )
    return passed(f"a controller listens on port {port} (its process is not visible to kafkaops)", data={"port": port})


def voters_problems(kc: kraft.KraftConfig) -> list[str]:
    """What is wrong with a KRaft node's quorum settings, each naming the setting to fix (empty when nothing is)."""
    problems: list[str] = []
    if not kc.roles or any(r not in ("broker", "controller") for r in kc.roles):
        problems.append(f"process.roles={','.join(kc.roles)}: only broker and controller are roles")
    if kc.node_id is None:
        problems.append("node.id is not set: every KRaft node needs a whole-number node.id")
    if not kc.controller_listener_names:
        problems.append("controller.listener.names is not set: the node cannot find the controllers")
    if not kc.voters_raw and not kc.bootstrap_servers:
        problems.append("neither controller.quorum.voters nor controller.quorum.bootstrap.servers is set: the node has no quorum to join")
        return problems
    try:
        voters = kraft.parse_voters(kc.voters_raw)
    except ValueError as exc:
        problems.append(f"controller.quorum.voters={kc.voters_raw}: {exc}")
        return problems
    ids = [v.node_id for v in voters]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        problems.append(f"controller.quorum.voters={kc.voters_raw} names node {dupes[0]} more than once")
    if "controller" in kc.roles and kc.node_id is not None and voters:
        mine = [v for v in voters if v.node_id == kc.node_id]
        if not mine:
            problems.append(
                f"process.roles has controller, but node.id {kc.node_id} is not among controller.quorum.voters={kc.voters_raw}: "
                "Kafka refuses to start (the node id must be included in the set of voters)"
            )
        else:
            ports = {lst.port for lst in kc.controller_listeners}
            if kc.controller_listener_names and not ports:
                names = ",".join(kc.controller_listener_names)
                problems.append(f"controller.listener.names={names} names no listener in listeners={','.join(lst.url for lst in kc.listeners)}")
            elif ports and mine[0].port not in ports:
                problems.append(
                    f"controller.quorum.voters names this node as {mine[0]}, but its controller listener is on port "
                    f"{', '.join(str(p) for p in sorted(ports))}: the other voters (and the brokers) cannot reach it"
                )
    if kc.roles == ("broker",) and kc.node_id is not None and kc.node_id in ids:
        problems.append(f"node.id {kc.node_id} is a voter in controller.quorum.voters, but this node is a broker only: node ids must be unique")
    return problems


@check("quorum.voters", 1, "quorum", "quorum settings: voters, controller listener, node.id", local="broker", applies="local")
def check_voters(ctx: Context) -> Outcome:
    kc = _config(ctx)
    problems = voters_problems(kc)
    data = {"node_id": kc.node_id, "roles": list(kc.roles), "voters": kc.voters_raw, "bootstrap_servers": kc.bootstrap_servers}
    if problems:
        return failed(
            f"quorum misconfiguration in {ctx.settings.server_properties}: {problems[0]}",
            remedy=f"fix it in {ctx.settings.server_properties} (every voter is node.id@host:controller-port, the same list on every node), "
            "then restart with `kafkaops down` and `kafkaops up`",
            runbook="broker-unreachable",
            details=problems,
            next=f"edit {ctx.settings.server_properties}, then kafkaops down && kafkaops up",
            priority=10,
            data=data,
        )
    quorum = f"controller.quorum.voters={kc.voters_raw}" if kc.voters_raw else f"controller.quorum.bootstrap.servers={kc.bootstrap_servers}"
    return passed(f"node {kc.node_id} ({'+'.join(kc.roles)}), {quorum}", data=data)


def _plaintext(ctx: Context) -> bool:
    proto = (ctx.settings.client_security.get("security.protocol") or "PLAINTEXT").upper()
    return proto == "PLAINTEXT"


# The JVM tool's time limit: it starts a JVM (about 2.5 s here), so it runs only when DescribeQuorum cannot be sent.
JVM_TIMEOUT = 9.0


def java_client_config(security: dict[str, str]) -> dict[str, str] | None:
    """kafkaops's (librdkafka) client security settings as the Java client's; None when they cannot be said so simply."""
    if security.get("ssl.certificate.location") or security.get("ssl.key.location"):
        return None  # a client certificate needs a keystore: not built here
    out: dict[str, str] = {}
    if security.get("security.protocol"):
        out["security.protocol"] = security["security.protocol"].upper()
    if security.get("ssl.ca.location"):
        out["ssl.truststore.type"] = "PEM"
        out["ssl.truststore.location"] = security["ssl.ca.location"]
    mechanism = (security.get("sasl.mechanism") or "").upper()
    if mechanism:
        module = {"PLAIN": "org.apache.kafka.common.security.plain.PlainLoginModule"}.get(
            mechanism, "org.apache.kafka.common.security.scram.ScramLoginModule" if mechanism.startswith("SCRAM-") else ""
        )
        if not module:
            return None
        user = (security.get("sasl.username") or "").replace("\\", "\\\\").replace('"', '\\"')
        password = (security.get("sasl.password") or "").replace("\\", "\\\\").replace('"', '\\"')
        out["sasl.mechanism"] = mechanism
        out["sasl.jaas.config"] = f'{module} required username="{user}" password="{password}";'
    return out


def _describe(ctx: Context) -> tuple[object, str]:
    """The quorum as (QuorumInfo, source), or (the reason it could not be asked, "") ."""
    from kafkaops.adapters import quorum

    if _plaintext(ctx):
        try:
            return quorum.describe_quorum(ctx.broker_host, ctx.broker_port, timeout=2.0), "DescribeQuorum"
        except quorum.QuorumError as exc:
            why = str(exc)
            if exc.code is None and not processes.port_open(services.probe_host(ctx.broker_host), ctx.broker_port):
                return None, why
    else:
        why = "DescribeQuorum is sent as PLAINTEXT only, and this cluster wants TLS/SASL"
    conf = java_client_config(ctx.settings.client_security)
    if conf is None:
        return why + "; the client settings cannot be handed to Kafka's kafka-metadata-quorum", ""
    try:
        from kafkaops.adapters.java import find_java

        java = find_java(ctx.settings.java).path
        info = quorum.describe_quorum_jvm(java, ctx.settings.kafka_home, ctx.settings.kafka_broker, conf, JVM_TIMEOUT)
        return info, "kafka-metadata-quorum"
    except (quorum.QuorumError, KafkaopsError) as exc:
        msg = exc.message if isinstance(exc, KafkaopsError) else str(exc)
        return f"{why}; {msg}", ""


@check(
    "quorum.leader",
    1,
    "quorum",
    "quorum leader elected, voters and their lag",
    requires=("quorum.controller", "quorum.voters"),
    applies="kraft",
    timeout=JVM_TIMEOUT + 3,  # DescribeQuorum takes milliseconds; the JVM fallback, seconds
)
def check_leader(ctx: Context) -> Outcome:
    from kafkaops.adapters.quorum import QuorumInfo

    address = ctx.settings.kafka_broker
    got, source = _describe(ctx)
    if got is None:
        return failed(
            f"nothing answers at KAFKA_BROKER={address}: the metadata quorum cannot be asked",
            remedy="start the stack (`kafkaops up`) or fix KAFKA_BROKER; the broker layer below says more",
            runbook="broker-unreachable",
            next="kafkaops up" if ctx.identity.local else "kafkaops status",
            data={"address": address},
        )
    if not isinstance(got, QuorumInfo):
        return _leader_from_admin(ctx, str(got))
    info = got
    voters, details, data = _quorum_summary(info, source)
    if info.leader_id < 0:
        return failed(
            f"the metadata quorum has no leader (voters: {voters or 'none'})",
            remedy="a majority of the controllers (controller.quorum.voters) must run and reach each other on their controller listeners: "
            "start the missing ones, and check the controller log",
            runbook="broker-unreachable",
            details=details,
            next="kafkaops logs kafka",
            data=data,
        )
    expected = _expected_voters(ctx)
    ids = sorted(v.id for v in info.voters)
    if expected is not None and expected != ids:
        return warned(
            f"the quorum's voters are {ids}, but the local controller.quorum.voters names {expected}",
            remedy=f"make controller.quorum.voters in {ctx.settings.server_properties} the same on every node",
            runbook="broker-unreachable",
            details=details,
            data=data,
        )
    if info.max_voter_lag > LAG_WARN_RECORDS:
        return warned(
            f"quorum leader {info.leader_id} (epoch {info.leader_epoch}); a voter lags {info.max_voter_lag} metadata records behind",
            remedy="a lagging controller is slow or cannot fetch from the leader: check its log and its disk",
            runbook="broker-unreachable",
            details=details,
            data=data,
        )
    return passed(
        f"quorum leader {info.leader_id} (epoch {info.leader_epoch}), voters {voters}, high watermark {info.high_watermark}",
        details=details,
        data=data,
    )


def _quorum_summary(info: QuorumInfo, source: str) -> tuple[str, list[str], dict[str, object]]:
    """The voters in one line, a detail line per voter and observer, and the --json data."""
    per_voter = info.reported_max_lag is None
    voters = ", ".join(f"{v.id} (lag {info.lag(v)})" if per_voter else str(v.id) for v in info.voters)
    if not per_voter:
        voters += f"; largest follower lag {info.max_voter_lag}"
    details = [f"voter {v.id}: log end offset {v.log_end_offset}, lag {info.lag(v)}" for v in info.voters] if per_voter else []
    details += [f"observer {o.id}: log end offset {o.log_end_offset}, lag {info.lag(o)}" for o in info.observers]
    data = {
        "leader_id": info.leader_id,
        "leader_epoch": info.leader_epoch,
        "high_watermark": info.high_watermark,
        "voters": [{"id": v.id, "log_end_offset": v.log_end_offset, "lag": info.lag(v)} if per_voter else {"id": v.id} for v in info.voters],
        "observers": [{"id": o.id, "log_end_offset": o.log_end_offset, "lag": info.lag(o)} for o in info.observers],
        "max_voter_lag": info.max_voter_lag,
        "source": source,
    }
    return voters, details, data


def _expected_voters(ctx: Context) -> list[int] | None:
    if not ctx.identity.local:
        return None
    try:
        kc = _config(ctx)
        return sorted(v.node_id for v in kraft.parse_voters(kc.voters_raw)) or None
    except (KafkaopsError, ValueError):
        return None


def _leader_from_admin(ctx: Context, why: str) -> Outcome:
    """What the admin API says when DescribeQuorum cannot be sent: the nodes and the voters config (no leader, no lag)."""
    from kafkaops.adapters.quorum import broker_config

    try:
        nodes, cfg = broker_config(ctx.admin(), 2.0)
    except Exception as exc:  # noqa: BLE001 - the broker layer reports an unreachable broker
        return warned(
            f"the metadata quorum could not be described: {why}",
            remedy="the broker layer below says whether the broker answers",
            runbook="broker-unreachable",
            details=[f"admin API: {type(exc).__name__}"],
            data={"no_result": True},
        )
    voters = cfg.get("controller.quorum.voters")
    boot = cfg.get("controller.quorum.bootstrap.servers")
    quorum = f"controller.quorum.voters={voters}" if voters else f"controller.quorum.bootstrap.servers={boot or '?'}"
    return passed(
        f"{len(nodes)} broker(s) registered with the quorum, {quorum} (leader and lag not known: {why})",
        data={"nodes": nodes, "voters": voters, "source": "admin API"},
    )


# --------------------------------------------------------------------------------------------
# KRaft failure signatures, as Kafka 4.x writes them (checked against 4.4.0 on this machine)


@dataclass(frozen=True)
class KraftSignature:
    id: str
    pattern: re.Pattern[str]
    title: str
    remedy: str


KRAFT_SIGNATURES = (
    KraftSignature(
        "kraft-unformatted",
        re.compile(r"No readable meta\.properties files found|No `meta\.properties` found in"),
        "log dir not formatted (no meta.properties)",
        "format the storage: `kafkaops up` formats a new KRaft stack on its first start; for a node you run yourself, "
        "`kafka-storage format -t <cluster id> -c server.properties`",
    ),
    KraftSignature(
        "kraft-cluster-id-mismatch",
        re.compile(r"Invalid cluster\.id in: |INCONSISTENT_CLUSTER_ID|InconsistentClusterIdException"),
        "cluster id mismatch between log dirs (or with the quorum)",
        "every log dir (and metadata.log.dir) must be formatted with the same cluster id as the quorum: restore the right dir, "
        "or empty them all with `kafkaops reset --confirm` and start again (every message is lost)",
    ),
    KraftSignature(
        "kraft-node-id-mismatch",
        re.compile(r"Stored node id \d+ doesn't match previous node id \d+"),
        "node.id differs from the one stored in meta.properties",
        "set node.id back to the stored one in server.properties; a new node needs empty log dirs",
    ),
    KraftSignature(
        "kraft-node-id-conflict",
        re.compile(r"DuplicateBrokerRegistration|Another broker is registered with that broker id|DUPLICATE_BROKER_REGISTRATION"),
        "another node registered with the same node.id",
        "give every node its own node.id (server.properties), then restart this one",
    ),
    KraftSignature(
        "kraft-voters-misconfigured",
        re.compile(
            r"must be included in the set of voters|controller\.quorum\.voters|controller\.quorum\.bootstrap\.servers|controller\.listener\.names"
            r"|(?:IllegalArgumentException|ConfigException).*(?:controller|process\.roles)"
        ),
        "quorum configuration refused (controller.quorum.voters, controller.listener.names, process.roles)",
        "fix the quorum settings in server.properties: node.id among controller.quorum.voters for a controller, each voter "
        "node.id@host:controller-port, controller.listener.names naming a listener",
    ),
)
_RECORD = re.compile(r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}\] ")
_START = re.compile(r"Registered `kafka:type=kafka\.Log4jController` MBean|Starting controller|KafkaConfig values:")
_LEVEL = re.compile(r"^\[[^\]]+\] (ERROR|FATAL|WARN) ")


@dataclass(frozen=True)
class KraftFinding:
    signature: KraftSignature
    line_no: int
    text: str


def scan_kraft(text: str, first_line: int = 1) -> list[KraftFinding]:
    """The KRaft signatures in a log text since the node's last start (records at WARN or above, and their stack traces)."""
    lines = text.splitlines()
    start = 0
    for i, line in enumerate(lines):
        if _START.search(line) and (i == 0 or not _START.search(lines[i - 1])):
            start = i
    found: list[KraftFinding] = []
    record: list[str] = []
    record_no = 0

    def flush() -> None:
        if record and _LEVEL.match(record[0]):
            body = "\n".join(record)
            for sig in KRAFT_SIGNATURES:
                if sig.pattern.search(body):
                    hit = next((ln for ln in record if sig.pattern.search(ln)), record[0])
                    found.append(KraftFinding(sig, record_no, hit.strip()[:300]))
                    break

    for i, line in enumerate(lines[start:], start=start):
        if _RECORD.match(line):
            flush()
            record, record_no = [line], first_line + i
        elif record:
            record.append(line)
    flush()
    return found


def _kraft_logs(ctx: Context) -> list[Path]:
    names = [n for n in (getattr(services, "CONTROLLER", None), services.KAFKA) if n]
    return [p for p in dict.fromkeys(services.log_path(ctx.settings, n) for n in names) if p.is_file()]


@check("quorum.log", 1, "quorum", "KRaft log: unformatted dir, cluster/node id, quorum settings", local="broker", applies="local")
def check_kraft_log(ctx: Context) -> Outcome:
    from kafkaops.doctor.logs import read_tail

    paths = _kraft_logs(ctx)
    if not paths:
        return skipped(f"no log at {services.log_path(ctx.settings, services.KAFKA)}: kafkaops never started this node here", kind="not-configured")
    hits: list[tuple[Path, KraftFinding]] = []
    for path in paths:
        text, first = read_tail(path)
        hits += [(path, f) for f in scan_kraft(text, first)]
    if not hits:
        return passed(f"no KRaft failure signature in {', '.join(p.name for p in paths)} since the last start", data={"files": [str(p) for p in paths]})
    path, f = hits[0]
    details = [f"{p.name}:{h.line_no} {h.signature.title}: {h.text}" for p, h in hits]
    return failed(
        f"{path.name}:{f.line_no}: {f.signature.title}",
        remedy=f.signature.remedy,
        runbook="cluster-id-mismatch" if "id" in f.signature.id else "broker-unreachable",
        details=details,
        next="kafkaops logs kafka",
        priority=8,  # the cause, above "the controller is not running" (what it leads to)
        data={"file": str(path), "findings": [{"line": h.line_no, "signature": h.signature.id, "text": h.text} for _, h in hits]},
    )
