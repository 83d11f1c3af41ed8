"""Shared bench helpers: a Kafka install, stacks on free ports, timing and results."""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "bench" / "results"


def kafka_home() -> Path:
    from kafkaops.procedures.install import install
    from kafkaops.settings import DEFAULT_KAFKA_VERSION

    explicit = os.environ.get("KAFKAOPS_TEST_KAFKA_HOME")
    if explicit:
        return Path(explicit)
    ops = Path(os.environ.get("KAFKAOPS_TEST_HOME", Path.home() / ".cache" / "kafkaops-test"))
    return install(dists_dir=ops / "kafka", data_dir=ops / "data", version=DEFAULT_KAFKA_VERSION).kafka_home


def summary(samples: list[float]) -> dict[str, float]:
    return {
        "n": len(samples),
        "median": round(statistics.median(samples), 3),
        "min": round(min(samples), 3),
        "max": round(max(samples), 3),
    }


def save(name: str, data: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    data = {"bench": name, "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **data}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2))
    return path


# What Kafka's kafka-run-class script gives a tool JVM (KAFKA_JVM_PERFORMANCE_OPTS and headless);
# each tool script adds its own heap (-Xmx256M by default, -Xmx512M for the console consumer).
KAFKA_TOOL_JVM_FLAGS = [
    "-server",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:MaxInlineLevel=15",
    "-Djava.awt.headless=true",
]


def kafkaops_command() -> list[str]:
    """kafkaops as an operator runs it: the installed console script when there is one."""
    script = Path(sys.executable).parent / "kafkaops"
    return [str(script)] if script.exists() else [sys.executable, "-m", "kafkaops"]


@contextmanager
def bench_broker(home: Path, tmp: Path) -> Iterator[tuple[dict[str, str], str]]:
    """(env, broker) for a benchmark: KAFKAOPS_BENCH_BROKER if set, else a stack started (and stopped
    afterwards) through kafkaops's own procedures on free ports under ``tmp``."""
    existing = os.environ.get("KAFKAOPS_BENCH_BROKER")
    if existing:
        yield {**os.environ, "KAFKA_BROKER": existing, "KAFKA_HOME": str(home)}, existing
        return
    from kafkaops.procedures import services
    from tests.conftest import make_stack, teardown_stack

    stack = make_stack(tmp / "stack", home)
    print(f"starting a stack on {stack.broker} ...", file=sys.stderr)
    try:
        services.up(stack.settings)
        yield dict(stack.env), stack.broker
    finally:
        teardown_stack(stack)


@contextmanager
def pipeline_stack(prefix: str) -> Iterator[tuple[object, str]]:
    """(stack, database URL): a broker and the embedded PostgreSQL started for a benchmark under a
    fresh folder in /var/tmp, with `db init --demo` done; everything stopped and removed afterwards."""
    import tempfile

    from kafkaops.adapters import embedded_pg
    from kafkaops.procedures import db, services
    from tests.conftest import make_stack

    root = Path(tempfile.mkdtemp(prefix=prefix, dir="/var/tmp"))
    stack = make_stack(root, kafka_home())
    stack.env["KAFKAOPS_EMBEDDED_DB"] = "auto"
    stack.env.pop("DATABASE_URL", None)
    try:
        services.up(stack.settings)
        embedded_pg.start(stack.settings)  # a no-op when `up` started it
        db.init(stack.settings, demo=True)
        yield stack, embedded_pg.database_url(stack.settings)
    finally:
        teardown_pipeline(stack, root)


def teardown_pipeline(stack: Any, root: Path) -> None:
    """Stop a benchmark's stack and its embedded PostgreSQL, then remove its folder."""
    import shutil

    from kafkaops.adapters import embedded_pg
    from tests.conftest import teardown_stack

    teardown_stack(stack)
    try:
        embedded_pg.stop(stack.settings)
    except Exception as exc:  # noqa: BLE001 - the folder is removed either way
        print(f"could not stop the embedded PostgreSQL: {exc}")
    shutil.rmtree(root, ignore_errors=True)
