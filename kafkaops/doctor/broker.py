"""Step 2 of the checklist: the broker."""

from __future__ import annotations

import time

from kafkaops.adapters import network, processes
from kafkaops.adapters import zookeeper as zk
from kafkaops.doctor.common import _registered_endpoints
from kafkaops.doctor.context import Context
from kafkaops.doctor.process import BROKER_WORDS, process_check
from kafkaops.doctor.registry import check
from kafkaops.doctor.results import METADATA_DEADLINE, REQUEST_DEADLINE, Outcome, failed, passed, skipped, warned
from kafkaops.errors import KafkaopsError, UnreachableError
from kafkaops.procedures import services


def _broker_port(ctx: Context) -> tuple[str, int]:
    assert ctx.cfg is not None
    for lst in ctx.cfg.listeners:
        if lst.port == ctx.broker_port:
            return services.probe_host(lst.host), lst.port
    first = ctx.cfg.listeners[0]
    return services.probe_host(first.host), first.port


@check("broker.process", 2, "broker", "broker process and port", local="broker", applies="local")
def check_broker_process(ctx: Context) -> Outcome:
    return process_check(ctx, services.KAFKA, _broker_port(ctx), BROKER_WORDS)


@check("broker.metadata", 2, "broker", "broker answers a metadata request", requires=("broker.process",), timeout=6.0)
def check_broker_metadata(ctx: Context) -> Outcome:
    from kafkaops.adapters.kafka import ClientSecurityError, metadata

    if not ctx.broker_local and network.resolve(ctx.broker_host, timeout=1.0) is None:
        return failed(
            f"KAFKA_BROKER={ctx.settings.kafka_broker}: {ctx.broker_host} does not resolve",
            remedy="fix KAFKA_BROKER (a host name this machine can resolve)",
            runbook="broker-unreachable",
            next=f"set KAFKA_BROKER to a reachable host:port (now {ctx.settings.kafka_broker})",
        )
    t0 = time.perf_counter()
    try:
        md = metadata(ctx.settings, timeout=METADATA_DEADLINE, client=ctx.admin())
    except ClientSecurityError as exc:  # the broker answers, but refuses this client's login or TLS
        return failed(
            exc.message,
            remedy=exc.hint or "fix the client settings",
            runbook="client-security",
            details=exc.details,
            next="kafkaops runbook failures client-security",
        )
    except KafkaopsError as exc:
        bad = [e for e in _registered_endpoints(ctx) if not network.probe(e[1], e[2], timeout=1.0).connected]
        if bad and processes.port_open(ctx.broker_host, ctx.broker_port):
            # The broker's port answers, but librdkafka moved on to an advertised address it cannot
            # reach (the advertised.listeners trap): config.advertised names the fault.
            return warned(
                f"no metadata answer from KAFKA_BROKER={ctx.settings.kafka_broker}, although its port accepts connections: "
                f"the client is sent on to the advertised {bad[0][1]}:{bad[0][2]}, which it cannot reach",
                remedy="see config.advertised",
                runbook="advertised-listeners",
                next="kafkaops runbook failures advertised-listeners",
                data={"no_result": True},
            )
        if isinstance(exc, UnreachableError) and processes.port_open(ctx.broker_host, ctx.broker_port):
            return _not_answering(ctx, f"a metadata request got no answer in {METADATA_DEADLINE:g} s")
        return failed(
            f"no metadata answer from KAFKA_BROKER={ctx.settings.kafka_broker}: {exc.message}",
            remedy="check that the broker runs (`kafkaops status`) and that KAFKA_BROKER names it",
            runbook="broker-unreachable",
            next="kafkaops status",
        )
    ms = round((time.perf_counter() - t0) * 1000, 1)
    ctx.md = md
    ids = sorted(b.id for b in md.brokers)
    if not ids:
        return failed(
            f"{ctx.settings.kafka_broker} answered, but lists no broker",
            remedy="read the broker's log",
            runbook="broker-unreachable",
            next="kafkaops logs kafka",
        )
    return passed(
        f"{ctx.settings.kafka_broker} answered a metadata request in {ms:g} ms: broker(s) {ids}, cluster id {md.cluster_id}",
        data={"brokers": ids, "controller": md.controller_id, "cluster_id": md.cluster_id, "ms": ms},
    )


def _not_answering(ctx: Context, what: str) -> Outcome:
    """The port accepts connections but requests time out: a stopped (SIGSTOP), overloaded or wedged broker."""
    return failed(
        f"the broker at {ctx.settings.kafka_broker} accepts connections but does not answer requests: {what}",
        remedy="the broker process is stuck, not down: read its log (a ZooKeeper write it retries forever, long GC pauses); "
        "restart it with `kafkaops down --force` then `kafkaops up`",
        runbook="broker-not-answering",
        next="kafkaops logs kafka",
        priority=5,
    )


@check("broker.requests", 2, "broker", "broker answers an admin request in time", requires=("broker.metadata",), timeout=REQUEST_DEADLINE + 3)
def check_broker_requests(ctx: Context) -> Outcome:
    """Metadata can come from the broker's cache while the rest is stuck: one admin request with a deadline.

    DescribeConfigs of a topic is read from ZooKeeper in ZooKeeper mode, so it also times out when the
    broker's ZooKeeper session is stuck behind a write ZooKeeper refuses (too many partitions).
    """
    from kafkaops.adapters import kafka, kafka_configs

    topic = ctx.settings.kafka_topic if ctx.md is not None and ctx.settings.kafka_topic in ctx.md.topics else None
    if topic is None and ctx.md is not None:
        topic = next((t for t in sorted(ctx.md.topics) if not t.startswith("__")), None) or next(iter(sorted(ctx.md.topics)), None)
    if topic is None:
        return skipped("no topic to describe", kind="not-configured")
    t0 = time.perf_counter()
    try:
        kafka_configs.topic_configs(ctx.admin(), topic, REQUEST_DEADLINE)
    except kafka.BrokerRequestError as exc:
        if exc.unreachable:
            unreachable = [b for b in ctx.md.brokers if not network.probe(b.host, b.port, timeout=1.0).connected]
            if unreachable:  # the request went to an advertised address this machine cannot reach: not a stuck broker
                b = unreachable[0]
                return warned(
                    f"no answer to a DescribeConfigs request: the client is sent on to the advertised {b.host}:{b.port}, which it cannot reach",
                    remedy="see config.advertised",
                    runbook="advertised-listeners",
                    next="kafkaops runbook failures advertised-listeners",
                    data={"no_result": True},
                )
            return _not_answering(ctx, f"it answered metadata, but not a DescribeConfigs request for topic {topic} in {REQUEST_DEADLINE:g} s")
        return warned(
            f"DescribeConfigs for topic {topic} was refused: {exc.reason} ({exc.code})", remedy="check the client's ACLs", runbook="broker-not-answering"
        )
    ms = round((time.perf_counter() - t0) * 1000, 1)
    return passed(f"the broker answered a DescribeConfigs request for topic {topic} in {ms:g} ms", data={"ms": ms, "topic": topic})


def _broker_running_locally(ctx: Context) -> bool:
    assert ctx.cfg is not None
    p = services.probe(ctx.settings, ctx.cfg, services.KAFKA, address=_broker_port(ctx))
    return p.proc is not None or p.port_open  # not any kafka.Kafka on the machine: other stacks may run here


@check("broker.registration", 2, "broker", "registration in ZooKeeper (/brokers/ids)", requires=("zookeeper.serving",), applies="zookeeper")
def check_broker_registration(ctx: Context) -> Outcome:
    client = ctx.zk()
    ids = zk.broker_ids(client)
    if ctx.local_reason("broker") is not None:
        if not ids:
            return failed(
                "no broker is registered in ZooKeeper under /brokers/ids",
                remedy="start the broker, or check that it uses this ZooKeeper",
                runbook="broker-unreachable",
                next="kafkaops status",
                data={"registered": ids},
            )
        return passed(f"broker(s) {ids} registered in ZooKeeper", data={"registered": ids})
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
            remedy=f"it disappears when its ZooKeeper session expires (zookeeper.session.timeout.ms = {expiry:g}s after the stop); "
            "`kafkaops up` waits for that, then starts the broker. Never start a broker by hand before it is gone (NodeExistsException)",
            runbook="stale-broker-registration",
            details=[f"endpoints: {', '.join(node.endpoints)}"],
            next="kafkaops up",
            priority=10,
            data={"broker_id": bid, "session": f"0x{node.owner_session:x}", "age_s": round(age, 1), "registered": ids},
        )
    if node is None and running:
        return failed(
            f"a broker runs but broker {bid} is not registered under /brokers/ids (it has no ZooKeeper session)",
            remedy="the broker lost ZooKeeper or is still starting: read its log; `kafkaops down && kafkaops up` if it does not recover",
            runbook="zookeeper-unreachable",
            next="kafkaops logs kafka",
            data={"broker_id": bid, "registered": ids},
        )
    if node is None:
        return passed(f"broker {bid} is neither running nor registered: no stale registration", data={"broker_id": bid, "registered": ids})
    return passed(
        f"broker {bid} is registered in ZooKeeper ({', '.join(node.endpoints)})", data={"broker_id": bid, "registered": ids, "endpoints": list(node.endpoints)}
    )


@check("broker.controller", 2, "broker", "controller elected", requires=("zookeeper.serving", "broker.registration"), applies="zookeeper")
def check_controller(ctx: Context) -> Outcome:
    client = ctx.zk()
    ids = zk.broker_ids(client)
    if not ids:
        return skipped("no broker is registered, so none can be the controller")
    cid = zk.controller_id(client)
    if cid is None:
        return failed(
            "no controller is elected although broker(s) are registered",
            remedy="restart the broker: `kafkaops down && kafkaops up`",
            runbook="broker-unreachable",
            next="kafkaops down && kafkaops up",
            data={"registered": ids},
        )
    if cid not in ids:
        return failed(
            f"the controller is broker {cid}, which is not registered",
            remedy="wait a few seconds for a new election; restart the broker if it persists",
            runbook="stale-broker-registration",
            next="kafkaops doctor",
            data={"controller": cid, "registered": ids},
        )
    return passed(f"broker {cid} is the controller", data={"controller": cid})


def _zookeeper_cluster_id(ctx: Context) -> str | None:
    """ZooKeeper's /cluster/id when ZooKeeper serves (None when it does not, or has none)."""
    if not ctx.ok("zookeeper.serving"):
        return None
    try:
        return zk.cluster_id(ctx.zk())
    except KafkaopsError:
        return None


@check("broker.meta_properties", 2, "broker", "meta.properties readable in every log dir", local="broker", applies="local")
def check_meta_properties(ctx: Context) -> Outcome:
    """Every log dir's meta.properties read as the broker reads it: missing is a new broker, anything unreadable is not."""
    assert ctx.cfg is not None
    metas = [services.read_meta(d) for d in ctx.cfg.log_dirs]
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
            remedy=f"the broker will not start with it. Restore it, or rewrite it with {rewrite}; if the data does not matter, "
            "empty Kafka's and ZooKeeper's data together with `kafkaops reset --confirm`",
            runbook="cluster-id-mismatch",
            details=[x.problem for x in bad if x.problem],
            next=nxt,
            priority=10,
            data={"files": {str(x.path): x.state for x in metas}},
        )
    present = [m for m in metas if m.state == "ok"]
    if not present:
        return passed(
            f"no meta.properties in the log dirs yet (a new broker): {', '.join(str(m.path) for m in metas)}",
            data={"files": {str(m.path): m.state for m in metas}},
        )
    return passed(
        f"meta.properties readable in {len(present)} of {len(metas)} log dir(s)" + (f", cluster id {present[0].cluster_id}" if present[0].cluster_id else ""),
        data={"files": {str(m.path): m.state for m in metas}},
    )


@check(
    "broker.cluster_id",
    2,
    "broker",
    "cluster id on disk vs ZooKeeper",
    requires=("zookeeper.serving", "broker.meta_properties"),
    local="broker",
    applies="local",
)
def check_cluster_id(ctx: Context) -> Outcome:
    assert ctx.cfg is not None
    if ctx.identity.foreign:  # whatever answers there (a tunnel, a stack started by hand) need not be this stack's
        who = "; ".join(ctx.identity.foreign.values())
        return skipped(f"{who}: the local meta.properties is not compared with the cluster that answers there", kind="remote")
    zk_id = zk.cluster_id(ctx.zk())
    stored = {str(m.path.parent): m for m in (services.read_meta(d) for d in ctx.cfg.log_dirs) if m.state == "ok"}
    if not stored:
        return passed("no meta.properties in the log dirs yet (a new broker): nothing to disagree with ZooKeeper", data={"zookeeper_cluster_id": zk_id})
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
            remedy="the broker will refuse to start. Restore ZooKeeper's data if you still have it; otherwise wipe Kafka's and "
            "ZooKeeper's data together with `kafkaops reset --confirm` (every message is lost)",
            runbook="cluster-id-mismatch",
            details=bad,
            next="kafkaops reset --confirm",
            priority=10,
            data={"zookeeper_cluster_id": zk_id, "stored": {d: m.cluster_id for d, m in stored.items()}},
        )
    first = next(iter(stored.values())).cluster_id
    return passed(f"cluster id {first} in every log dir's meta.properties matches ZooKeeper", data={"cluster_id": first})
