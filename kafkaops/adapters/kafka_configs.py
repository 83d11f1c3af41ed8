"""A topic's or a broker's configuration as the broker describes it (DescribeConfigs), in plain values;
sensitive values are never returned. confluent_kafka is imported only when a request is made."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kafkaops.adapters.kafka import request_result as _result


@dataclass(frozen=True)
class ConfigValue:
    name: str
    value: str | None
    source: str  # e.g. DYNAMIC_TOPIC_CONFIG, STATIC_BROKER_CONFIG, DEFAULT_CONFIG
    is_default: bool
    is_sensitive: bool


def topic_configs(client: Any, topic: str, timeout: float) -> list[ConfigValue]:
    """Every config entry of a topic, as the broker describes it (sensitive values are never returned)."""
    return _configs(client, "TOPIC", topic, timeout)


def broker_configs(client: Any, broker_id: int, timeout: float) -> list[ConfigValue]:
    """Every config entry of a broker, as it describes itself (sensitive values are never returned)."""
    return _configs(client, "BROKER", str(broker_id), timeout)


def _configs(client: Any, kind: str, name: str, timeout: float) -> list[ConfigValue]:
    from confluent_kafka.admin import ConfigResource, ConfigSource, ResourceType

    resource = ConfigResource(ResourceType[kind], name)
    futures = client.describe_configs([resource], request_timeout=timeout)
    entries = _result(next(iter(futures.values())), timeout + 1.0)
    values = []
    for entry in entries.values():
        try:
            source = ConfigSource(entry.source).name
        except ValueError:
            source = str(entry.source)
        values.append(
            ConfigValue(
                name=entry.name,
                value=None if entry.is_sensitive else entry.value,
                source=source,
                is_default=bool(entry.is_default) or source == "DEFAULT_CONFIG",
                is_sensitive=bool(entry.is_sensitive),
            )
        )
    return sorted(values, key=lambda v: v.name)


def alter_topic_configs(client: Any, topic: str, set_: dict[str, str], delete: list[str], timeout: float, validate_only: bool) -> None:
    """Set and delete topic configs in one IncrementalAlterConfigs request; with ``validate_only`` the
    broker checks the change (names, values, policies) and applies nothing. A refusal raises
    BrokerRequestError (INVALID_CONFIG, POLICY_VIOLATION, ...)."""
    from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType

    entries = [ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET) for k, v in set_.items()]
    entries += [ConfigEntry(k, None, incremental_operation=AlterConfigOpType.DELETE) for k in delete]
    resource = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=entries)
    futures = client.incremental_alter_configs([resource], request_timeout=timeout, validate_only=validate_only)
    _result(next(iter(futures.values())), timeout + 1.0)


def create_partitions(client: Any, topic: str, total: int, timeout: float, validate_only: bool) -> None:
    """Grow ``topic`` to ``total`` partitions (CreatePartitions); ``validate_only`` checks without creating."""
    from confluent_kafka.admin import NewPartitions

    futures = client.create_partitions([NewPartitions(topic, total)], operation_timeout=timeout, request_timeout=timeout, validate_only=validate_only)
    _result(futures[topic], timeout + 1.0)
