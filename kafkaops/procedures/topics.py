"""Topics: create (and wait until usable), list, describe, delete, through the admin client.

Names and counts are checked here before anything is sent to a broker. Broker errors come back
from the adapter as :class:`BrokerRequestError` (with Kafka's error name) and are turned into one
kafkaops error each, with the exit code documented in the README:

- bad input (a name, a count, a config the broker rejects): 2
- broker not reachable: 4
- refused (an internal topic, a delete nobody confirmed): 5
- the topic already exists / does not exist, and anything else the broker says: 1
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from kafkaops.adapters import kafka, kafka_configs
from kafkaops.adapters.kafka import BrokerRequestError, admin, metadata
from kafkaops.defaults import TOPIC_WAIT_TIMEOUT
from kafkaops.errors import ExitCode, KafkaopsError, RefusedError, UnreachableError, UsageError
from kafkaops.procedures.topic_list import METADATA_TIMEOUT, TopicList, TopicSummary, list_topics  # re-exported: the topics interface
from kafkaops.procedures.topic_list import summary as _summary
from kafkaops.procedures.topic_rules import (  # re-exported: the topics interface
    INTERNAL_PREFIX,
    JUTE_MAXBUFFER,
    MAX_NAME_LENGTH,
    MAX_REPLICAS_PER_BROKER,
    TOPIC_ZNODE_FIXED,
    ZK_REQUEST_RESERVE,
    PartitionLimit,
    assignment_znode_bytes,
    check_partition_limit,
    is_internal,
    jute_maxbuffer,
    max_partitions_for_zookeeper,
    name_warnings,
    parse_configs,
    partition_limit,
    plural,
    shape,
    validate_counts,
    validate_name,
)
from kafkaops.settings import Settings
from kafkaops.text import did_you_mean

__all__ = [
    "INTERNAL_PREFIX",
    "JUTE_MAXBUFFER",
    "MAX_NAME_LENGTH",
    "MAX_REPLICAS_PER_BROKER",
    "METADATA_TIMEOUT",
    "TOPIC_ZNODE_FIXED",
    "ZK_REQUEST_RESERVE",
    "PartitionLimit",
    "TopicList",
    "TopicSummary",
    "assignment_znode_bytes",
    "check_partition_limit",
    "is_internal",
    "jute_maxbuffer",
    "list_topics",
    "max_partitions_for_zookeeper",
    "name_warnings",
    "parse_configs",
    "partition_limit",
    "plural",
    "shape",
    "validate_counts",
    "validate_name",
]

WAIT_TIMEOUT = TOPIC_WAIT_TIMEOUT  # how long create and delete wait for the cluster to reflect the change
_HINT_CHECK = "check the stack with `kafkaops status` or `kafkaops doctor`"
_RB_MISSING = "failures topic-missing"


class TopicExists(KafkaopsError):
    """The topic to create is already there (without --if-not-exists)."""

    exit_code = ExitCode.ERROR


class TopicNotFound(KafkaopsError):
    """The topic named does not exist."""

    exit_code = ExitCode.ERROR


def not_found(name: str, existing: Any = ()) -> TopicNotFound:
    """The topic is not there; name the closest existing one (a typo like db_live_event) when there is one."""
    close = did_you_mean(name, [t for t in existing if not is_internal(t)], n=1, cutoff=0.8)
    hint = f"{close} " if close else ""
    return TopicNotFound(f"topic {name} does not exist", hint=hint + "see the topics with `kafkaops topics list`", runbook=_RB_MISSING)


# --------------------------------------------------------------------------------------------
# broker errors -> kafkaops errors

_BAD_INPUT = {
    "INVALID_CONFIG",
    "TOPIC_EXCEPTION",  # Kafka's InvalidTopicException: a bad or colliding name
    "INVALID_PARTITIONS",
    "INVALID_REPLICATION_FACTOR",
    "INVALID_REPLICA_ASSIGNMENT",
    "POLICY_VIOLATION",
    "INVALID_REQUEST",
}
_NOT_ALLOWED = {
    "TOPIC_AUTHORIZATION_FAILED",
    "CLUSTER_AUTHORIZATION_FAILED",
    "_AUTHENTICATION",
    "SASL_AUTHENTICATION_FAILED",
    "_SSL",
}


def _translate(exc: BrokerRequestError, doing: str, name: str, settings: Settings, timeout: float) -> KafkaopsError:
    code, reason = exc.code, exc.reason
    if exc.unreachable:
        return UnreachableError(
            f"{doing} {name}: no answer from the broker at {settings.kafka_broker} within {timeout:g}s ({reason})",
            hint=_HINT_CHECK,
            runbook="failures broker-unreachable",
        )
    if code == "TOPIC_ALREADY_EXISTS":
        hint = "wait a few seconds and try again" if "marked for deletion" in reason else f"see it with `kafkaops topics describe {name}`"
        return TopicExists(f"{doing} {name}: {reason}", hint=hint)
    if code in kafka.UNKNOWN_TOPIC:
        return not_found(name)
    if code in _BAD_INPUT:
        return UsageError(f"{doing} {name}: the broker rejected it: {reason}")
    if code in _NOT_ALLOWED:
        return KafkaopsError(
            f"{doing} {name}: not allowed ({reason})",
            hint="check the client's credentials (KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*) and the cluster's ACLs",
        )
    if code == "TOPIC_DELETION_DISABLED":
        return KafkaopsError(f"{doing} {name}: the broker has topic deletion disabled", hint="set delete.topic.enable=true on the broker")
    return KafkaopsError(f"{doing} {name}: {reason} ({code})")


# --------------------------------------------------------------------------------------------
# create


@dataclass(frozen=True)
class EnsureResult:
    name: str
    created: bool
    partitions: int
    replication_factor: int


@dataclass(frozen=True)
class CreateResult:
    name: str
    created: bool  # False: it was there already (only with if_not_exists)
    partitions: int  # what the topic has now
    replication_factor: int
    requested_partitions: int
    requested_replication_factor: int
    config: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def differs(self) -> bool:
        return (self.partitions, self.replication_factor) != (self.requested_partitions, self.requested_replication_factor)


def _wait_leaders(settings: Settings, client: object, name: str, timeout: float) -> tuple[int, int]:
    deadline = time.monotonic() + timeout
    while True:
        md = metadata(settings, timeout=METADATA_TIMEOUT, client=client)
        topic = md.topics.get(name)
        if topic is not None and topic.error is None and topic.partitions:
            parts = list(topic.partitions.values())
            if all(p.leader >= 0 for p in parts):
                return len(parts), max(len(p.replicas) for p in parts)
        if time.monotonic() > deadline:
            raise KafkaopsError(f"topic {name} has no leader for every partition after {timeout:g}s", hint="run `kafkaops doctor`")
        time.sleep(0.1)


def _existing(settings: Settings, client: Any, tmeta: Any, asked: CreateResult, *, if_not_exists: bool, timeout: float, t0: float) -> CreateResult:
    """The topic is there already: what it has (with ``if_not_exists``, once it is led), else TopicExists."""
    name = asked.name
    have = _summary(name, tmeta)
    if if_not_exists:
        n, rf = _wait_leaders(settings, client, name, timeout)
        return CreateResult(name, False, n, rf, asked.requested_partitions, asked.requested_replication_factor, asked.config, time.monotonic() - t0)
    details = []
    if (have.partitions, have.replication_factor) != (asked.requested_partitions, asked.requested_replication_factor):
        details.append(
            f"it has {shape(have.partitions, have.replication_factor)}; you asked for {shape(asked.requested_partitions, asked.requested_replication_factor)}"
        )
    raise TopicExists(
        f"topic {name} already exists",
        details=details,
        hint=f"add --if-not-exists to accept an existing topic; see it with `kafkaops topics describe {name}`",
        runbook="topics creating-a-topic",
    )


def _check_fits(settings: Settings, md: Any, name: str, partitions: int, replication_factor: int) -> None:
    """Refuse (exit 2) a name that collides with an existing topic, or counts the live brokers cannot hold."""
    clash = sorted(t for t in md.topics if t.replace(".", "_") == name.replace(".", "_"))
    if clash:
        raise UsageError(
            f"topic name {name} collides with the existing topic {clash[0]}",
            hint="Kafka's metric names treat '.' and '_' alike, so it refuses both; pick another name",
        )
    live = len(md.brokers)
    if replication_factor > live:
        raise UsageError(
            f"replication factor {replication_factor} needs {replication_factor} brokers; {plural(live, 'live broker')} at {settings.kafka_broker}",
            hint=f"use --replication-factor {max(live, 1)} or less",
        )
    check_partition_limit(settings, partitions, replication_factor, live, max((b.id for b in md.brokers), default=0))


def _listed_within(settings: Settings, client: Any, name: str, timeout: float) -> Any:
    """The topic's metadata once the broker lists it, or None after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        md = metadata(settings, timeout=METADATA_TIMEOUT, client=client)
        if name in md.topics:
            return md.topics[name]
        time.sleep(0.1)
    return None


def create_topic(
    settings: Settings,
    name: str,
    partitions: int = 1,
    replication_factor: int = 1,
    config: dict[str, str] | None = None,
    *,
    if_not_exists: bool = False,
    timeout: float = WAIT_TIMEOUT,
) -> CreateResult:
    """Create the topic and return once every partition has a leader.

    An existing topic is a :class:`TopicExists` error, or with ``if_not_exists`` a result with
    ``created=False`` (and what the topic really has, so that a difference can be told).
    """
    validate_name(name)
    validate_counts(partitions, replication_factor)
    check_partition_limit(settings, partitions, replication_factor)  # ZooKeeper's limit needs no broker
    config = dict(config or {})
    asked = CreateResult(name, False, partitions, replication_factor, partitions, replication_factor, config)
    t0 = time.monotonic()
    client = admin(settings)
    md = metadata(settings, timeout=METADATA_TIMEOUT, client=client)
    if name in md.topics:
        return _existing(settings, client, md.topics[name], asked, if_not_exists=if_not_exists, timeout=timeout, t0=t0)
    _check_fits(settings, md, name, partitions, replication_factor)
    try:
        kafka.create_topic(client, name, partitions, replication_factor, config, timeout)
    except BrokerRequestError as exc:
        if exc.code == "TOPIC_ALREADY_EXISTS" and "marked for deletion" not in exc.reason:
            # Created meanwhile by someone else, or (right after a broker restart) known to the
            # controller before the broker's metadata cache lists it: wait until metadata shows it.
            tmeta = _listed_within(settings, client, name, timeout)
            if tmeta is not None:
                return _existing(settings, client, tmeta, asked, if_not_exists=if_not_exists, timeout=timeout, t0=t0)
        raise _translate(exc, "cannot create topic", name, settings, timeout) from None
    n, rf = _wait_leaders(settings, client, name, timeout)
    return CreateResult(name, True, n, rf, partitions, replication_factor, config, time.monotonic() - t0)


def ensure_topic(settings: Settings, name: str, partitions: int, replication_factor: int, timeout: float = 30.0) -> EnsureResult:
    """Create the topic if it does not exist, and return once every partition has a leader."""
    result = create_topic(settings, name, partitions, replication_factor, if_not_exists=True, timeout=timeout)
    return EnsureResult(result.name, result.created, result.partitions, result.replication_factor)


# --------------------------------------------------------------------------------------------
# describe


@dataclass(frozen=True)
class PartitionInfo:
    partition: int
    leader: int | None  # None: no leader (offline)
    replicas: list[int]
    isr: list[int]
    low: int | None  # earliest offset still stored
    high: int | None  # the offset the next message gets
    error: str | None = None

    @property
    def messages(self) -> int | None:
        """Messages stored (high - low; compaction and transaction markers make it an upper bound)."""
        return None if self.low is None or self.high is None else self.high - self.low

    @property
    def offline(self) -> bool:
        return self.leader is None

    @property
    def under_replicated(self) -> bool:
        return len(self.isr) < len(self.replicas)


@dataclass(frozen=True)
class TopicDescription:
    name: str
    internal: bool
    replication_factor: int
    partitions: list[PartitionInfo]
    configs: list[kafka_configs.ConfigValue]  # only the non-default ones

    @property
    def messages(self) -> int | None:
        counts = [p.messages for p in self.partitions]
        return None if any(c is None for c in counts) else sum(c for c in counts if c is not None)

    @property
    def under_replicated(self) -> list[int]:
        return [p.partition for p in self.partitions if p.under_replicated]

    @property
    def offline(self) -> list[int]:
        return [p.partition for p in self.partitions if p.offline]


def _partitions(settings: Settings, client: Any, name: str, timeout: float) -> tuple[Any, list[PartitionInfo]]:
    validate_name(name)
    md = metadata(settings, timeout=METADATA_TIMEOUT, client=client)
    tmeta = md.topics.get(name)
    if tmeta is None or (tmeta.error is not None and tmeta.error.name() == "UNKNOWN_TOPIC_OR_PART"):
        raise not_found(name, md.topics)
    ids = sorted(tmeta.partitions)
    led = [pid for pid in ids if tmeta.partitions[pid].leader >= 0]  # a leaderless partition cannot answer
    try:
        marks = kafka.watermarks(client, name, led, timeout)
    except BrokerRequestError as exc:
        raise _translate(exc, "cannot read the offsets of topic", name, settings, timeout) from None
    infos = []
    for pid in ids:
        p = tmeta.partitions[pid]
        mark = marks.get(pid, kafka.Watermark(pid, None, None))
        perr = p.error.str() if p.error is not None else None
        infos.append(
            PartitionInfo(
                partition=pid,
                leader=p.leader if p.leader >= 0 else None,
                replicas=list(p.replicas),
                isr=list(p.isrs),
                low=mark.low,
                high=mark.high,
                error=perr or mark.error,
            )
        )
    return tmeta, infos


def describe_topic(settings: Settings, name: str, timeout: float = 10.0) -> TopicDescription:
    client = admin(settings)
    _, parts = _partitions(settings, client, name, timeout)
    try:
        configs = [c for c in kafka_configs.topic_configs(client, name, timeout) if not c.is_default]
    except BrokerRequestError as exc:
        raise _translate(exc, "cannot read the configs of topic", name, settings, timeout) from None
    rf = max((len(p.replicas) for p in parts), default=0)
    return TopicDescription(name, is_internal(name), rf, parts, configs)


# --------------------------------------------------------------------------------------------
# delete


@dataclass(frozen=True)
class DeletePlan:
    name: str
    partitions: list[PartitionInfo]

    @property
    def messages(self) -> int | None:
        counts = [p.messages for p in self.partitions]
        return None if any(c is None for c in counts) else sum(c for c in counts if c is not None)


@dataclass(frozen=True)
class DeleteResult:
    name: str
    messages: int | None  # what was lost, as planned
    seconds: float


def _refuse_internal(name: str) -> None:
    if is_internal(name):
        raise RefusedError(
            f"{name} is an internal topic (its name starts with {INTERNAL_PREFIX!r}); kafkaops does not delete internal topics",
            hint="Kafka keeps consumer offsets and transaction state there; deleting it breaks every consumer group",
        )


def plan_delete(settings: Settings, name: str, timeout: float = 10.0) -> DeletePlan:
    """What deleting the topic would lose: its partitions and their message counts."""
    validate_name(name)
    _refuse_internal(name)
    _, parts = _partitions(settings, admin(settings), name, timeout)
    return DeletePlan(name, parts)


def _marked_for_deletion(client: Any, name: str) -> bool:
    """Whether the broker still refuses to create ``name`` because its deletion is under way (a validate-only create)."""
    try:
        kafka.create_topic(client, name, 1, -1, {}, METADATA_TIMEOUT, validate_only=True)
    except BrokerRequestError as exc:
        return "marked for deletion" in exc.reason
    return False


def delete_topic(settings: Settings, plan: DeletePlan, timeout: float = WAIT_TIMEOUT) -> DeleteResult:
    """Delete the planned topic and return once the cluster no longer lists it."""
    name = plan.name
    validate_name(name)
    _refuse_internal(name)
    t0 = time.monotonic()
    client = admin(settings)
    try:
        kafka.delete_topic(client, name, timeout)
    except BrokerRequestError as exc:
        raise _translate(exc, "cannot delete topic", name, settings, timeout) from None
    deadline = t0 + timeout
    # ZooKeeper mode drops the topic from metadata before its deletion is done, and refuses its name until then.
    while name in metadata(settings, timeout=METADATA_TIMEOUT, client=client).topics or _marked_for_deletion(client, name):
        if time.monotonic() > deadline:
            raise KafkaopsError(
                f"topic {name} is still listed {timeout:g}s after the broker accepted its deletion",
                hint=f"check again with `kafkaops topics describe {name}`; the broker's log tells why (`kafkaops logs kafka`)",
            )
        time.sleep(0.1)
    return DeleteResult(name, plan.messages, time.monotonic() - t0)
