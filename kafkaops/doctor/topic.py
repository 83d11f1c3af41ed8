"""Step 3 of the checklist: the topic."""

from __future__ import annotations

from typing import Any

from kafkaops.adapters import kafka_configs
from kafkaops.doctor.common import _closest, _source, _user_topics
from kafkaops.doctor.context import Context
from kafkaops.doctor.registry import check
from kafkaops.doctor.results import Outcome, failed, passed, skipped, warned


@check("topic.exists", 3, "topic", "KAFKA_TOPIC exists", requires=("broker.metadata",))
def check_topic_exists(ctx: Context) -> Outcome:
    name = ctx.settings.kafka_topic
    topic = ctx.md.topics.get(name)
    if topic is not None and topic.error is None:
        return passed(f"topic {name} exists ({len(topic.partitions)} partition(s))", data={"topic": name})
    close = _closest(name, [t for t in _user_topics(ctx) if t != name])
    if topic is None and close:
        return skipped(f"no topic {name}, but {close[0]} exists: see the KAFKA_TOPIC check (step 4)", details=[f"similar: {', '.join(close)}"])
    p, r = ctx.settings.topic_partitions, ctx.settings.topic_replication_factor
    reason = f"topic {name} does not exist" if topic is None else f"topic {name} is not usable: {topic.error}"
    return failed(
        f"{reason} (KAFKA_TOPIC, from {_source(ctx.settings, 'kafka_topic')})",
        remedy=f"create it: `kafkaops topics create {name} --partitions {p} --replication-factor {r}` (or `kafkaops up`, which ensures it)",
        runbook="topic-missing",
        details=[f"existing topics: {', '.join(_user_topics(ctx)) or 'none'}"],
        next=f"kafkaops topics create {name} --partitions {p} --replication-factor {r}",
        data={"topic": name},
    )


@check("topic.layout", 3, "topic", "partitions, replication, leaders", requires=("topic.exists",))
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
            remedy="start the broker(s) holding their replicas (`kafkaops up`); read the broker log if they are up",
            runbook="broker-unreachable",
            details=layout,
            next="kafkaops logs kafka",
            data=data,
        )
    if under:
        return warned(
            f"topic {name}: partition(s) {under} are under-replicated",
            remedy="a replica's broker is down or lagging",
            runbook="broker-unreachable",
            details=layout,
            data=data,
        )
    want_p, want_rf = ctx.settings.topic_partitions, ctx.settings.topic_replication_factor
    if (n, rf) != (want_p, want_rf):
        return warned(
            f"topic {name} has {n} partition(s) and replication factor {rf}; the settings say {want_p} and {want_rf}",
            remedy="harmless for this pipeline, but align KAFKA_TOPIC_PARTITIONS / KAFKA_TOPIC_REPLICATION_FACTOR with the topic "
            "(partitions can only be added; fewer means recreating the topic)",
            runbook="topic-missing",
            details=layout,
            data=data,
        )
    return passed(f"topic {name}: {n} partition(s), replication factor {rf}, every partition led and fully in sync", details=layout, data=data)


def _internal_rf(ctx: Context) -> tuple[int, int, str] | None:
    """offsets.topic.replication.factor and transaction.state.log.replication.factor, and where they came from."""
    if ctx.cfg is not None and ctx.broker_local:
        props = ctx.cfg.server_props
        return (
            props.get_int("offsets.topic.replication.factor", 3),
            props.get_int("transaction.state.log.replication.factor", 3),
            str(ctx.settings.server_properties),
        )
    broker = ctx.md.brokers[0].id
    try:
        configs = {c.name: c.value for c in kafka_configs.broker_configs(ctx.admin(), broker, 2.0)}
        return (
            int(configs["offsets.topic.replication.factor"] or ""),
            int(configs["transaction.state.log.replication.factor"] or ""),
            f"broker {broker}'s configuration",
        )
    except Exception:  # noqa: BLE001 - authorization, timeout: the check reports it cannot tell
        return None


@check("topic.internal_replication", 3, "topic", "internal topics' replication factor vs brokers", requires=("broker.metadata",))
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
            remedy=f"set offsets.topic.replication.factor=1 (and transaction.state.log.replication.factor=1, "
            f"transaction.state.log.min.isr=1) in {ctx.settings.server_properties}, then restart: `kafkaops down && kafkaops up`",
            runbook="offsets-topic-replication",
            next="kafkaops down && kafkaops up",
            data=data,
        )
    if txn_rf > live and "__transaction_state" not in ctx.md.topics:
        return warned(
            f"transaction.state.log.replication.factor={txn_rf} ({source}) but only {live} broker(s) run: transactions cannot work",
            remedy="set it to 1 on a single broker (only transactional producers need it)",
            runbook="offsets-topic-replication",
            data=data,
        )
    return passed(
        f"offsets.topic.replication.factor={offsets_rf}, transaction.state.log.replication.factor={txn_rf} ({source}) fit {live} live broker(s)", data=data
    )
