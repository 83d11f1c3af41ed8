"""kafkaops doctor: the procedure's debug checklist (section 9) as a list of bounded checks and a verdict.

Each check is one question about one layer (ZooKeeper, broker, topic, configuration, database,
producer, consumer, logs, host) and answers PASS, WARN, FAIL or SKIP with a one-line finding, details,
the remedy and a runbook reference. Checks run in the procedure's order; a check whose prerequisite
failed is skipped with the reason instead of being run into a timeout, and every check runs under its
own short time limit. The verdict names the first layer that failed, why, and the next command.

Nothing here prints: :func:`run_doctor` returns a :class:`DoctorReport`; the CLI renders it.
"""

from __future__ import annotations

import difflib
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from kafkaops.adapters import network, processes
from kafkaops.adapters import zookeeper as zk
from kafkaops.adapters.javaprops import parse_listeners
from kafkaops.errors import KafkaopsError, UnreachableError
from kafkaops.procedures import cluster, services, signatures
from kafkaops.redact import MASK, redact_dsn, redact_text
from kafkaops.settings import Settings

SCHEMA = "kafkaops.doctor/1"
PASS, WARN, FAIL, SKIP = "PASS", "WARN", "FAIL", "SKIP"
LAYERS = ("zookeeper", "broker", "topic", "configuration", "database", "producer", "consumer", "logs", "host")
EXTRAS_STEP = 10  # Java, /tmp, disk space, pid files: not in the procedure's nine steps
LOG_TAIL_BYTES = 2 * 1024 * 1024
LOW_DISK_BYTES = 1024**3
FULL_DISK_BYTES = 100 * 1024**2  # below this a broker cannot write its segments, indexes and checkpoints
LOW_DISK_FRACTION = 0.05
METADATA_DEADLINE = 3.0  # seconds a healthy broker never needs for a metadata request (it takes milliseconds)
REQUEST_DEADLINE = 3.0  # the same for the admin request of broker.requests
LIVEDB, OFFSETS_TABLE = "livedb", "producer_offsets"
CANARY_HEADER = "kafkaops-canary"


# --------------------------------------------------------------------------------------------
# Results


@dataclass
class CheckResult:
    id: str
    step: int  # 1..8 as in the procedure's checklist; 10 for the extras
    layer: str
    title: str
    status: str  # PASS | WARN | FAIL | SKIP
    finding: str
    details: list[str] = field(default_factory=list)
    remedy: str | None = None
    runbook: str | None = None  # "failures <anchor>"
    next: str | None = None  # the one command (or action) to run next
    seconds: float = 0.0
    data: dict[str, Any] = field(default_factory=dict)
    priority: int = 0  # within a failing layer, the verdict prefers the root cause (higher)
    skip_kind: str | None = None  # prerequisite | remote | not-configured

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "step": self.step,
            "layer": self.layer,
            "title": self.title,
            "status": self.status,
            "finding": self.finding,
            "details": list(self.details),
            "remedy": self.remedy,
            "runbook": self.runbook,
            "next": self.next,
            "seconds": round(self.seconds, 3),
            "data": self.data,
        }


@dataclass
class Verdict:
    status: str  # ok | warn | fail
    layer: str | None
    check: str | None
    why: str
    next: str | None
    runbook: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "layer": self.layer, "check": self.check, "why": self.why, "next": self.next, "runbook": self.runbook}


@dataclass
class DoctorReport:
    checks: list[CheckResult]
    verdict: Verdict
    context: dict[str, Any]
    seconds: float
    secrets: tuple[str, ...] = ()

    @property
    def failed(self) -> bool:
        return any(c.status == FAIL for c in self.checks)

    def check(self, check_id: str) -> CheckResult:
        for c in self.checks:
            if c.id == check_id:
                return c
        raise KeyError(check_id)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document (schema kafkaops.doctor/1), with every secret masked."""
        counts = {s: sum(1 for c in self.checks if c.status == s) for s in (PASS, WARN, FAIL, SKIP)}
        doc = {
            "schema": SCHEMA,
            "ok": not self.failed,
            "exit_code": 3 if self.failed else 0,
            "summary": counts,
            "verdict": self.verdict.to_dict(),
            "context": self.context,
            "checks": [c.to_dict() for c in self.checks],
            "seconds": round(self.seconds, 3),
        }
        return scrub(doc, self.secrets)


def scrub(value: Any, secrets: tuple[str, ...] = ()) -> Any:
    """Every string in a JSON-able value with DSN passwords, key=value secrets and known secrets masked."""
    if isinstance(value, str):
        text = redact_text(value)
        for secret in secrets:
            text = text.replace(secret, MASK)
        return text
    if isinstance(value, dict):
        return {k: scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub(v, secrets) for v in value]
    return value


# --------------------------------------------------------------------------------------------
# What a check returns (the runner adds id, step, layer, title and timing)


@dataclass
class Outcome:
    status: str
    finding: str
    details: list[str] = field(default_factory=list)
    remedy: str | None = None
    runbook: str | None = None
    next: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    priority: int = 0
    skip_kind: str | None = None


def passed(finding: str, details: list[str] | None = None, **data: Any) -> Outcome:
    return Outcome(PASS, finding, details or [], data=data)


def warned(
    finding: str, remedy: str | None = None, runbook: str | None = None, details: list[str] | None = None, next: str | None = None, **data: Any
) -> Outcome:
    return Outcome(WARN, finding, details or [], remedy, _ref(runbook), next, data)


def failed(finding: str, remedy: str, runbook: str, details: list[str] | None = None, next: str | None = None, priority: int = 0, **data: Any) -> Outcome:
    return Outcome(FAIL, finding, details or [], remedy, _ref(runbook), next, data, priority)


def skipped(reason: str, kind: str = "prerequisite", details: list[str] | None = None) -> Outcome:
    return Outcome(SKIP, reason, details or [], skip_kind=kind)


def _ref(anchor: str | None) -> str | None:
    if anchor is None or anchor.startswith("failures "):
        return anchor
    return f"failures {anchor}"


# --------------------------------------------------------------------------------------------
# Context shared by the checks: settings, locality, and facts gathered on the way


class Context:
    def __init__(self, settings: Settings, *, canary: bool) -> None:
        self.settings = settings
        self.canary = canary
        self.results: dict[str, CheckResult] = {}
        self.exit = ExitStack()
        self.zk_host, self.zk_port = zk.parse_hostport(settings.zookeeper_connect)
        self.broker_host, self.broker_port = network.split_hostport(settings.kafka_broker, 9092)
        # Local checks run only against the local stack, decided by identity, never by host name.
        self.identity = cluster.identify(settings)
        self.zk_local = self.identity.zookeeper_on_this_machine
        self.broker_local = self.identity.broker_on_this_machine
        self.cfg: services.StackConfig | None = self.identity.cfg if self.identity.local else None
        self.cfg_error: str | None = self.identity.config_error
        self._zk_client: Any = None
        self._zk_error: KafkaopsError | None = None
        self._admin: Any = None
        self.md: Any = None  # kafka.ClusterInfo
        self.db: Any = None  # a psycopg connection
        self.db_url: str | None = None
        self.db_source: str | None = None  # "DATABASE_URL" | "embedded"
        self.db_problem: str | None = None  # why the embedded database has no URL
        self.db_facts: dict[str, Any] = {}
        self.offsets: dict[int, tuple[int, int]] = {}  # partition -> (low, high)

    # locality ---------------------------------------------------------------------------
    def local_reason(self, service: str) -> str | None:
        """Why local files/processes of ``service`` cannot be inspected (None when they can)."""
        if self.identity.local:
            return None
        return f"not the local stack: {self.identity.why_not(service)}"

    # clients ----------------------------------------------------------------------------
    def zk(self) -> Any:
        """One kazoo session for every check; a failed connect is remembered, not retried by each check."""
        if self._zk_error is not None:
            raise self._zk_error
        if self._zk_client is None:
            try:
                self._zk_client = self.exit.enter_context(zk.connect(self.settings.zookeeper_connect, timeout=2.0))
            except KafkaopsError as exc:
                self._zk_error = exc
                raise
        return self._zk_client

    def admin(self) -> Any:
        if self._admin is None:
            from kafkaops.adapters.kafka import admin

            self._admin = admin(self.settings)
        return self._admin

    def ok(self, check_id: str) -> bool:
        r = self.results.get(check_id)
        return r is not None and r.status in (PASS, WARN)

    def close(self) -> None:
        if self.db is not None:
            try:
                self.db.close()
            except Exception:  # noqa: BLE001, S110
                pass
        try:
            self.exit.close()
        except Exception:  # noqa: BLE001, S110
            pass


# --------------------------------------------------------------------------------------------
# The checks


@dataclass(frozen=True)
class Check:
    id: str
    step: int
    layer: str
    title: str
    fn: Callable[[Context], Outcome]
    requires: tuple[str, ...] = ()  # checks that must not have failed (or been skipped for a failure)
    local: str | None = None  # "zookeeper" | "broker": needs this machine's files and processes
    timeout: float = 4.0


def _owner_label(owner: processes.ProcInfo | None) -> str:
    if owner is None:
        return "a process kafkaops cannot identify"
    if owner.runs(services.MAIN_CLASS[services.ZOOKEEPER]):
        kind = "ZooKeeper"
    elif owner.runs(services.MAIN_CLASS[services.KAFKA]):
        kind = "a Kafka broker"
    else:
        kind = owner.name
    return f"{kind} (pid {owner.pid})"


def _uptime(seconds: float) -> str:
    s = int(seconds)
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s" if m else f"{s}s"


# Step 1: ZooKeeper ---------------------------------------------------------------------------


def check_zookeeper_process(ctx: Context) -> Outcome:
    assert ctx.cfg is not None
    cfg = ctx.cfg
    proc = services.live_process(services.read_pid(ctx.settings, services.ZOOKEEPER))
    open_ = processes.port_open(cfg.zk_probe_host, cfg.zk_port)
    if proc is not None:
        if open_:
            return passed(
                f"ZooKeeper runs (pid {proc.pid}, up {_uptime(time.time() - proc.create_time)}) and listens on port {cfg.zk_port}",
                pid=proc.pid,
                port=cfg.zk_port,
                managed=True,
            )
        return failed(
            f"ZooKeeper's process {proc.pid} runs but port {cfg.zk_port} is closed",
            "it is still starting or failing to bind: read its log",
            "zookeeper-unreachable",
            next="kafkaops logs zookeeper",
            pid=proc.pid,
            port=cfg.zk_port,
        )
    if not open_:
        return failed(
            f"ZooKeeper is not running (nothing listens on port {cfg.zk_port})",
            "start the stack: `kafkaops up` starts ZooKeeper first, then the broker",
            "zookeeper-unreachable",
            next="kafkaops up",
            port=cfg.zk_port,
        )
    owner = processes.port_owner(cfg.zk_port)
    details = [f"command: {owner.command[:300]}"] if owner else []
    if owner is not None and owner.runs(services.MAIN_CLASS[services.ZOOKEEPER]):
        return warned(
            f"ZooKeeper on port {cfg.zk_port} was not started by kafkaops ({_owner_label(owner)})",
            "kafkaops can check it but will never stop it; stop it yourself if it is not meant to run",
            "foreign-process",
            details,
            pid=owner.pid,
            port=cfg.zk_port,
            managed=False,
        )
    if owner is None:
        return warned(
            f"port {cfg.zk_port} is held by {_owner_label(owner)}, not by a ZooKeeper kafkaops started",
            "if the next check fails too, find and stop that process",
            "foreign-process",
            port=cfg.zk_port,
        )
    return failed(
        f"port {cfg.zk_port} is held by {_owner_label(owner)}, not by ZooKeeper",
        f"stop that process (pid {owner.pid}) or set another clientPort in {ctx.settings.zookeeper_properties}, then `kafkaops up`",
        "port-in-use",
        details,
        next=f"kafkaops status  # then stop pid {owner.pid}",
        priority=10,
        pid=owner.pid,
        port=cfg.zk_port,
        owner=owner.name,
    )


def check_zookeeper_serving(ctx: Context) -> Outcome:
    address = f"{ctx.zk_host}:{ctx.zk_port}"
    answer = zk.srvr(ctx.zk_host, ctx.zk_port, timeout=1.5)
    if answer is None:
        return failed(
            f"nothing answers ZooKeeper's srvr at {address} (ZOOKEEPER_CONNECT)",
            "start ZooKeeper (`kafkaops up`), or fix ZOOKEEPER_CONNECT",
            "zookeeper-unreachable",
            next="kafkaops up",
            address=address,
        )
    if not answer.serving:
        return failed(
            f"ZooKeeper at {address} accepts connections but is not serving requests yet",
            "wait a few seconds; if it stays so, read its log",
            "zookeeper-unreachable",
            next="kafkaops logs zookeeper",
            address=address,
        )
    return passed(f"ZooKeeper {answer.version or '?'} serves at {address} (mode {answer.mode})", address=address, mode=answer.mode, version=answer.version)


# Step 2: broker ------------------------------------------------------------------------------


def _broker_port(ctx: Context) -> tuple[str, int]:
    assert ctx.cfg is not None
    for lst in ctx.cfg.listeners:
        if lst.port == ctx.broker_port:
            return services._probe_host(lst.host), lst.port
    first = ctx.cfg.listeners[0]
    return services._probe_host(first.host), first.port


def check_broker_process(ctx: Context) -> Outcome:
    host, port = _broker_port(ctx)
    proc = services.live_process(services.read_pid(ctx.settings, services.KAFKA))
    open_ = processes.port_open(host, port)
    if proc is not None:
        if open_:
            return passed(
                f"the broker runs (pid {proc.pid}, up {_uptime(time.time() - proc.create_time)}) and listens on port {port}",
                pid=proc.pid,
                port=port,
                managed=True,
            )
        return failed(
            f"the broker's process {proc.pid} runs but port {port} is closed",
            "it is still starting, or failing: read its log",
            "broker-unreachable",
            next="kafkaops logs kafka",
            pid=proc.pid,
            port=port,
        )
    if not open_:
        return failed(
            f"the Kafka broker is not running (nothing listens on port {port})",
            "start it: `kafkaops up` (it starts ZooKeeper first if needed and waits until the broker is ready)",
            "broker-unreachable",
            next="kafkaops up",
            port=port,
        )
    owner = processes.port_owner(port)
    details = [f"command: {owner.command[:300]}"] if owner else []
    if owner is not None and owner.runs(services.MAIN_CLASS[services.KAFKA]):
        return warned(
            f"the broker on port {port} was not started by kafkaops ({_owner_label(owner)})",
            "kafkaops can check it but will never stop it",
            "foreign-process",
            details,
            pid=owner.pid,
            port=port,
            managed=False,
        )
    if owner is None:
        return warned(
            f"port {port} is held by {_owner_label(owner)}, not by a broker kafkaops started",
            "if the metadata check fails too, find and stop that process",
            "foreign-process",
            port=port,
        )
    return failed(
        f"port {port} is held by {_owner_label(owner)}, not by a Kafka broker",
        f"stop that process (pid {owner.pid}), or move the broker to a free port (listeners in {ctx.settings.server_properties}), then `kafkaops up`",
        "port-in-use",
        details,
        next=f"kafkaops status  # then stop pid {owner.pid}",
        priority=10,
        pid=owner.pid,
        port=port,
        owner=owner.name,
    )


def check_broker_metadata(ctx: Context) -> Outcome:
    from kafkaops.adapters.kafka import ClientSecurityError, metadata

    if not ctx.broker_local and network.resolve(ctx.broker_host, timeout=1.0) is None:
        return failed(
            f"KAFKA_BROKER={ctx.settings.kafka_broker}: {ctx.broker_host} does not resolve",
            "fix KAFKA_BROKER (a host name this machine can resolve)",
            "broker-unreachable",
            next=f"set KAFKA_BROKER to a reachable host:port (now {ctx.settings.kafka_broker})",
        )
    t0 = time.perf_counter()
    try:
        md = metadata(ctx.settings, timeout=METADATA_DEADLINE, client=ctx.admin())
    except ClientSecurityError as exc:  # the broker answers, but refuses this client's login or TLS
        return failed(exc.message, exc.hint or "fix the client settings", "client-security", exc.details, next="kafkaops runbook failures client-security")
    except KafkaopsError as exc:
        bad = [e for e in _registered_endpoints(ctx) if not network.probe(e[1], e[2], timeout=1.0).connected]
        if bad and processes.port_open(ctx.broker_host, ctx.broker_port):
            # The broker's port answers, but librdkafka moved on to an advertised address it cannot
            # reach (the advertised.listeners trap): config.advertised names the fault.
            return warned(
                f"no metadata answer from KAFKA_BROKER={ctx.settings.kafka_broker}, although its port accepts connections: "
                f"the client is sent on to the advertised {bad[0][1]}:{bad[0][2]}, which it cannot reach",
                "see config.advertised",
                "advertised-listeners",
                next="kafkaops runbook failures advertised-listeners",
                no_result=True,
            )
        if isinstance(exc, UnreachableError) and processes.port_open(ctx.broker_host, ctx.broker_port):
            return _not_answering(ctx, f"a metadata request got no answer in {METADATA_DEADLINE:g} s")
        return failed(
            f"no metadata answer from KAFKA_BROKER={ctx.settings.kafka_broker}: {exc.message}",
            "check that the broker runs (`kafkaops status`) and that KAFKA_BROKER names it",
            "broker-unreachable",
            next="kafkaops status",
        )
    ms = round((time.perf_counter() - t0) * 1000, 1)
    ctx.md = md
    ids = sorted(b.id for b in md.brokers)
    if not ids:
        return failed(f"{ctx.settings.kafka_broker} answered, but lists no broker", "read the broker's log", "broker-unreachable", next="kafkaops logs kafka")
    return passed(
        f"{ctx.settings.kafka_broker} answered a metadata request in {ms:g} ms: broker(s) {ids}, cluster id {md.cluster_id}",
        brokers=ids,
        controller=md.controller_id,
        cluster_id=md.cluster_id,
        ms=ms,
    )


def _not_answering(ctx: Context, what: str) -> Outcome:
    """The port accepts connections but requests time out: a stopped (SIGSTOP), overloaded or wedged broker."""
    return failed(
        f"the broker at {ctx.settings.kafka_broker} accepts connections but does not answer requests: {what}",
        "the broker process is stuck, not down: read its log (a ZooKeeper write it retries forever, long GC pauses); "
        "restart it with `kafkaops down --force` then `kafkaops up`",
        "broker-not-answering",
        next="kafkaops logs kafka",
        priority=5,
    )


def check_broker_requests(ctx: Context) -> Outcome:
    """Metadata can come from the broker's cache while the rest is stuck: one admin request with a deadline.

    DescribeConfigs of a topic is read from ZooKeeper in ZooKeeper mode, so it also times out when the
    broker's ZooKeeper session is stuck behind a write ZooKeeper refuses (too many partitions).
    """
    from kafkaops.adapters import kafka

    topic = ctx.settings.kafka_topic if ctx.md is not None and ctx.settings.kafka_topic in ctx.md.topics else None
    if topic is None and ctx.md is not None:
        topic = next((t for t in sorted(ctx.md.topics) if not t.startswith("__")), None) or next(iter(sorted(ctx.md.topics)), None)
    if topic is None:
        return skipped("no topic to describe", kind="not-configured")
    t0 = time.perf_counter()
    try:
        kafka.topic_configs(ctx.admin(), topic, REQUEST_DEADLINE)
    except kafka.BrokerRequestError as exc:
        if exc.unreachable:
            unreachable = [b for b in ctx.md.brokers if not network.probe(b.host, b.port, timeout=1.0).connected]
            if unreachable:  # the request went to an advertised address this machine cannot reach: not a stuck broker
                b = unreachable[0]
                return warned(
                    f"no answer to a DescribeConfigs request: the client is sent on to the advertised {b.host}:{b.port}, which it cannot reach",
                    "see config.advertised",
                    "advertised-listeners",
                    next="kafkaops runbook failures advertised-listeners",
                    no_result=True,
                )
            return _not_answering(ctx, f"it answered metadata, but not a DescribeConfigs request for topic {topic} in {REQUEST_DEADLINE:g} s")
        return warned(f"DescribeConfigs for topic {topic} was refused: {exc.reason} ({exc.code})", "check the client's ACLs", "broker-not-answering")
    ms = round((time.perf_counter() - t0) * 1000, 1)
    return passed(f"the broker answered a DescribeConfigs request for topic {topic} in {ms:g} ms", ms=ms, topic=topic)


def _broker_running_locally(ctx: Context) -> bool:
    host, port = _broker_port(ctx)
    if services.live_process(services.read_pid(ctx.settings, services.KAFKA)) is not None:
        return True
    return processes.port_open(host, port)  # not any kafka.Kafka on the machine: other stacks may run here


def check_broker_registration(ctx: Context) -> Outcome:
    client = ctx.zk()
    ids = zk.broker_ids(client)
    if ctx.local_reason("broker") is not None:
        if not ids:
            return failed(
                "no broker is registered in ZooKeeper under /brokers/ids",
                "start the broker, or check that it uses this ZooKeeper",
                "broker-unreachable",
                next="kafkaops status",
                registered=ids,
            )
        return passed(f"broker(s) {ids} registered in ZooKeeper", registered=ids)
    assert ctx.cfg is not None
    bid = ctx.cfg.broker_id
    node = zk.broker_znode(client, bid)
    running = _broker_running_locally(ctx)
    if node is not None and not running:
        age = time.time() - node.created / 1000.0
        expiry = ctx.cfg.zk_session_timeout_ms / 1000.0
        return failed(
            f"stale registration: broker {bid} is still registered in ZooKeeper (session 0x{node.owner_session:x}, "
            f"{age:.0f}s old) but no broker runs: an unclean stop left it",
            f"it disappears when its ZooKeeper session expires (zookeeper.session.timeout.ms = {expiry:g}s after the stop); "
            "`kafkaops up` waits for that, then starts the broker. Never start a broker by hand before it is gone (NodeExistsException)",
            "stale-broker-registration",
            [f"endpoints: {', '.join(node.endpoints)}"],
            next="kafkaops up",
            priority=10,
            broker_id=bid,
            session=f"0x{node.owner_session:x}",
            age_s=round(age, 1),
            registered=ids,
        )
    if node is None and running:
        return failed(
            f"a broker runs but broker {bid} is not registered under /brokers/ids (it has no ZooKeeper session)",
            "the broker lost ZooKeeper or is still starting: read its log; `kafkaops down && kafkaops up` if it does not recover",
            "zookeeper-unreachable",
            next="kafkaops logs kafka",
            broker_id=bid,
            registered=ids,
        )
    if node is None:
        return passed(f"broker {bid} is neither running nor registered: no stale registration", broker_id=bid, registered=ids)
    return passed(f"broker {bid} is registered in ZooKeeper ({', '.join(node.endpoints)})", broker_id=bid, registered=ids, endpoints=list(node.endpoints))


def check_controller(ctx: Context) -> Outcome:
    client = ctx.zk()
    ids = zk.broker_ids(client)
    if not ids:
        return skipped("no broker is registered, so none can be the controller")
    cid = zk.controller_id(client)
    if cid is None:
        return failed(
            "no controller is elected although broker(s) are registered",
            "restart the broker: `kafkaops down && kafkaops up`",
            "broker-unreachable",
            next="kafkaops down && kafkaops up",
            registered=ids,
        )
    if cid not in ids:
        return failed(
            f"the controller is broker {cid}, which is not registered",
            "wait a few seconds for a new election; restart the broker if it persists",
            "stale-broker-registration",
            next="kafkaops doctor",
            controller=cid,
            registered=ids,
        )
    return passed(f"broker {cid} is the controller", controller=cid)


def _zookeeper_cluster_id(ctx: Context) -> str | None:
    """ZooKeeper's /cluster/id when ZooKeeper serves (None when it does not, or has none)."""
    if not ctx.ok("zookeeper.serving"):
        return None
    try:
        return zk.cluster_id(ctx.zk())
    except KafkaopsError:
        return None


def check_meta_properties(ctx: Context) -> Outcome:
    """Every log dir's meta.properties read as the broker reads it: missing is a new broker, anything unreadable is not."""
    assert ctx.cfg is not None
    metas = [cluster.read_meta(d) for d in ctx.cfg.log_dirs]
    bad = [m for m in metas if m.state not in ("missing", "ok")]
    if bad:
        m = bad[0]
        zk_id = _zookeeper_cluster_id(ctx)
        bid = ctx.cfg.broker_id
        if zk_id:
            rewrite = f"version=0, broker.id={bid}, cluster.id={zk_id} (ZooKeeper's /cluster/id)"
            nxt = f"write {m.path} with version=0, broker.id={bid}, cluster.id={zk_id}, then kafkaops up"
        else:
            rewrite = f"version=0, broker.id={bid} and the cluster.id in ZooKeeper's /cluster/id"
            nxt = f"restore {m.path} from a backup, or kafkaops reset --confirm (every message is lost)"
        return failed(
            m.problem or f"{m.path} cannot be used",
            f"the broker will not start with it. Restore it, or rewrite it with {rewrite}; if the data does not matter, "
            "empty Kafka's and ZooKeeper's data together with `kafkaops reset --confirm`",
            "cluster-id-mismatch",
            [x.problem for x in bad if x.problem],
            next=nxt,
            priority=10,
            files={str(x.path): x.state for x in metas},
        )
    present = [m for m in metas if m.state == "ok"]
    if not present:
        return passed(
            f"no meta.properties in the log dirs yet (a new broker): {', '.join(str(m.path) for m in metas)}", files={str(m.path): m.state for m in metas}
        )
    return passed(
        f"meta.properties readable in {len(present)} of {len(metas)} log dir(s)" + (f", cluster id {present[0].cluster_id}" if present[0].cluster_id else ""),
        files={str(m.path): m.state for m in metas},
    )


def check_cluster_id(ctx: Context) -> Outcome:
    assert ctx.cfg is not None
    if ctx.identity.foreign:  # whatever answers there (a tunnel, a stack started by hand) need not be this stack's
        who = "; ".join(ctx.identity.foreign.values())
        return skipped(f"{who}: the local meta.properties is not compared with the cluster that answers there", kind="remote")
    zk_id = zk.cluster_id(ctx.zk())
    stored = {str(m.path.parent): m for m in (cluster.read_meta(d) for d in ctx.cfg.log_dirs) if m.state == "ok"}
    if not stored:
        return passed("no meta.properties in the log dirs yet (a new broker): nothing to disagree with ZooKeeper", zookeeper_cluster_id=zk_id)
    bad: list[str] = []
    for d, meta in stored.items():
        cid = meta.cluster_id
        if cid and cid != zk_id:
            what = f"ZooKeeper has {zk_id}" if zk_id else "ZooKeeper has no /cluster/id (its data was wiped)"
            bad.append(f"{d}/meta.properties holds cluster id {cid}, but {what}")
        bid = meta.broker_id
        if bid is not None and bid != ctx.cfg.broker_id:
            bad.append(f"{d}/meta.properties holds broker.id {bid}, but server.properties says {ctx.cfg.broker_id}")
    if bad:
        return failed(
            "cluster id mismatch: " + bad[0],
            "the broker will refuse to start. Restore ZooKeeper's data if you still have it; otherwise wipe Kafka's and "
            "ZooKeeper's data together with `kafkaops reset --confirm` (every message is lost)",
            "cluster-id-mismatch",
            bad,
            next="kafkaops reset --confirm",
            priority=10,
            zookeeper_cluster_id=zk_id,
            stored={d: m.cluster_id for d, m in stored.items()},
        )
    first = next(iter(stored.values())).cluster_id
    return passed(f"cluster id {first} in every log dir's meta.properties matches ZooKeeper", cluster_id=first)


# Step 3: topic -------------------------------------------------------------------------------


def _user_topics(ctx: Context) -> list[str]:
    return sorted(t for t in ctx.md.topics if not t.startswith("__"))


def _closest(name: str, candidates: list[str]) -> list[str]:
    return difflib.get_close_matches(name, candidates, n=3, cutoff=0.75)


def check_topic_exists(ctx: Context) -> Outcome:
    name = ctx.settings.kafka_topic
    topic = ctx.md.topics.get(name)
    if topic is not None and topic.error is None:
        return passed(f"topic {name} exists ({len(topic.partitions)} partition(s))", topic=name)
    close = _closest(name, [t for t in _user_topics(ctx) if t != name])
    if topic is None and close:
        return skipped(f"no topic {name}, but {close[0]} exists: see the KAFKA_TOPIC check (step 4)", details=[f"similar: {', '.join(close)}"])
    p, r = ctx.settings.topic_partitions, ctx.settings.topic_replication_factor
    reason = f"topic {name} does not exist" if topic is None else f"topic {name} is not usable: {topic.error}"
    return failed(
        f"{reason} (KAFKA_TOPIC, from {_source(ctx.settings, 'kafka_topic')})",
        f"create it: `kafkaops topics create {name} --partitions {p} --replication-factor {r}` (or `kafkaops up`, which ensures it)",
        "topic-missing",
        [f"existing topics: {', '.join(_user_topics(ctx)) or 'none'}"],
        next=f"kafkaops topics create {name} --partitions {p} --replication-factor {r}",
        topic=name,
    )


def check_topic_layout(ctx: Context) -> Outcome:
    name = ctx.settings.kafka_topic
    topic = ctx.md.topics[name]
    parts = sorted(topic.partitions.values(), key=lambda p: p.id)
    n = len(parts)
    rf = len(parts[0].replicas) if parts else 0
    offline = [p.id for p in parts if p.leader < 0]
    under = [p.id for p in parts if len(p.isrs) < len(p.replicas)]
    layout = [f"partition {p.id}: leader {p.leader}, replicas {list(p.replicas)}, in sync {list(p.isrs)}" for p in parts]
    data: dict[str, Any] = {"partitions": n, "replication_factor": rf, "offline": offline, "under_replicated": under}
    if offline:
        return failed(
            f"topic {name}: partition(s) {offline} have no leader (offline): nothing can be written or read there",
            "start the broker(s) holding their replicas (`kafkaops up`); read the broker log if they are up",
            "broker-unreachable",
            layout,
            next="kafkaops logs kafka",
            **data,
        )
    if under:
        return warned(f"topic {name}: partition(s) {under} are under-replicated", "a replica's broker is down or lagging", "broker-unreachable", layout, **data)
    want_p, want_rf = ctx.settings.topic_partitions, ctx.settings.topic_replication_factor
    if (n, rf) != (want_p, want_rf):
        return warned(
            f"topic {name} has {n} partition(s) and replication factor {rf}; the settings say {want_p} and {want_rf}",
            "harmless for this pipeline, but align KAFKA_TOPIC_PARTITIONS / KAFKA_TOPIC_REPLICATION_FACTOR with the topic "
            "(partitions can only be added; fewer means recreating the topic)",
            "topic-missing",
            layout,
            **data,
        )
    return passed(f"topic {name}: {n} partition(s), replication factor {rf}, every partition led and fully in sync", layout, **data)


def _internal_rf(ctx: Context) -> tuple[int, int, str] | None:
    """offsets.topic.replication.factor and transaction.state.log.replication.factor, and where they came from."""
    if ctx.cfg is not None and ctx.broker_local:
        props = ctx.cfg.server_props
        return (
            props.get_int("offsets.topic.replication.factor", 3),
            props.get_int("transaction.state.log.replication.factor", 3),
            str(ctx.settings.server_properties),
        )
    from confluent_kafka.admin import ConfigResource

    broker = ctx.md.brokers[0].id
    res = ConfigResource(ConfigResource.Type.BROKER, str(broker))
    try:
        configs = ctx.admin().describe_configs([res], request_timeout=2.0)[res].result(timeout=2.5)
        return (
            int(configs["offsets.topic.replication.factor"].value),
            int(configs["transaction.state.log.replication.factor"].value),
            f"broker {broker}'s configuration",
        )
    except Exception:  # noqa: BLE001 - authorization, timeout: the check reports it cannot tell
        return None


def check_internal_replication(ctx: Context) -> Outcome:
    got = _internal_rf(ctx)
    if got is None:
        return skipped("the broker's configuration cannot be read (describe_configs failed)", kind="not-configured")
    offsets_rf, txn_rf, source = got
    live = len(ctx.md.brokers)
    data: dict[str, Any] = {
        "offsets_topic_replication_factor": offsets_rf,
        "transaction_state_log_replication_factor": txn_rf,
        "live_brokers": live,
        "source": source,
    }
    if offsets_rf > live and "__consumer_offsets" not in ctx.md.topics:
        return failed(
            f"offsets.topic.replication.factor={offsets_rf} ({source}) but only {live} broker(s) run: "
            "__consumer_offsets can never be created, so consumer groups never work",
            f"set offsets.topic.replication.factor=1 (and transaction.state.log.replication.factor=1, "
            f"transaction.state.log.min.isr=1) in {ctx.settings.server_properties}, then restart: `kafkaops down && kafkaops up`",
            "offsets-topic-replication",
            next="kafkaops down && kafkaops up",
            **data,
        )
    if txn_rf > live and "__transaction_state" not in ctx.md.topics:
        return warned(
            f"transaction.state.log.replication.factor={txn_rf} ({source}) but only {live} broker(s) run: transactions cannot work",
            "set it to 1 on a single broker (only transactional producers need it)",
            "offsets-topic-replication",
            **data,
        )
    return passed(
        f"offsets.topic.replication.factor={offsets_rf}, transaction.state.log.replication.factor={txn_rf} ({source}) fit {live} live broker(s)", **data
    )


# Step 4: producer configuration ---------------------------------------------------------------


def _source(settings: Settings, name: str) -> str:
    src = settings.sources.get(name, "default")
    if src == ".env":
        return f".env file {settings.env_file}"
    return {"env": "environment", "flag": "command-line flag", "config": f"derived from {settings.server_properties}", "default": "built-in default"}.get(
        src, src
    )


def _embedded_url(settings: Settings) -> tuple[str | None, str | None]:
    """The embedded PostgreSQL's URL: (url, None), or (None, why it cannot be used)."""
    try:
        from kafkaops.adapters import embedded_pg

        return embedded_pg.database_url(settings), None
    except KafkaopsError as exc:
        return None, exc.message
    except Exception as exc:  # noqa: BLE001 - an adapter still being built must not break doctor
        return None, f"the embedded PostgreSQL cannot be used: {exc}"


def _has_embedded() -> bool:
    import importlib.util

    return importlib.util.find_spec("kafkaops.adapters.embedded_pg") is not None


def check_variables(ctx: Context) -> Outcome:
    s = ctx.settings
    env_note = (
        f"settings read from the environment and {s.env_file}" if s.env_file else "no .env file was found; settings come from the environment and defaults"
    )
    details = [
        f"KAFKA_BROKER={s.kafka_broker} ({_source(s, 'kafka_broker')})",
        f"KAFKA_CLIENT_ID={s.kafka_client_id} ({_source(s, 'kafka_client_id')})",
        f"KAFKA_TOPIC={s.kafka_topic} ({_source(s, 'kafka_topic')})",
        f"DATABASE_URL={redact_dsn(s.database_url) if s.database_url else '(unset)'}" + (f" ({_source(s, 'database_url')})" if s.database_url else ""),
        env_note,
    ]
    data: dict[str, Any] = {
        "env_file": str(s.env_file) if s.env_file else None,
        "sources": {
            v: _source(s, k)
            for k, v in (
                ("kafka_broker", "KAFKA_BROKER"),
                ("kafka_client_id", "KAFKA_CLIENT_ID"),
                ("kafka_topic", "KAFKA_TOPIC"),
                ("database_url", "DATABASE_URL"),
            )
        },
    }
    if s.database_url:
        ctx.db_url, ctx.db_source = s.database_url, "DATABASE_URL"
        return passed("KAFKA_BROKER, KAFKA_CLIENT_ID, KAFKA_TOPIC and DATABASE_URL are set; " + env_note, details, **data)
    where = f"the environment or {s.env_file}" if s.env_file else "the environment or a .env file"
    if _has_embedded() and getattr(s, "embedded_db", True):
        ctx.db_source = "embedded"
        ctx.db_url, ctx.db_problem = _embedded_url(s)
        if ctx.db_url is not None:  # the documented default: nothing to warn about
            return passed(
                "KAFKA_BROKER, KAFKA_CLIENT_ID and KAFKA_TOPIC are set; DATABASE_URL is unset, so the embedded PostgreSQL is used; " + env_note,
                details,
                **data,
            )
        return warned(
            "DATABASE_URL is unset and the embedded PostgreSQL it falls back to is not set up (see database.reachable)",
            f"start it with `kafkaops up`, or set DATABASE_URL in {where} to use your own database",
            "database-unreachable",
            details,
            next="kafkaops up",
            **data,
        )
    return failed(
        "DATABASE_URL is unset: the producer has no database",
        f"set DATABASE_URL=postgresql://USER:PASSWORD@HOST:5432/DB in {where}",
        "database-unreachable",
        details,
        next="set DATABASE_URL in .env, then `kafkaops doctor`",
        **data,
    )


def _registered_endpoints(ctx: Context) -> list[tuple[int, str, int]]:
    """(broker id, host, port) of each broker's PLAINTEXT-or-first endpoint, as registered in ZooKeeper."""
    out: list[tuple[int, str, int]] = []
    try:
        client = ctx.zk()
        for broker_id in zk.broker_ids(client):
            node = zk.broker_znode(client, broker_id)
            if node is None or not node.endpoints:
                continue
            listeners = parse_listeners(",".join(node.endpoints))
            chosen = next((lst for lst in listeners if lst.port == ctx.broker_port), listeners[0])
            out.append((broker_id, chosen.host, chosen.port))
    except KafkaopsError:
        return []
    return out


def check_advertised(ctx: Context) -> Outcome:
    if ctx.md is not None:
        endpoints = [(b.id, b.host, b.port) for b in sorted(ctx.md.brokers, key=lambda b: b.id)]
    else:  # no metadata answer: what the brokers registered in ZooKeeper is what clients are sent to
        endpoints = _registered_endpoints(ctx)
        if not endpoints:
            return skipped("no metadata answer and no broker registered in ZooKeeper: nothing to compare")
    probes = [network.probe(host, port, timeout=1.0) for _, host, port in endpoints]
    ids = [i for i, _, _ in endpoints]
    details = [
        f"broker {i} advertises {p.host}:{p.port}: " + ("reachable" if p.connected else p.error or "unreachable") + (f" ({p.ms:g} ms)" if p.connected else "")
        for i, p in zip(ids, probes, strict=False)
    ]
    data: dict[str, Any] = {
        "kafka_broker": ctx.settings.kafka_broker,
        "advertised": [{"broker": i, "host": p.host, "port": p.port, "reachable": p.connected, "error": p.error} for i, p in zip(ids, probes, strict=False)],
    }
    bad = [p for p in probes if not p.connected]
    if bad:
        p = bad[0]
        return failed(
            f"the broker advertises {p.host}:{p.port}, which {'does not resolve' if p.error == 'does not resolve' else 'cannot be reached (' + str(p.error) + ')'} "
            f"from here: bootstrap through KAFKA_BROKER={ctx.settings.kafka_broker} works, then every client times out",
            f"set advertised.listeners=PLAINTEXT://{ctx.broker_host}:{p.port} (a name clients can reach) in {ctx.settings.server_properties}, "
            "then restart the broker: `kafkaops down && kafkaops up`",
            "advertised-listeners",
            details,
            next=f"fix advertised.listeners in {ctx.settings.server_properties}, then `kafkaops down && kafkaops up`",
            **data,
        )
    match = any(p.host == ctx.broker_host and p.port == ctx.broker_port for p in probes)
    if match:
        return passed(f"KAFKA_BROKER={ctx.settings.kafka_broker} is the advertised listener, and it is reachable", details, **data)
    return passed(
        f"KAFKA_BROKER={ctx.settings.kafka_broker} bootstraps; clients then use the advertised "
        f"{', '.join(f'{p.host}:{p.port}' for p in probes)}, reachable from here",
        details,
        **data,
    )


def check_topic_name(ctx: Context) -> Outcome:
    name = ctx.settings.kafka_topic
    if name in ctx.md.topics:
        return passed(f"KAFKA_TOPIC={name} ({_source(ctx.settings, 'kafka_topic')}) names an existing topic", topic=name)
    close = _closest(name, _user_topics(ctx))
    if not close:
        return skipped(f"no existing topic has a name like {name}: the topic itself is missing (step 3)")
    where = _source(ctx.settings, "kafka_topic")
    return failed(
        f"KAFKA_TOPIC={name} ({where}) matches no topic; did you mean {close[0]}?",
        f"set KAFKA_TOPIC={close[0]} in the {where} (or create {name}: `kafkaops topics create {name}`)",
        "topic-missing",
        [f"similar topics: {', '.join(close)}"],
        next=f"set KAFKA_TOPIC={close[0]}, then `kafkaops doctor`",
        topic=name,
        suggestions=close,
    )


# Step 5: database ----------------------------------------------------------------------------


def _db_label(url: str) -> str:
    if "://" in url:
        try:
            parts = urlsplit(url)
            return f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path or ''}"
        except ValueError:
            pass
    return redact_dsn(url) or ""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return redact_text(text[0] if text else type(exc).__name__)


def check_database_reachable(ctx: Context) -> Outcome:
    if ctx.db_url is None and ctx.db_source == "embedded":
        return failed(
            f"DATABASE_URL is unset and {ctx.db_problem or 'the embedded PostgreSQL cannot be used'}",
            "start it: `kafkaops up` starts the embedded PostgreSQL (or set DATABASE_URL to your own database)",
            "database-unreachable",
            next="kafkaops up",
            source="embedded",
        )
    if ctx.db_url is None:
        return skipped("no database to check: DATABASE_URL is unset (see config.variables)")
    import psycopg

    label = _db_label(ctx.db_url)
    t0 = time.perf_counter()
    try:
        conn = psycopg.connect(ctx.db_url, connect_timeout=2, autocommit=True, client_encoding="UTF8", options="-c statement_timeout=3000")
    except Exception as exc:  # noqa: BLE001 - psycopg.Error, or a malformed URL (ProgrammingError)
        if ctx.db_source == "embedded":
            remedy, nxt = "start it: `kafkaops up` starts the embedded PostgreSQL (or set DATABASE_URL to your own)", "kafkaops up"
        else:
            remedy, nxt = "check that PostgreSQL runs and that DATABASE_URL's host, port, user, password and database are right", "kafkaops db status"
        return failed(
            f"the database at {label} ({ctx.db_source}) is unreachable: {_first_line(exc)}",
            remedy,
            "database-unreachable",
            next=nxt,
            database=label,
            source=ctx.db_source,
        )
    ctx.db = conn
    ms = round((time.perf_counter() - t0) * 1000, 1)
    version = conn.info.server_version
    return passed(
        f"PostgreSQL {version // 10000}.{version % 10000} at {label} ({ctx.db_source}) answers ({ms:g} ms)", database=label, source=ctx.db_source, ms=ms
    )


def _pipeline(ctx: Context) -> Any:
    """The pipeline doctor checks: the default one, livedb -> KAFKA_TOPIC (see procedures/db.py)."""
    from kafkaops.procedures import db

    return db.default_pipeline(ctx.db, ctx.settings)


def _rewind_remedy(pipeline: Any, row: int | None) -> str:
    sql_text = f"UPDATE {OFFSETS_TABLE} SET last_id = 0, last_created_at = 'epoch' WHERE id = {row}" if row is not None else None  # noqa: S608
    return f"`kafkaops db rewind --yes{pipeline.flags}`" + (f" (or in SQL: {sql_text})" if sql_text else "")


def check_database_schema(ctx: Context) -> Outcome:
    from kafkaops.procedures import db

    with ctx.db.cursor() as cur:
        cur.execute("SELECT to_regclass(%s) IS NOT NULL, to_regclass(%s) IS NOT NULL", (LIVEDB, OFFSETS_TABLE))
        has_live, has_offsets = cur.fetchone()
    missing = [t for t, ok in ((LIVEDB, has_live), (OFFSETS_TABLE, has_offsets)) if not ok]
    if missing:
        return failed(
            f"table(s) {', '.join(missing)} missing in the database",
            "create them: `kafkaops db init` (`--demo` also creates a livedb table to try the pipeline)",
            "database-unreachable",
            next="kafkaops db init",
            missing=missing,
        )
    pipeline = _pipeline(ctx)
    offset = db.read_position(ctx.db, pipeline, ctx.settings)
    ctx.db_facts["last_id"] = offset.last_id if offset else 0
    ctx.db_facts["rewind"] = _rewind_remedy(pipeline, offset.row if offset else None)
    if offset is None:
        return passed(f"tables {LIVEDB} and {OFFSETS_TABLE} exist; the pipeline {pipeline} has no position yet (it starts at 0)", pipeline=str(pipeline))
    return passed(f"tables {LIVEDB} and {OFFSETS_TABLE} exist, with the position of {pipeline} (row id={offset.row})", pipeline=str(pipeline))


def _other_pipelines_ahead(ctx: Context, pipeline: Any) -> list[str]:
    """Every other recorded pipeline whose offset is ahead of its table's newest id."""
    from psycopg import sql

    from kafkaops.procedures import db

    if db.offsets_layout(ctx.db) != "pipelines":
        return []
    ahead = []
    rows = ctx.db.execute(
        "SELECT source_table, topic, last_id FROM producer_offsets WHERE source_table IS NOT NULL AND (source_table, topic) IS DISTINCT FROM (%s, %s) ORDER BY id",
        (pipeline.table, pipeline.topic),
    ).fetchall()
    for table, topic, last_id in rows:
        ref = db.resolve_table(ctx.db, table)
        if ref is None or "id" not in ref.columns:
            continue
        newest = ctx.db.execute(sql.SQL("SELECT max(id) FROM {}").format(ref.ident())).fetchone()[0]
        if int(last_id) > int(newest or 0):
            ahead.append(f"{db.Pipeline(table, topic)}: last_id={last_id} but the newest id is {newest if newest is not None else 'none (empty table)'}")
    return ahead


def check_database_offset(ctx: Context) -> Outcome:
    from kafkaops.procedures import db

    pipeline = _pipeline(ctx)
    with ctx.db.cursor() as cur:
        cur.execute(f"SELECT max(id), count(*) FROM {LIVEDB}")  # noqa: S608
        max_id, rows = cur.fetchone()
    offset = db.read_position(ctx.db, pipeline, ctx.settings)
    last_id, last_created = (offset.last_id, offset.last_created_at) if offset else (0, None)
    newest = int(max_id) if max_id is not None else 0
    ctx.db_facts.update({"last_id": last_id, "max_id": max_id, "rows": rows})
    data = {"pipeline": str(pipeline), "last_id": last_id, "max_id": max_id, "rows": rows, "last_created_at": str(last_created) if last_created else None}
    if last_id > newest:
        return failed(
            f"the producer's offset of {pipeline} is ahead of the data: {OFFSETS_TABLE}.last_id={last_id} but the newest {LIVEDB} id is "
            f"{max_id if max_id is not None else 'none (empty table)'}: the table was truncated or re-seeded, so the producer will send nothing, ever",
            f"rewind the offset to the last id really sent (usually 0 after a re-seed): {_rewind_remedy(pipeline, offset.row if offset else None)} "
            "(every row above it is then sent again)",
            "producer-offset-ahead",
            next="kafkaops runbook failures producer-offset-ahead",
            priority=10,
            **data,
        )
    others = _other_pipelines_ahead(ctx, pipeline)
    if others:  # a warning: the pipeline doctor checks is fine, and its later checks still run
        return warned(
            f"{len(others)} other pipeline(s) have an offset ahead of their table: their producer will send nothing, ever",
            "rewind each with `kafkaops db rewind --yes --table TABLE --topic TOPIC` (its rows are then sent again)",
            "producer-offset-ahead",
            others,
            next="kafkaops runbook failures producer-offset-ahead",
            **data,
        )
    return passed(f"offset of {pipeline} last_id={last_id} is within the data (newest id {max_id if max_id is not None else 'none'})", **data)


def check_database_pending(ctx: Context) -> Outcome:
    last_id = ctx.db_facts.get("last_id", 0)
    with ctx.db.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {LIVEDB} WHERE id > %s", (last_id,))  # noqa: S608
        (pending,) = cur.fetchone()
    ctx.db_facts["pending"] = int(pending)
    details = _skipped_rows(ctx)
    if pending:
        too_large = _first_row_too_large(ctx, last_id)
        if too_large is not None:
            row_id, size, limit = too_large
            topic = ctx.settings.kafka_topic
            return failed(
                f"row id={row_id} of {LIVEDB} makes an event of {size:,} bytes, over topic {topic}'s max.message.bytes of {limit:,}: "
                f"`kafkaops produce` stops before it, {pending} row(s) wait",
                f"raise the topic's max.message.bytes (bin/kafka-configs.sh --bootstrap-server {ctx.settings.kafka_broker} --alter --entity-type topics "
                f"--entity-name {topic} --add-config max.message.bytes=<bytes>), make row {row_id} smaller, or run "
                "`kafkaops produce --skip-oversize` (it records the row in producer_skipped and sends the rest)",
                "row-too-large",
                details=details,
                next="kafkaops runbook failures row-too-large",
                pending=pending,
                row_id=row_id,
                event_bytes=size,
                max_message_bytes=limit,
            )
        return warned(
            f"{pending} row(s) wait in {LIVEDB} (id > {last_id}): the producer has not sent them yet",
            "run the producer: `kafkaops produce`",
            "consumer-shows-nothing",
            details=details,
            next="kafkaops produce",
            pending=pending,
        )
    return passed(f"no rows pending (every row up to id {last_id} was sent)", details, pending=0)


def _first_row_too_large(ctx: Context, last_id: int) -> tuple[int, int, int] | None:
    """(id, event bytes, limit) of the first pending row (within one batch) whose event the topic
    cannot take: `produce` stops before it. Only when the broker answered (the topic's limit is known)."""
    from kafkaops.procedures.db import resolve_table
    from kafkaops.procedures.produce import oversize_rows, topic_limit

    topic = ctx.settings.kafka_topic
    if ctx.md is None or topic not in ctx.md.topics:
        return None
    try:
        ref = resolve_table(ctx.db, LIVEDB)
        if ref is None:
            return None
        limit = topic_limit(ctx.settings, topic, client=ctx.admin())
        found = oversize_rows(ctx.db, ref, last_id, limit)
    except Exception:  # noqa: BLE001 - a side finding: never fail the check over it
        return None
    return (found[0][0], found[0][1], limit) if found else None


def _skipped_rows(ctx: Context) -> list[str]:
    """A note on the rows `produce --skip-oversize` did not send (producer_skipped), if any."""
    try:
        with ctx.db.cursor() as cur:
            cur.execute("SELECT to_regclass('producer_skipped') IS NOT NULL")
            if not cur.fetchone()[0]:
                return []
            cur.execute(
                "SELECT count(*), max(row_id) FROM producer_skipped WHERE source_table = (SELECT n.nspname || '.' || c.relname FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass(%s)) AND topic = %s",
                (LIVEDB, ctx.settings.kafka_topic),
            )
            count, newest = cur.fetchone()
    except Exception:  # noqa: BLE001 - a side finding
        return []
    return [f"{count} row(s) too large were skipped (see producer_skipped), the last one id {newest}"] if count else []


# Step 6: producer ----------------------------------------------------------------------------


def check_producer_leader(ctx: Context) -> Outcome:
    name = ctx.settings.kafka_topic
    topic = ctx.md.topics[name]
    brokers = {b.id: b for b in ctx.md.brokers}
    details: list[str] = []
    for part in sorted(topic.partitions.values(), key=lambda p: p.id):
        leader = brokers.get(part.leader)
        if leader is None:
            return failed(
                f"partition {part.id} of {name} has no reachable leader (leader {part.leader})",
                "start the broker holding it (`kafkaops up`)",
                "broker-unreachable",
                details,
                next="kafkaops up",
            )
        p = network.probe(leader.host, leader.port, timeout=1.0)
        if not p.connected:
            return failed(
                f"a producer cannot reach the leader of {name}[{part.id}] (broker {leader.id} at {leader.host}:{leader.port}: {p.error})",
                "make advertised.listeners name an address clients can reach",
                "advertised-listeners",
                details,
                next=f"fix advertised.listeners in {ctx.settings.server_properties}",
            )
        details.append(f"partition {part.id}: leader broker {leader.id} at {leader.host}:{leader.port} ({p.ms:g} ms)")
    return passed(f"a producer can reach the leader of every partition of {name} (nothing written)", details)


_CANARY_VALUES = {
    "text": "%(marker)s",
    "character varying": "%(marker)s",
    "character": "%(marker)s",
    "integer": "0",
    "bigint": "0",
    "smallint": "0",
    "numeric": "0",
    "real": "0",
    "double precision": "0",
    "boolean": "false",
    "json": "'{}'",
    "jsonb": "'{}'",
    "bytea": "''::bytea",
    "uuid": "gen_random_uuid()",
    "timestamp with time zone": "now()",
    "timestamp without time zone": "now()",
    "date": "current_date",
}


def _canary_insert(cur: Any) -> tuple[str, list[str]]:
    """An INSERT for one canary row: the marker in the first text column, a neutral value in each required column."""
    cur.execute(
        "SELECT column_name, data_type, is_nullable = 'YES', column_default IS NOT NULL FROM information_schema.columns "
        "WHERE table_name = %s AND table_schema = current_schema() ORDER BY ordinal_position",
        (LIVEDB,),
    )
    names: list[str] = []
    values: list[str] = []
    marked = False
    for name, dtype, nullable, has_default in cur.fetchall():
        is_text = dtype in ("text", "character varying")
        if (is_text and not marked) or (not nullable and not has_default):
            expr = _CANARY_VALUES.get(dtype)
            if expr is None:
                continue  # an exotic required type: the INSERT fails and the canary goes on without a row
            names.append('"' + name.replace('"', '""') + '"')
            values.append(expr)
            marked = marked or is_text
    if not names:
        return f"INSERT INTO {LIVEDB} DEFAULT VALUES RETURNING id, row_to_json({LIVEDB}.*)::text", []  # noqa: S608
    return f"INSERT INTO {LIVEDB} ({', '.join(names)}) VALUES ({', '.join(values)}) RETURNING id, row_to_json({LIVEDB}.*)::text", names  # noqa: S608


def check_canary(ctx: Context) -> Outcome:
    """Insert a marked row (in a transaction that is rolled back), produce it, consume it back and match."""
    import json
    import uuid

    from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

    from kafkaops.adapters.kafka import client_config

    name = ctx.settings.kafka_topic
    marker = f"kafkaops-doctor-canary-{uuid.uuid4().hex[:12]}"
    hops: dict[str, Any] = {}  # the milliseconds of each hop, the check's data (Outcome.data)
    details: list[str] = []
    row_json: str | None = None
    t0 = time.perf_counter()
    tx = None
    db_url = ctx.db_url if ctx.db is not None else None  # the database that database.reachable connected to
    if db_url is not None:
        import psycopg

        try:
            tx = psycopg.connect(db_url, connect_timeout=2, client_encoding="UTF8", options="-c statement_timeout=3000 -c lock_timeout=1000")
            with tx.cursor() as cur:
                statement, _ = _canary_insert(cur)
                cur.execute(statement, {"marker": marker})
                row = cur.fetchone()
                if row is None:  # INSERT ... RETURNING gives one row, or raises
                    raise RuntimeError("the INSERT returned no row")
                row_id, row_json = row
            hops["database_insert_ms"] = round((time.perf_counter() - t0) * 1000, 1)
            details.append(f"inserted canary row id {row_id} into {LIVEDB} (in a transaction that is rolled back: never committed)")
        except Exception as exc:  # noqa: BLE001 - a livedb with required columns: still test Kafka
            details.append(f"no canary row in {LIVEDB}: {_first_line(exc)}")
            if tx is not None:
                tx.rollback()
    event = json.dumps({"event_id": marker, "canary": True, "row": json.loads(row_json) if row_json else None}).encode()
    try:
        t1 = time.perf_counter()
        delivered: list[Any] = []
        producer = Producer(client_config(ctx.settings, **{"acks": "all", "message.timeout.ms": 4000, "enable.idempotence": False}))
        producer.produce(name, key=marker.encode(), value=event, headers=[(CANARY_HEADER, b"1")], on_delivery=lambda err, msg: delivered.append((err, msg)))
        producer.flush(5.0)
        if not delivered or delivered[0][0] is not None:
            err = delivered[0][0] if delivered else "no delivery report"
            return failed(
                f"the canary message was not accepted by {name}: {err}",
                "run the checks above; read the broker log",
                "broker-unreachable",
                details,
                next="kafkaops logs kafka",
                **hops,
            )
        msg = delivered[0][1]
        hops["produce_ack_ms"] = round((time.perf_counter() - t1) * 1000, 1)
        details.append(f"produced to {name}[{msg.partition()}] at offset {msg.offset()} (header {CANARY_HEADER}=1)")
        t2 = time.perf_counter()
        consumer = Consumer(client_config(ctx.settings, **{"group.id": "kafkaops-doctor-canary", "enable.auto.commit": False, "enable.partition.eof": False}))
        try:
            consumer.assign([TopicPartition(name, msg.partition(), msg.offset())])
            got = None
            deadline = time.monotonic() + 5.0
            while got is None and time.monotonic() < deadline:
                m = consumer.poll(0.5)
                if m is not None and m.error() is None and m.key() == marker.encode():
                    got = m
        finally:
            consumer.close()
        if got is None:
            return failed(
                f"the canary message was produced but not consumed back from {name} within 5 s",
                "consumers cannot fetch from the leader: check advertised.listeners",
                "advertised-listeners",
                details,
                next="kafkaops logs kafka",
                **hops,
            )
        hops["consume_ms"] = round((time.perf_counter() - t2) * 1000, 1)
        if got.value() != event:
            return failed("the consumed canary does not match what was produced", "read the broker log", "broker-unreachable", details, **hops)
    except KafkaException as exc:
        return failed(f"canary round trip failed: {exc}", "read the broker log", "broker-unreachable", details, **hops)
    finally:
        if tx is not None:
            tx.rollback()
            tx.close()
            details.append("canary row removed (rolled back)")
    hops["total_ms"] = round((time.perf_counter() - t0) * 1000, 1)
    hop_text = ", ".join(f"{k.removesuffix('_ms').replace('_', ' ')} {v:g} ms" for k, v in hops.items())
    details.append("the canary message stays in the topic (Kafka keeps messages); consumers can drop it by its header")
    return passed(f"canary round trip matched: {hop_text}", details, **hops)


# Step 7: messages and consumers --------------------------------------------------------------


def _watermarks(ctx: Context, name: str, parts: list[int]) -> dict[int, tuple[int, int]]:
    from confluent_kafka import TopicPartition
    from confluent_kafka.admin import OffsetSpec

    admin = ctx.admin()
    out: dict[int, list[int]] = {p: [0, 0] for p in parts}
    for index, spec in ((0, OffsetSpec.earliest()), (1, OffsetSpec.latest())):
        futures = admin.list_offsets({TopicPartition(name, p): spec for p in parts}, request_timeout=2.5)
        for tp, fut in futures.items():
            out[tp.partition][index] = fut.result(timeout=3.0).offset
    return {p: (lo, hi) for p, (lo, hi) in out.items()}


def check_end_offsets(ctx: Context) -> Outcome:
    name = ctx.settings.kafka_topic
    parts = sorted(ctx.md.topics[name].partitions)
    try:
        ctx.offsets = _watermarks(ctx, name, parts)
    except Exception as exc:  # noqa: BLE001 - KafkaException / timeout
        return failed(
            f"cannot read the end offsets of {name}: {_first_line(exc)}", "check the broker (`kafkaops status`)", "broker-unreachable", next="kafkaops status"
        )
    end = sum(hi for _, hi in ctx.offsets.values())
    held = sum(hi - lo for lo, hi in ctx.offsets.values())
    details = [f"partition {p}: offsets {lo}..{hi} ({hi - lo} message(s))" for p, (lo, hi) in sorted(ctx.offsets.items())]
    data: dict[str, Any] = {
        "end_offsets": {str(p): hi for p, (_, hi) in ctx.offsets.items()},
        "start_offsets": {str(p): lo for p, (lo, _) in ctx.offsets.items()},
        "messages": held,
    }
    last_id, pending = ctx.db_facts.get("last_id"), ctx.db_facts.get("pending")
    if end == 0:
        if last_id:
            return failed(
                f"{name} is empty but {OFFSETS_TABLE}.last_id={last_id}: the topic was recreated or reset after rows were sent, "
                "and the producer will not send them again",
                f"if the rows must be in Kafka again, rewind the offset: {ctx.db_facts.get('rewind', '`kafkaops db rewind --yes`')}, then `kafkaops produce`",
                "producer-offset-ahead",
                details,
                next="kafkaops runbook failures producer-offset-ahead",
                **data,
            )
        if pending:
            return failed(
                f"{name} is empty while {pending} row(s) wait in {LIVEDB}: nothing was produced yet",
                "run the producer: `kafkaops produce`",
                "consumer-shows-nothing",
                details,
                next="kafkaops produce",
                **data,
            )
        return warned(
            f"{name} is empty: nothing was produced yet",
            "insert rows into livedb (`kafkaops db seed 10`), then `kafkaops produce`",
            "consumer-shows-nothing",
            details,
            next="kafkaops produce",
            **data,
        )
    if held == 0:
        return warned(
            f"{name} holds no messages now (end offset {end}): retention or deletion removed them",
            "new messages appear after the next `kafkaops produce`",
            "consumer-shows-nothing",
            details,
            **data,
        )
    return passed(f"{name} holds {held} message(s) (end offset {end})", details, **data)


def check_consumer_groups(ctx: Context) -> Outcome:
    from confluent_kafka import ConsumerGroupTopicPartitions

    name = ctx.settings.kafka_topic
    admin = ctx.admin()
    listing = admin.list_consumer_groups(request_timeout=2.5).result(timeout=3.0)
    groups = [(g.group_id, str(getattr(g.state, "name", g.state))) for g in listing.valid]
    futures = {gid: admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(gid)], request_timeout=2.5)[gid] for gid, _ in groups[:200]}
    lagging: list[tuple[str, int, str]] = []
    details: list[str] = []
    per_group: dict[str, Any] = {}
    for gid, state in groups[:200]:
        try:
            result = futures[gid].result(timeout=3.0)
        except Exception:  # noqa: BLE001, S112
            continue
        mine = [tp for tp in result.topic_partitions if tp.topic == name and tp.offset >= 0]
        if not mine:
            continue
        lag = 0
        for tp in mine:
            hi = ctx.offsets.get(tp.partition, (0, 0))[1]
            lag += max(0, hi - tp.offset)
        per_group[gid] = {"state": state, "lag": lag, "committed": {str(tp.partition): tp.offset for tp in mine}}
        details.append(f"group {gid} ({state.lower()}): committed {', '.join(f'p{tp.partition}={tp.offset}' for tp in mine)}, lag {lag}")
        if lag:
            lagging.append((gid, lag, state))
    if lagging:
        gid, lag, state = max(lagging, key=lambda x: x[1])
        idle = state.upper() in ("EMPTY", "DEAD", "UNKNOWN")
        return warned(
            f"consumer group {gid} is {lag} message(s) behind on {name}" + (" and has no active member" if idle else ""),
            f"run its consumer again (it resumes from its committed offset), or read everything with "
            f"`kafkaops consume {name} --from-beginning` (no --group: nothing committed); details: `kafkaops groups describe {gid}`",
            "consumer-shows-nothing",
            details,
            next=f"kafkaops groups describe {gid}",
            groups=per_group,
        )
    if not per_group:
        return passed(f"no consumer group has committed offsets on {name} (console consumers without a group read with --from-beginning)", groups={})
    return passed(f"{len(per_group)} consumer group(s) on {name}, all caught up", details, groups=per_group)


# Step 8: logs --------------------------------------------------------------------------------


def read_tail(path: Path, max_bytes: int = LOG_TAIL_BYTES) -> tuple[str, int]:
    """The last ``max_bytes`` of a log (from a line start) and the file line number its first line has."""
    with open(path, "rb") as fh:
        size = fh.seek(0, 2)
        start = max(0, size - max_bytes)
        first_line = 1
        if start:
            fh.seek(0)
            remaining = start
            while remaining > 0:
                chunk = fh.read(min(remaining, 8 * 1024 * 1024))
                if not chunk:
                    break
                first_line += chunk.count(b"\n")
                remaining -= len(chunk)
        fh.seek(start)
        data = fh.read()
    if start:
        cut = data.find(b"\n")
        data = data[cut + 1 :] if cut >= 0 else b""
        first_line += 1 if cut >= 0 else 0
    return data.decode("utf-8", "replace"), first_line


def last_run(text: str, first_line: int) -> tuple[str, int]:
    """The part of a log since the service's last start marker (older runs' failures are history)."""
    lines = text.splitlines(keepends=True)
    start = 0
    for i, line in enumerate(lines):
        if any(m.search(line) for m in signatures.START_MARKERS):
            start = i
    return "".join(lines[start:]), first_line + start


def scan_log(path: Path) -> list[signatures.Finding]:
    text, first = read_tail(path)
    text, first = last_run(text, first)
    return signatures.scan(text, first_line=first)


def _check_log(ctx: Context, service: str) -> Outcome:
    path = services.log_path(ctx.settings, service)
    if not path.is_file():
        return skipped(f"no log at {path}: kafkaops never started {service} here", kind="not-configured")
    findings = scan_log(path)
    items = [
        {
            "file": str(path),
            "line": f.line_no,
            "time": f.timestamp,
            "signature": f.id,
            "severity": f.signature.severity,
            "title": f.signature.title,
            "text": f.text[:300],
            "remedy": f.signature.remedy,
            "runbook": f.signature.runbook,
        }
        for f in findings
    ]
    details = [f"{path.name}:{i['line']} [{i['time'] or '?'}] {i['title']}: {i['remedy']} (see: kafkaops runbook {i['runbook']})" for i in items]
    errors = [f for f in findings if f.signature.severity == "error"]
    if errors:
        f = errors[0]
        return Outcome(
            FAIL,
            f"{path.name}:{f.line_no} at {f.timestamp or '?'}: {f.signature.title} ({len(findings)} finding(s) since the last start)",
            details,
            f.signature.remedy,
            f.signature.runbook,
            f"kafkaops logs {service}",
            {"file": str(path), "findings": items},
        )
    if findings:
        f = findings[0]
        return Outcome(
            WARN,
            f"{path.name}:{f.line_no} at {f.timestamp or '?'}: {f.signature.title}",
            details,
            f.signature.remedy,
            f.signature.runbook,
            f"kafkaops logs {service}",
            {"file": str(path), "findings": items},
        )
    return passed(f"no known failure signature in {path.name} since the last start", file=str(path), findings=[])


def check_zookeeper_log(ctx: Context) -> Outcome:
    return _check_log(ctx, services.ZOOKEEPER)


def check_broker_log(ctx: Context) -> Outcome:
    return _check_log(ctx, services.KAFKA)


# Extras: host --------------------------------------------------------------------------------


def _any_local(ctx: Context) -> str | None:
    if ctx.local_reason("zookeeper") is None or ctx.local_reason("broker") is None:
        return None
    return ctx.local_reason("broker")


def check_java(ctx: Context) -> Outcome:
    from kafkaops.adapters.java import MIN_JAVA, find_java

    try:
        info = find_java(ctx.settings.java)
    except KafkaopsError as exc:
        return failed(exc.message, exc.hint or f"install Java {MIN_JAVA}+ (17 recommended)", "java-missing", next="set JAVA_HOME or KAFKAOPS_JAVA")
    return passed(f"Java {info.major} at {info.path}", [info.version_line], major=info.major, path=info.path)


def check_kafka_home(ctx: Context) -> Outcome:
    """A Kafka installation to run the local stack with; needed only when the stack is (or would be) this machine's."""
    home = ctx.settings.kafka_home
    version = services.kafka_version(home)
    if version or any((home / "libs").glob("kafka_2.*.jar")):
        return passed(f"Kafka {version or '?'} installed at {home} (KAFKA_HOME)", kafka_home=str(home), version=version)
    ident = ctx.identity
    nothing_answers = ident.broker_on_this_machine and not processes.port_open(services._probe_host(ctx.broker_host), ctx.broker_port)
    if not ident.local and not (ident.config_error is not None and nothing_answers):
        return skipped(f"not the local stack: {ident.why_not()}; no local Kafka installation is needed", kind="remote")
    explicit = ctx.settings.sources.get("kafka_home") in ("env", ".env", "flag")
    if explicit:
        nxt = f"point KAFKA_HOME at a Kafka installation (now {home}), or unset it and run kafkaops install"
    else:
        nxt = "kafkaops install"
    why = "" if ident.local else f", and nothing answers at KAFKA_BROKER={ctx.settings.kafka_broker}"
    return failed(
        f"KAFKA_HOME {home} is not a Kafka installation (no libs/kafka_2.*.jar){why}: `kafkaops up` cannot start anything",
        "install Kafka with `kafkaops install` (it also writes the configs for a local pipeline), or point KAFKA_HOME at a Kafka folder with libs/ and config/",
        "kafka-not-installed",
        next=nxt,
        priority=10,
        kafka_home=str(home),
    )


def _data_dirs(ctx: Context) -> list[tuple[str, Path]]:
    assert ctx.cfg is not None
    dirs: list[tuple[str, Path]] = []
    if ctx.local_reason("broker") is None:
        dirs += [("log.dirs", d) for d in ctx.cfg.log_dirs]
    if ctx.local_reason("zookeeper") is None:
        dirs.append(("dataDir", ctx.cfg.zk_data_dir))
        if ctx.cfg.zk_data_log_dir:
            dirs.append(("dataLogDir", ctx.cfg.zk_data_log_dir))
    return dirs


def _under(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
        return True
    except (ValueError, OSError):
        return False


def check_tmp_dirs(ctx: Context) -> Outcome:
    temp_roots = {Path("/tmp"), Path(tempfile.gettempdir())}
    hits = [f"{key}={d}" for key, d in _data_dirs(ctx) if any(_under(d, root) for root in temp_roots if root.exists())]
    if hits:
        return warned(
            f"data under a temporary folder, lost on reboot on many systems: {hits[0]}" + (f" (+{len(hits) - 1} more)" if len(hits) > 1 else ""),
            f"move log.dirs ({ctx.settings.server_properties}) and dataDir ({ctx.settings.zookeeper_properties}) to a lasting folder, together",
            "data-under-tmp",
            hits,
            dirs=hits,
        )
    return passed("no data directory is under a temporary folder", dirs=[str(d) for _, d in _data_dirs(ctx)])


def _existing(path: Path) -> Path:
    p = path
    while not p.exists() and p.parent != p:
        p = p.parent
    return p


def disk_state(free: int, total: int) -> str:
    """``full`` (the services cannot write: `up` would fail), ``low``, or ``ok``, from the free bytes a data folder's disk has."""
    if free < FULL_DISK_BYTES:
        return "full"
    if free < LOW_DISK_BYTES or free < LOW_DISK_FRACTION * total:
        return "low"
    return "ok"


def _size(n: float) -> str:
    return f"{n / 1024**3:.1f} GiB" if n >= 1024**3 else f"{n / 1024**2:.0f} MiB"


def check_disk(ctx: Context) -> Outcome:
    seen: set[int] = set()
    low: list[str] = []
    full: list[tuple[str, Path]] = []
    details: list[str] = []
    for key, d in _data_dirs(ctx):
        at = _existing(d)
        try:
            dev = at.stat().st_dev
            if dev in seen:
                continue
            seen.add(dev)
            usage = shutil.disk_usage(at)
        except OSError:
            continue
        line = f"{key} {d}: {_size(usage.free)} free of {_size(usage.total)} ({usage.free / max(usage.total, 1):.0%})"
        details.append(line)
        state = disk_state(usage.free, usage.total)
        if state == "full":
            full.append((line, at))
        elif state == "low":
            low.append(line)
    if full:
        line, at = full[0]
        return failed(
            f"disk full: {line}",
            f"free space on the disk holding {at} (at least {_size(FULL_DISK_BYTES)}; more for real data): the broker and "
            "ZooKeeper cannot write there, so `kafkaops up` fails. Never delete meta.properties or segment files by hand",
            "disk-space",
            details,
            next=f"free space on the disk holding {at}, then kafkaops up",
            priority=10,
        )
    if low:
        return warned(
            f"low disk space: {low[0]}",
            "free space there: a full disk takes the log dir (and the broker) offline; never delete meta.properties or segment files by hand",
            "disk-space",
            details,
        )
    return passed("enough free disk space for log.dirs and dataDir", details)


def check_pid_files(ctx: Context) -> Outcome:
    stale: list[str] = []
    for svc in (services.ZOOKEEPER, services.KAFKA):
        rec = services.read_pid(ctx.settings, svc)
        check = services.check_pid(rec, ctx.settings)
        path = services.pid_path(ctx.settings, svc)
        if check.verdict == "mismatch" and check.proc is not None:
            # Alive with the recorded start time, but not the service: up and down refuse while it stands.
            return warned(
                f"pid file {path} names pid {check.proc.pid}, which runs another program ({check.proc.command[:120]})",
                f"kafkaops never signals it, and `kafkaops up` / `kafkaops down` refuse while this file stands: check that process, then delete {path}",
                "foreign-process",
                [check.detail] if check.detail else None,
            )
        if check.verdict == "gone" and rec is not None:
            stale.append(f"{path} names pid {rec.pid}, which is gone (or is another program now)")
    if stale:
        return warned(
            f"stale pid file: {stale[0]}",
            "harmless: `kafkaops up` and `kafkaops down` remove it; it means the service "
            "stopped without kafkaops (crash or kill), so expect log recovery at the next start",
            "unclean-shutdown",
            stale,
        )
    return passed("no stale pid files")


# --------------------------------------------------------------------------------------------
# The checklist, in the procedure's order


def checks(canary: bool) -> list[Check]:
    items = [
        Check("zookeeper.process", 1, "zookeeper", "ZooKeeper process and port", check_zookeeper_process, local="zookeeper"),
        Check("zookeeper.serving", 1, "zookeeper", "ZooKeeper answers srvr", check_zookeeper_serving, ("zookeeper.process",)),
        Check("broker.process", 2, "broker", "broker process and port", check_broker_process, local="broker"),
        Check("broker.metadata", 2, "broker", "broker answers a metadata request", check_broker_metadata, ("broker.process",), timeout=6.0),
        Check(
            "broker.requests", 2, "broker", "broker answers an admin request in time", check_broker_requests, ("broker.metadata",), timeout=REQUEST_DEADLINE + 3
        ),
        Check("broker.registration", 2, "broker", "registration in ZooKeeper (/brokers/ids)", check_broker_registration, ("zookeeper.serving",)),
        Check("broker.controller", 2, "broker", "controller elected", check_controller, ("zookeeper.serving", "broker.registration")),
        Check("broker.meta_properties", 2, "broker", "meta.properties readable in every log dir", check_meta_properties, local="broker"),
        Check(
            "broker.cluster_id",
            2,
            "broker",
            "cluster id on disk vs ZooKeeper",
            check_cluster_id,
            ("zookeeper.serving", "broker.meta_properties"),
            local="broker",
        ),
        Check("topic.exists", 3, "topic", "KAFKA_TOPIC exists", check_topic_exists, ("broker.metadata",)),
        Check("topic.layout", 3, "topic", "partitions, replication, leaders", check_topic_layout, ("topic.exists",)),
        Check("topic.internal_replication", 3, "topic", "internal topics' replication factor vs brokers", check_internal_replication, ("broker.metadata",)),
        Check("config.variables", 4, "configuration", "KAFKA_BROKER, KAFKA_CLIENT_ID, KAFKA_TOPIC, DATABASE_URL set", check_variables),
        Check("config.advertised", 4, "configuration", "KAFKA_BROKER vs advertised listeners", check_advertised, ("broker.process",)),
        Check("config.topic", 4, "configuration", "KAFKA_TOPIC matches a topic", check_topic_name, ("broker.metadata",)),
        Check("database.reachable", 5, "database", "database reachable", check_database_reachable, timeout=5.0),
        Check("database.schema", 5, "database", "livedb and producer_offsets exist", check_database_schema, ("database.reachable",)),
        Check("database.offset", 5, "database", "producer offsets within the data (every pipeline)", check_database_offset, ("database.schema",)),
        Check("database.pending", 5, "database", "rows pending for the producer", check_database_pending, ("database.schema", "database.offset")),
        Check("producer.leader", 6, "producer", "a producer reaches the topic's leaders", check_producer_leader, ("topic.exists", "config.advertised")),
    ]
    if canary:
        items.append(Check("producer.canary", 6, "producer", "canary: database → Kafka → consumer", check_canary, ("producer.leader",), timeout=15.0))
    items += [
        Check("messages.end_offsets", 7, "producer", "messages in the topic (end offsets)", check_end_offsets, ("topic.exists", "config.advertised")),
        Check("consumer.groups", 7, "consumer", "consumer groups on the topic and their lag", check_consumer_groups, ("messages.end_offsets",), timeout=6.0),
        Check("logs.zookeeper", 8, "logs", "ZooKeeper log: known failures since the last start", check_zookeeper_log, local="zookeeper"),
        Check("logs.broker", 8, "logs", "broker log: known failures since the last start", check_broker_log, local="broker"),
        Check("host.kafka_home", EXTRAS_STEP, "host", "a Kafka installation in KAFKA_HOME", check_kafka_home),
        Check("host.java", EXTRAS_STEP, "host", "Java present", check_java, timeout=6.0),
        Check("host.tmp_dirs", EXTRAS_STEP, "host", "data directories outside /tmp", check_tmp_dirs),
        Check("host.disk", EXTRAS_STEP, "host", "free disk space in log.dirs and dataDir", check_disk),
        Check("host.pid_files", EXTRAS_STEP, "host", "no stale pid files", check_pid_files),
    ]
    return items


HOST_CHECKS = frozenset({"host.kafka_home", "host.java", "host.tmp_dirs", "host.disk", "host.pid_files"})
# What `kafkaops up` needs: when one of these failed, the verdict never says "kafkaops up" (it would fail too).
UP_BLOCKERS = ("host.kafka_home", "host.java", "host.disk", "broker.meta_properties")


def _blocked_by(ctx: Context, check: Check) -> str | None:
    """Why a check cannot run: the root check that failed (or was skipped for a reason of its own) below it."""
    for dep in check.requires:
        r = ctx.results.get(dep)
        if r is None:
            continue
        if r.status == FAIL:
            return f"skipped: {r.id} failed"
        if r.status == WARN and r.data.get("no_result"):
            return f"skipped: {r.id} gave no answer"
        if r.status == SKIP and r.skip_kind == "prerequisite":
            return r.finding if r.finding.startswith("skipped: ") else f"skipped: {r.id} was skipped"
    return None


def _run_bounded(fn: Callable[[Context], Outcome], ctx: Context, timeout: float) -> Outcome:
    """Run one check under its own time limit; a check that overruns is reported, never waited for."""
    box: list[Outcome | BaseException] = []

    def target() -> None:
        try:
            box.append(fn(ctx))
        except BaseException as exc:  # noqa: BLE001 - reported as the check's failure below
            box.append(exc)

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(timeout)
    if not box:
        return Outcome(
            FAIL,
            f"the check did not finish within {timeout:g}s",
            remedy="run `kafkaops doctor` again; if it repeats, read the logs",
            runbook=None,
            next="kafkaops status",
        )
    out = box[0]
    if isinstance(out, KafkaopsError):
        return Outcome(FAIL, out.message, list(out.details), out.hint or "see the runbook", out.runbook, None)
    if isinstance(out, BaseException):
        return Outcome(FAIL, f"the check itself failed: {type(out).__name__}: {_first_line(out)}", remedy="rerun with --traceback and report it")
    return out


def _verdict(results: list[CheckResult]) -> Verdict:
    for status, label in ((FAIL, "fail"), (WARN, "warn")):
        first = next((r for r in results if r.status == status), None)
        if first is None:
            continue
        same_layer = [r for r in results if r.status == status and r.layer == first.layer]
        top = max(same_layer, key=lambda r: r.priority)  # max() keeps the first among equals
        if status == FAIL and top.next and "kafkaops up" in top.next:
            # `kafkaops up` cannot succeed while something it needs is missing: name that first.
            blocker = next((r for b in UP_BLOCKERS for r in results if r.id == b and r.status == FAIL and r is not top), None)
            top = blocker or top
        nxt = top.next or (f"kafkaops runbook {top.runbook}" if top.runbook else None)
        why = top.finding + (f". {top.remedy}" if top.remedy else "")
        return Verdict(label, top.layer, top.id, why, nxt, top.runbook)
    return Verdict("ok", None, None, "every check passed: ZooKeeper, broker, topic, configuration, database, producer and consumers look right", None, None)


def run_doctor(settings: Settings, *, canary: bool = False, only_local: bool = False, progress: Callable[[str], None] | None = None) -> DoctorReport:
    """Run the checklist and return the report (never raises for a failing check)."""
    del only_local
    t0 = time.perf_counter()
    ctx = Context(settings, canary=canary)
    results: list[CheckResult] = []
    try:
        for check in checks(canary):
            if progress:
                progress(f"step {check.step}: {check.title}")
            started = time.perf_counter()
            reason = ctx.local_reason(check.local) if check.local else None
            if check.id == "host.kafka_home":
                reason = None  # it decides itself: an empty install matters when nothing answers here either
            elif check.id in HOST_CHECKS and check.id != "host.java":
                reason = _any_local(ctx)
            elif check.id == "host.java" and not (ctx.zk_local or ctx.broker_local):
                reason = "ZooKeeper and the broker are not on this machine: Java is not needed here"
            if reason is not None:
                out = skipped(reason, kind="remote")
            else:
                blocked = _blocked_by(ctx, check)
                out = skipped(blocked) if blocked else _run_bounded(check.fn, ctx, check.timeout)
            result = CheckResult(
                id=check.id,
                step=check.step,
                layer=check.layer,
                title=check.title,
                status=out.status,
                finding=out.finding,
                details=out.details,
                remedy=out.remedy,
                runbook=out.runbook,
                next=out.next,
                seconds=time.perf_counter() - started,
                data=out.data,
                priority=out.priority,
                skip_kind=out.skip_kind,
            )
            ctx.results[check.id] = result
            results.append(result)
    finally:
        ctx.close()
    secrets = tuple(s for s in _secrets(settings, ctx.db_url) if len(s) >= 3)
    context = {
        "kafka_broker": settings.kafka_broker,
        "zookeeper_connect": settings.zookeeper_connect,
        "kafka_topic": settings.kafka_topic,
        "database": (redact_dsn(ctx.db_url) if ctx.db_url else None),
        "database_source": ctx.db_source,
        "env_file": str(settings.env_file) if settings.env_file else None,
        "zookeeper_local": ctx.zk_local,
        "broker_local": ctx.broker_local,
        "local_stack": ctx.identity.local,
        "local_stack_reasons": ctx.identity.reasons,
        "canary": canary,
    }
    return DoctorReport(results, _verdict(results), context, time.perf_counter() - t0, secrets)


def _secrets(settings: Settings, db_url: str | None) -> Iterator[str]:
    for url in (settings.database_url, db_url):
        if url and "://" in url:
            try:
                password = urlsplit(url).password
            except ValueError:
                password = None
            if password:
                yield password
                from urllib.parse import unquote

                yield unquote(password)
    for key in ("sasl.password", "ssl.key.password"):
        if settings.client_security.get(key):
            yield settings.client_security[key]
