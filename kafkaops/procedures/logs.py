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
