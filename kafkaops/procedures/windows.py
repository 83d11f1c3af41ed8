"""Windows-only hazards that kafkaops warns about before acting.

A broker on Windows deletes and compacts segment files by renaming files it may still hold open;
Windows refuses that, the log dir fails and the broker stops (KAFKA-1194, runbook failures
windows-file-lock). Deleting a topic and a short retention both make the broker delete segments soon.
"""

from __future__ import annotations

import re
import sys

from kafkaops.adapters import network
from kafkaops.settings import Settings

RUNBOOK = "failures windows-file-lock"
SHORT_MS = 3_600_000  # retention.ms / segment.ms under an hour: segments are deleted (renamed) within the hour
_TIMED_KEYS = ("retention.ms", "segment.ms")
PLATFORM = sys.platform  # tests set it to "win32" to exercise the Windows branch on any machine


def broker_on_windows(settings: Settings, platform: str | None = None) -> bool:
    """Whether the configured broker runs on Windows: on this machine, this machine's platform; on
    another, whether its log.dirs (DescribeConfigs of the controller or first broker) is a Windows path
    (a drive letter). A broker that does not answer that question gets no warning."""
    host, _ = network.split_hostport(settings.kafka_broker, 9092)
    if network.is_local(host, timeout=0.5):
        return (platform or PLATFORM).startswith("win")
    return any(_WINDOWS_PATH.match(d.strip()) for d in (remote_log_dirs(settings) or "").split(","))


_WINDOWS_PATH = re.compile(r"^[A-Za-z]:[\\/]")


def remote_log_dirs(settings: Settings) -> str | None:
    """log.dirs (else log.dir) as a remote broker describes itself; None when it does not answer."""
    from kafkaops.adapters import kafka_configs
    from kafkaops.adapters.kafka import admin, metadata
    from kafkaops.errors import KafkaopsError

    try:
        client = admin(settings)
        md = metadata(settings, timeout=3.0, client=client)
        broker_id = md.controller_id if md.controller_id is not None else min((b.id for b in md.brokers), default=None)
        if broker_id is None:
            return None
        values = {c.name: c.value for c in kafka_configs.broker_configs(client, broker_id, 3.0)}
    except KafkaopsError:
        return None
    return values.get("log.dirs") or values.get("log.dir")


def short_retention(configs: dict[str, str]) -> list[str]:
    """The ``key=value`` pairs of ``configs`` that make the broker delete segments within the hour."""
    out = []
    for key in _TIMED_KEYS:
        value = configs.get(key)
        if value is not None and value.strip().lstrip("-").isdigit() and 0 <= int(value) < SHORT_MS:
            out.append(f"{key}={value}")
    return out


def delete_warning(settings: Settings, topic: str, platform: str | None = None) -> str | None:
    """The warning to show before deleting ``topic`` from a broker on Windows (else None)."""
    if not broker_on_windows(settings, platform):
        return None
    return (
        f"the broker runs on Windows: deleting {topic} renames its segment files, which Windows refuses while the broker "
        f"holds them open; the broker may then take its log dir offline and stop (KAFKA-1194). See: kafkaops runbook {RUNBOOK}"
    )


def retention_warning(settings: Settings, configs: dict[str, str], platform: str | None = None) -> str | None:
    """The warning to show before setting a short retention on a broker on Windows (else None)."""
    short = short_retention(configs)
    if not short or not broker_on_windows(settings, platform):
        return None
    return (
        f"the broker runs on Windows: {', '.join(short)} makes it delete segment files within the hour, which Windows may "
        f"refuse while they are open; the broker may then take its log dir offline and stop (KAFKA-1194). See: kafkaops runbook {RUNBOOK}"
    )
