"""Rows/s end to end through Kafka Connect + Debezium next to `kafkaops produce` in the same run, and the
hand-over pause.

    .venv/bin/python bench/bench_cdc.py --rows 10000

On one stack it starts itself on free ports (ZooKeeper, Kafka 3.9.2, the embedded PostgreSQL switched to
wal_level=logical before anything is timed, one Connect worker):

1. seed ``--rows`` rows; `kafkaops produce --envelope debezium` sends them to the pipeline's topic (timed: the
   first produce figure).
2. the hand-over, while a writer inserts one row per transaction as fast as it can: the wall time of
   `kafkaops cdc deploy --from-producer` (producer lock, slot, the gap sent, connector RUNNING), and the pause
   as the application sees it: for the rows inserted while it ran, the time from the row's created_at to its
   event's ts_ms (when kafkaops read it for the hand-over, or when Debezium processed it), median and max.
3. once Debezium has caught up with the writer: seed ``--rows`` more rows in one statement; Connect: from the
   commit until the pipeline topic's end offset holds them all. Baseline, same rows, same run: `kafkaops produce
   --envelope debezium --topic <own>` as a fresh process (its start-up included) sending those rows to its own
   topic (the rows before them go to that topic first, untimed).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from common import ROOT, kafka_home, save

sys.path.insert(0, str(ROOT))

from kafkaops.adapters import embedded_pg  # noqa: E402
from kafkaops.procedures.connect.install import install_connect  # noqa: E402
from kafkaops.settings import DEFAULT_KAFKA_VERSION  # noqa: E402
from tests.conftest import free_port, make_stack, teardown_stack  # noqa: E402


def kafkaops(env: dict[str, str], root: Path, *args: str) -> float:
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "kafkaops", *args], env=env, cwd=root, capture_output=True, text=True, timeout=900)
    if res.returncode != 0:
        raise SystemExit(f"kafkaops {' '.join(args)} failed ({res.returncode}): {res.stderr[-2000:]}")
    return time.perf_counter() - t0


def end_offset(broker: str, topic: str) -> int:
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": broker, "group.id": "bench-" + uuid.uuid4().hex})
    try:
        return int(c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)[1])
    finally:
        c.close()


def wait_for_offset(broker: str, topic: str, at_least: int, timeout: float = 600.0) -> float:
    """Seconds until the topic's end offset reaches ``at_least`` (polled every 50 ms)."""
    t0 = time.perf_counter()
    while end_offset(broker, topic) < at_least:
        if time.perf_counter() - t0 > timeout:
            raise SystemExit(f"{topic} did not reach offset {at_least} in {timeout:g}s")
        time.sleep(0.05)
    return time.perf_counter() - t0


class Writer(threading.Thread):
    """The application: one INSERT per transaction until stopped; ``ids`` are the rows it inserted while ``marking``."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.stop, self.marking, self.done = url, threading.Event(), threading.Event(), 0
        self.ids: list[int] = []

    def run(self) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.stop.is_set():
                row = conn.execute("INSERT INTO livedb (name, amount) VALUES ('writer', 1.5) RETURNING id").fetchone()
                self.done += 1
                if self.marking.is_set() and row is not None:
                    self.ids.append(int(row[0]))


def waits(broker: str, topic: str, ids: set[int]) -> list[float]:
    """Seconds from each row's created_at to its event's ts_ms, for the rows ``ids``."""
    from confluent_kafka import Consumer

    c = Consumer({"bootstrap.servers": broker, "group.id": "bench-" + uuid.uuid4().hex, "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe([topic])
    found: dict[int, float] = {}
    deadline = time.monotonic() + 120
    try:
        while len(found) < len(ids) and time.monotonic() < deadline:
            for msg in c.consume(1000, 1.0):
                if msg.error() is not None or msg.value() is None:
                    continue
                v: dict[str, Any] = json.loads(msg.value())
                after = v.get("after") or {}
                if v.get("op") in ("c", "r") and int(after.get("id", 0)) in ids:
                    created = datetime.fromisoformat(after["created_at"]).timestamp()
                    found[int(after["id"])] = v["ts_ms"] / 1000 - created
    finally:
        c.close()
    if len(found) < len(ids):
        raise SystemExit(f"{len(ids) - len(found)} of the rows inserted during the hand-over are not in {topic}")
    return list(found.values())


def logical(settings: Any) -> None:
    import psycopg

    with psycopg.connect(embedded_pg.database_url(settings), autocommit=True) as conn:
        conn.execute("ALTER SYSTEM SET wal_level = logical")
    embedded_pg.stop(settings)
    embedded_pg.start(settings)


def run(args: argparse.Namespace, stack: Any, env: dict[str, str], root: Path, topic: str, own: str) -> dict[str, Any]:
    n = args.rows
    kafkaops(env, root, "up")
    kafkaops(env, root, "topics", "create", own, "--partitions", "1", "--replication-factor", "1")
    kafkaops(env, root, "db", "init", "--demo")
    settings = stack.settings.with_overrides(embedded_db=True, kafka_topic=topic)
    logical(settings)
    kafkaops(env, root, "connect", "up", "--port", str(free_port()))
    kafkaops(env, root, "db", "seed", str(n))
    first = kafkaops(env, root, "produce", "--envelope", "debezium")
    writer = Writer(embedded_pg.database_url(settings))
    writer.start()
    writer.marking.set()
    pause = kafkaops(env, root, "cdc", "deploy", "--from-producer")
    writer.marking.clear()
    writer.stop.set()
    writer.join(30)
    during = waits(stack.broker, topic, set(writer.ids))
    wait_for_offset(stack.broker, topic, n + writer.done)  # Debezium has caught up with the writer
    kafkaops(env, root, "db", "seed", str(n))
    through_connect = wait_for_offset(stack.broker, topic, 2 * n + writer.done)
    kafkaops(env, root, "produce", "--envelope", "debezium", "--topic", own, "--max-rows", str(n + writer.done))  # the rows before: untimed
    produce_same = kafkaops(env, root, "produce", "--envelope", "debezium", "--topic", own)
    return {
        "rows": n,
        "produce_first_rows_per_s": round(n / first),
        "handover_deploy_s": round(pause, 2),
        "handover_rows_inserted_meanwhile": len(during),
        "handover_wait_median_s": round(statistics.median(during), 2),
        "handover_wait_max_s": round(max(during), 2),
        "connect_rows_per_s": round(n / through_connect),
        "connect_s": round(through_connect, 2),
        "produce_same_rows_per_s": round(n / produce_same),
        "produce_same_s": round(produce_same, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10000)
    args = ap.parse_args()
    connect_home = install_connect(Path.home() / ".cache" / "kafkaops-test" / "connect" / DEFAULT_KAFKA_VERSION, DEFAULT_KAFKA_VERSION).home
    root = Path(tempfile.mkdtemp(prefix="bench-cdc-"))
    stack = make_stack(root, kafka_home())
    topic, own = "bench-cdc-" + uuid.uuid4().hex[:6], "bench-produce-" + uuid.uuid4().hex[:6]
    env = {**stack.env, "KAFKAOPS_EMBEDDED_DB": "auto", "KAFKAOPS_EMBEDDED_DB_PORT": str(free_port()), "KAFKAOPS_CONNECT_HOME": str(connect_home)}
    env["KAFKA_TOPIC"] = topic
    try:
        result = run(args, stack, env, root, topic, own)
        print(result)
        save("cdc", result)
    finally:
        subprocess.run([sys.executable, "-m", "kafkaops", "connect", "down", "--force"], env=env, cwd=root, capture_output=True, timeout=120)
        teardown_stack(stack)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
