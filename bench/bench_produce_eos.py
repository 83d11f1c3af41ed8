"""Exactly-once against at-least-once: `kafkaops produce --exactly-once` and `kafkaops produce` on the
same backlog, interleaved in the same run.

    .venv/bin/python bench/bench_produce_eos.py --rows 1000000 [--repeat 3] [--partitions 1]
    .venv/bin/python bench/bench_produce_eos.py --kills 10 --rows 100000   # duplicates after SIGKILLs

Each round runs both as fresh processes (start-up included), each on its own new topic (so each is a
new pipeline starting at 0), in alternating order so that both see the same load. Reported: rows/s of
each, per round and best of each, and exactly-once / at-least-once (target >= 0.7x). Every run must
reach the end (offset == rows); the exactly-once topic is then read with a read_committed consumer
and must hold every row once.

With ``--kills N`` it measures duplicates instead of speed: each mode gets its own database (2
partitions, --batch-size 1000), is SIGKILLed N times at random moments mid-backlog (the loop of
tests/integration/test_produce_exactly_once.py), then run to the end; reported: rows a read_committed
consumer sees more than once (and, for exactly-once, the aborted events a read_uncommitted one sees).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench_produce import kafkaops_command, run_child
from common import ROOT, kafka_home, save

sys.path.insert(0, str(ROOT))

from kafkaops.procedures import db, services, topics  # noqa: E402
from tests.conftest import make_stack, teardown_stack  # noqa: E402


def count_committed(settings, topic: str) -> tuple[int, int]:  # noqa: ANN001
    """(events, distinct row ids) a read_committed consumer finds in ``topic``."""
    from confluent_kafka import Consumer, KafkaError, TopicPartition

    from kafkaops.adapters.kafka import client_config

    conf = {"group.id": "bench-" + uuid.uuid4().hex, "enable.auto.commit": False, "isolation.level": "read_committed", "enable.partition.eof": True}
    c = Consumer(client_config(settings, **conf))
    parts = sorted(c.list_topics(topic, timeout=10).topics[topic].partitions)
    c.assign([TopicPartition(topic, p, 0) for p in parts])
    left, n, ids = set(parts), 0, set()
    while left:
        for m in c.consume(10000, timeout=1.0):
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    left.discard(m.partition())
                continue
            n += 1
            ids.add(json.loads(m.value())["after"]["id"])
    c.close()
    return n, len(ids)


def one_run(settings, stack, root: Path, rows: int, partitions: int, extra: list[str]) -> dict[str, float]:  # noqa: ANN001
    topic = "bench-" + uuid.uuid4().hex[:8]
    topics.ensure_topic(settings, topic, partitions, 1)
    wall, peak, code, _out, err, cpu = run_child([*kafkaops_command(), "produce", "--topic", topic, *extra], stack.env, root)
    if code != 0 or f"Sent {rows} events" not in err:
        raise SystemExit(f"kafkaops produce {' '.join(extra)} failed ({code}): {err[-2000:]}")
    st = db.status(settings, topic=topic)
    assert st.last_id == rows, st
    return {"topic": topic, "seconds": round(wall, 2), "rows_per_s": round(rows / wall), "peak_rss_mb": round(peak, 1), "cpu_s": round(cpu, 2)}  # type: ignore[dict-item]


def kill_comparison(stack, root: Path, rows: int, kills: int) -> dict[str, object]:  # noqa: ANN001
    """Duplicates after ``kills`` SIGKILLs, at-least-once and exactly-once, each in a fresh database."""
    import random

    import psycopg

    from kafkaops.adapters.embedded_pg import database_url
    from tests.integration.test_produce_exactly_once import _kill_repeatedly, row_ids
    from tests.pg_fixtures import Pipeline

    out: dict[str, object] = {}
    settings = stack.settings
    admin = database_url(settings)
    for mode, extra in (("at_least_once", []), ("exactly_once", ["--exactly-once"])):
        name = "bench_" + uuid.uuid4().hex[:8]
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = admin.rsplit("/", 1)[0] + "/" + name
        topic = "bench-" + uuid.uuid4().hex[:8]
        topics.ensure_topic(settings, topic, 2, 1)
        p = Pipeline({**stack.env, "DATABASE_URL": url, "KAFKA_TOPIC": topic}, root, topic, url)
        db.init(p.settings, demo=True)
        db.seed(p.settings, rows)
        seed = random.randrange(1 << 30)
        args = [*extra, "--batch-size", "1000"]
        killed_at = _kill_repeatedly(p, rows, kills, random.Random(seed), *args)
        proc = run_child([*kafkaops_command(), "produce", *args], p.env, root)
        assert proc[2] == 0, proc[4]
        seen = row_ids(p.settings, topic, "read_committed")
        assert sorted(seen) == list(range(1, rows + 1)), f"{mode}: rows missing"
        dups = sum(n - 1 for n in seen.values())
        aborted = sum(row_ids(p.settings, topic, "read_uncommitted").values()) - rows - dups
        out[mode] = {"seed": seed, "killed_at": killed_at, "duplicates_read_committed": dups, "aborted_events_read_uncommitted": aborted}
        print(f"{mode:>14}: killed at {killed_at}; {dups:,} duplicates (read_committed), {aborted:,} aborted events (read_uncommitted only)", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="rounds; each runs both, in alternating order")
    parser.add_argument("--partitions", type=int, default=1)
    parser.add_argument("--kills", type=int, default=0, help="measure duplicates after this many SIGKILLs instead of speed")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="kafkaops-bench-eos-", dir="/var/tmp"))
    stack = make_stack(root, kafka_home())
    stack.env["KAFKAOPS_EMBEDDED_DB"] = "auto"
    stack.env.pop("DATABASE_URL", None)
    runs: dict[str, list[dict[str, float]]] = {"at_least_once": [], "exactly_once": []}
    try:
        settings = stack.settings
        services.up(settings)
        from kafkaops.adapters import embedded_pg

        embedded_pg.start(settings)
        if args.kills:
            result = kill_comparison(stack, root, args.rows, args.kills)
            print(f"saved {save(f'produce-eos-kills-{args.rows}', {'rows': args.rows, 'kills': args.kills, **result})}")
            return
        db.init(settings, demo=True)
        t0 = time.perf_counter()
        db.seed(settings, args.rows)
        print(f"seeded {args.rows:,} rows in {time.perf_counter() - t0:.1f}s", flush=True)
        for i in range(args.repeat):
            order = ("at_least_once", "exactly_once") if i % 2 == 0 else ("exactly_once", "at_least_once")
            for mode in order:
                run = one_run(settings, stack, root, args.rows, args.partitions, ["--exactly-once"] if mode == "exactly_once" else [])
                runs[mode].append(run)
                print(
                    f"{mode:>14} round {i + 1}: {run['rows_per_s']:>9,} rows/s ({run['seconds']}s, CPU {run['cpu_s']}s, peak RSS {run['peak_rss_mb']:.0f} MB)",
                    flush=True,
                )
            a, e = runs["at_least_once"][-1]["rows_per_s"], runs["exactly_once"][-1]["rows_per_s"]
            print(f"         round {i + 1}: exactly-once / at-least-once = {e / a:.2f}x", flush=True)
        events, distinct = count_committed(settings, str(runs["exactly_once"][-1]["topic"]))
        print(f"last exactly-once topic, read_committed: {events:,} events, {distinct:,} distinct rows", flush=True)
        assert events == distinct == args.rows
    finally:
        teardown_stack(stack)
        shutil.rmtree(root, ignore_errors=True)

    best_a = max(r["rows_per_s"] for r in runs["at_least_once"])
    best_e = max(r["rows_per_s"] for r in runs["exactly_once"])
    ratio = best_e / best_a
    print(
        f"\nexactly-once vs at-least-once (best of {args.repeat} each): {best_e:,} vs {best_a:,} rows/s = {ratio:.2f}x (target >= 0.7x) {'OK' if ratio >= 0.7 else 'MISSED'}"
    )
    print(f"saved {save(f'produce-eos-{args.rows}', {'rows': args.rows, 'partitions': args.partitions, **runs, 'ratio': round(ratio, 2)})}")


if __name__ == "__main__":
    main()
