"""Change an existing topic: more partitions, configs set or deleted, as a plan first.

The plan is checked by the broker before anyone applies it (CreatePartitions and
IncrementalAlterConfigs with validate_only), so a dry run already says whether the change would be
accepted; ``execute_alter`` then sends the same requests for real. Partitions only grow (Kafka cannot
take them away), and growing the pipeline's topic changes which partition a key lands in.
"""

from __future__ import annotations

from dataclasses import dataclass

from kafkaops.adapters import kafka_configs
from kafkaops.adapters.kafka import BrokerRequestError, admin, metadata
from kafkaops.errors import KafkaopsError, RefusedError, UsageError
from kafkaops.procedures import windows
from kafkaops.procedures.topic_rules import check_partition_limit, is_internal, plural, validate_name
from kafkaops.procedures.topics import METADATA_TIMEOUT, WAIT_TIMEOUT, _translate, not_found
from kafkaops.settings import Settings
from kafkaops.text import did_you_mean

TOPIC_SOURCE = "DYNAMIC_TOPIC_CONFIG"  # a config set on the topic itself (what --delete-config removes)


@dataclass(frozen=True)
class ConfigChange:
    name: str
    old: str | None  # the value in force now (None: unknown to the broker, or sensitive)
    old_source: str  # where it comes from now: DYNAMIC_TOPIC_CONFIG, DEFAULT_CONFIG, STATIC_BROKER_CONFIG, ...
    new: str | None  # None: deleted from the topic, back to the broker's value


@dataclass(frozen=True)
class AlterPlan:
    topic: str
    partitions: int  # now
    new_partitions: int | None  # None: unchanged
    configs: tuple[ConfigChange, ...]
    notes: tuple[str, ...]  # asked for, but nothing to change
    warnings: tuple[str, ...]

    @property
    def changes(self) -> int:
        return len(self.configs) + (1 if self.new_partitions is not None else 0)


def _check_request(name: str, partitions: int | None, set_: dict[str, str], delete: list[str]) -> None:
    validate_name(name)
    if partitions is None and not set_ and not delete:
        raise UsageError(
            "nothing to change", hint=f"give --partitions N, --config key=value or --delete-config key, e.g. kafkaops topics alter {name} --partitions 6"
        )
    both = sorted(set(set_) & set(delete))
    if both:
        raise UsageError(f"{both[0]} is both set (--config) and deleted (--delete-config); give one")
    if is_internal(name):
        raise RefusedError(
            f"{name} is one of Kafka's internal topics: kafkaops does not alter it", hint="Kafka manages it; change it with Kafka's own tools if you must"
        )


def _partition_step(settings: Settings, name: str, now: int, asked: int | None, replication_factor: int) -> list[str]:
    """Check a partition count: only up (Kafka cannot take partitions away). The warnings it brings."""
    if asked is None:
        return []
    if asked < now:
        raise UsageError(
            f"topic {name} has {plural(now, 'partition')}: Kafka cannot take partitions away (asked for {asked})",
            hint="to have fewer, create a new topic and copy the messages over",
        )
    if asked == now:
        raise UsageError(f"topic {name} already has {plural(now, 'partition')}", hint=f"give a larger count to add partitions, e.g. --partitions {now + 1}")
    check_partition_limit(settings, asked, replication_factor)
    if name == settings.kafka_topic:
        return [
            f"{name} is the pipeline's topic (KAFKA_TOPIC): with {asked} partitions a key's messages go to a different partition "
            "than before, so the order per key holds only among messages sent after the change"
        ]
    return ["messages with a key go to a different partition from now on: the order per key holds only among messages sent after the change"]


def _config_steps(current: dict[str, kafka_configs.ConfigValue], set_: dict[str, str], delete: list[str]) -> tuple[list[ConfigChange], list[str]]:
    """The diff (old -> new) of each config asked for, and notes for those already as asked."""
    changes: list[ConfigChange] = []
    notes: list[str] = []
    for key, value in set_.items():
        now = current.get(key)
        if now is not None and now.source == TOPIC_SOURCE and now.value == value:
            notes.append(f"{key} is already {value} on the topic")
            continue
        changes.append(ConfigChange(key, now.value if now else None, now.source if now else "", value))
    for key in delete:
        now = current.get(key)
        if now is None or now.source != TOPIC_SOURCE:
            where = f" (it is {now.value} from {now.source})" if now else ""
            notes.append(f"{key} is not set on the topic{where}: nothing to delete")
            continue
        changes.append(ConfigChange(key, now.value, now.source, None))
    return changes, notes


def _rejected(exc: BrokerRequestError, plan: AlterPlan, known: list[str], settings: Settings, timeout: float) -> KafkaopsError:
    """A broker's refusal of a config change; a name the topic does not have gets the closest one it has."""
    err = _translate(exc, "altering the configs of topic", plan.topic, settings, timeout)
    unknown = [c.name for c in plan.configs if known and c.name not in known]
    if isinstance(err, UsageError) and unknown:
        err.hint = did_you_mean(unknown[0], known, n=1) or f"see the topic's configs with `kafkaops topics describe {plan.topic} --configs`"
    return err


def plan_alter(settings: Settings, name: str, partitions: int | None, set_: dict[str, str], delete: list[str], timeout: float = WAIT_TIMEOUT) -> AlterPlan:
    """What an alter would change, checked by the broker (validate_only) but not applied."""
    _check_request(name, partitions, set_, delete)
    client = admin(settings)
    md = metadata(settings, timeout=METADATA_TIMEOUT, client=client)
    tmeta = md.topics.get(name)
    if tmeta is None or not tmeta.partitions:
        raise not_found(name, md.topics)
    now = len(tmeta.partitions)
    rf = max((len(p.replicas) for p in tmeta.partitions.values()), default=1)
    warnings = _partition_step(settings, name, now, partitions, rf)
    if windows_note := windows.retention_warning(settings, set_):
        warnings.append(windows_note)
    try:
        current = {c.name: c for c in kafka_configs.topic_configs(client, name, timeout)}
    except BrokerRequestError as exc:
        raise _translate(exc, "cannot read the configs of topic", name, settings, timeout) from None
    changes, notes = _config_steps(current, set_, delete)
    plan = AlterPlan(name, now, partitions, tuple(changes), tuple(notes), tuple(warnings))
    _send(settings, client, plan, timeout, validate_only=True, known=sorted(current))
    return plan


def _send(settings: Settings, client: object, plan: AlterPlan, timeout: float, validate_only: bool, known: list[str]) -> None:
    try:
        if plan.new_partitions is not None:
            kafka_configs.create_partitions(client, plan.topic, plan.new_partitions, timeout, validate_only)
    except BrokerRequestError as exc:
        raise _translate(exc, "adding partitions to topic", plan.topic, settings, timeout) from None
    if not plan.configs:
        return
    set_ = {c.name: c.new for c in plan.configs if c.new is not None}
    delete = [c.name for c in plan.configs if c.new is None]
    try:
        kafka_configs.alter_topic_configs(client, plan.topic, set_, delete, timeout, validate_only)
    except BrokerRequestError as exc:
        raise _rejected(exc, plan, known, settings, timeout) from None


def execute_alter(settings: Settings, plan: AlterPlan, timeout: float = WAIT_TIMEOUT) -> AlterPlan:
    """Apply a plan: partitions first, then configs (each as validated). Returns the plan applied."""
    _send(settings, admin(settings), plan, timeout, validate_only=False, known=[])
    return plan
