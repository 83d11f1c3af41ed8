"""Reading the service logs kafkaops writes (KAFKAOPS_HOME/logs/<service>/server.log)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path

from kafkaops.errors import KafkaopsError
from kafkaops.procedures.services import log_path
from kafkaops.settings import Settings


def log_file(settings: Settings, service: str) -> Path:
    path = log_path(settings, service)
    if not path.exists():
        raise KafkaopsError(f"no log yet for {service} at {path}", hint="the log appears once `kafkaops up` has started it")
    return path


def log_service(settings: Settings, service: str) -> str:
    """Whose log to show: in KRaft mode a combined node's controller logs into kafka's; ZooKeeper has none there."""
    from kafkaops.errors import UsageError
    from kafkaops.procedures.services import CONTROLLER, KAFKA, ZOOKEEPER, controller_properties

    if service == CONTROLLER and not (settings.kraft and controller_properties(settings).is_file()):
        if not settings.kraft:
            raise UsageError("there is no controller process in ZooKeeper mode", hint="use kafkaops logs kafka (the controller runs inside a broker)")
        return KAFKA  # combined node: one process, one log
    if service == ZOOKEEPER and settings.kraft:
        raise UsageError("there is no ZooKeeper in KRaft mode", hint="use kafkaops logs kafka or kafkaops logs controller")
    return service


def last_lines(path: Path, n: int) -> list[str]:
    if n == 0:
        return []
    with open(path, encoding="utf-8", errors="replace") as fh:
        return [line.rstrip("\n") for line in deque(fh, maxlen=n)]


def follow(path: Path, poll: float = 0.25) -> Iterator[str]:
    """New lines as they are written; reopens the file when it is rolled over."""
    fh = open(path, encoding="utf-8", errors="replace")
    fh.seek(0, 2)
    try:
        while True:
            line = fh.readline()
            if line:
                yield line.rstrip("\n")
                continue
            try:
                if path.stat().st_size < fh.tell():
                    fh.close()
                    fh = open(path, encoding="utf-8", errors="replace")
            except FileNotFoundError:
                pass
            time.sleep(poll)
    finally:
        fh.close()
