"""Windows-only hazards that kafkaops warns about before acting.

A broker on Windows deletes and compacts segment files by renaming files it may still hold open;
Windows refuses that, the log dir fails and the broker stops (KAFKA-1194, runbook failures
windows-file-lock). Deleting a topic and a short retention both make the broker delete segments soon.
"""

from __future__ import annotations

import sys

from kafkaops.adapters import network
from kafkaops.settings import Settings

RUNBOOK = "failures windows-file-lock"
SHORT_MS = 3_600_000  # retention.ms / segment.ms under an hour: segments are deleted (renamed) within the hour
_TIMED_KEYS = ("retention.ms", "segment.ms")
PLATFORM = sys.platform  # tests set it to "win32" to exercise the Windows branch on any machine


def broker_on_windows(settings: Settings, platform: str | None = None) -> bool:
    """Whether the configured broker runs on this machine and this machine is Windows.

    A remote broker's operating system is not known from here: no warning for it.
    """
    if not (platform or PLATFORM).startswith("win"):
        return False
    host, _ = network.split_hostport(settings.kafka_broker, 9092)
    return network.is_local(host, timeout=0.5)


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
