"""Rows/s end to end through Kafka Connect + Debezium next to `kafkaops produce` in the same run, and the
hand-over pause.

    .venv/bin/python bench/bench_cdc.py --rows 100000

On one stack it starts itself on free ports (ZooKeeper, Kafka 3.9.2, the embedded PostgreSQL switched to
wal_level=logical before anything is timed, one Connect worker):

1. seed ``--rows`` rows; `kafkaops produce --envelope debezium` sends them to the pipeline's topic.
2. hand-over pause: the wall time of `kafkaops cdc deploy --from-producer` (producer lock taken, slot made,
   the gap sent, connector RUNNING): no event of the pipeline is sent by anyone meanwhile.
3. seed ``--rows`` more rows in one statement; Connect: from the commit until the pipeline topic's end
   offset holds them all. Baseline, same rows, same run: `kafkaops produce --envelope debezium --topic <own>`
   as a fresh process (its start-up included) sending those rows to its own topic.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100000)
    args = ap.parse_args()
    connect_home = install_connect(Path.home() / ".cache" / "kafkaops-test" / "connect" / DEFAULT_KAFKA_VERSION, DEFAULT_KAFKA_VERSION).home
    root = Path(tempfile.mkdtemp(prefix="bench-cdc-"))
    stack = make_stack(root, kafka_home())
    topic, own = "bench-cdc-" + uuid.uuid4().hex[:6], "bench-produce-" + uuid.uuid4().hex[:6]
    env = {**stack.env, "KAFKAOPS_EMBEDDED_DB": "auto", "KAFKAOPS_EMBEDDED_DB_PORT": str(free_port()), "KAFKAOPS_CONNECT_HOME": str(connect_home)}
    env["KAFKA_TOPIC"] = topic
    try:
        kafkaops(env, root, "up")
        kafkaops(env, root, "topics", "create", own, "--partitions", "1", "--replication-factor", "1")
        kafkaops(env, root, "db", "init", "--demo")
        settings = stack.settings.with_overrides(embedded_db=True, kafka_topic=topic)
        import psycopg

        with psycopg.connect(embedded_pg.database_url(settings), autocommit=True) as conn:
            conn.execute("ALTER SYSTEM SET wal_level = logical")
        embedded_pg.stop(settings)
        embedded_pg.start(settings)
        kafkaops(env, root, "connect", "up", "--port", str(free_port()))
        kafkaops(env, root, "db", "seed", str(args.rows))
        first = kafkaops(env, root, "produce", "--envelope", "debezium")
        pause = kafkaops(env, root, "cdc", "deploy", "--from-producer")
        kafkaops(env, root, "db", "seed", str(args.rows))
        t0 = time.perf_counter()
        while end_offset(stack.broker, topic) < 2 * args.rows:
            time.sleep(0.05)
        through_connect = time.perf_counter() - t0
        kafkaops(env, root, "produce", "--envelope", "debezium", "--topic", own, "--max-rows", str(args.rows))  # rows 1..N: warms nothing up for the timed run
        produce_same = kafkaops(env, root, "produce", "--envelope", "debezium", "--topic", own)
        result = {
            "rows": args.rows,
            "produce_first_rows_per_s": round(args.rows / first),
            "handover_pause_s": round(pause, 2),
            "connect_rows_per_s": round(args.rows / through_connect),
            "connect_s": round(through_connect, 2),
            "produce_same_rows_per_s": round(args.rows / produce_same),
            "produce_same_s": round(produce_same, 2),
        }
        print(result)
        save("cdc", result)
    finally:
        subprocess.run([sys.executable, "-m", "kafkaops", "connect", "down", "--force"], env=env, cwd=root, capture_output=True, timeout=120)
        teardown_stack(stack)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
