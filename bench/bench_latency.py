"""Live latency of `produce --follow`: commit-to-readable delay under a load of many writers, some
rolling back and some holding their transaction open for seconds, for the live position (new)
against the old settle gate (baseline), both following the same table at the same time.

    .venv/bin/python bench/bench_latency.py [--seconds 30] [--connections 48] [--rate 1000]
                                            [--hold-fraction 0.05] [--rollback-fraction 0.05] [--hold 0.5:7]

- load: ``--connections`` threads, each with its own connection, insert one row per transaction at
  ``--rate`` transactions/s in all; a share rolls back, a share holds its transaction open for a
  random time in ``--hold`` seconds before committing. Each committed row's commit time is taken
  right after COMMIT returns.
- two producers (fresh processes) follow livedb, each warmed up by one row before the load starts, into two fresh topics: ``live`` (kafkaops's
  default: rows above open transactions go at once) and ``gate`` (ProduceOptions(live=False): each
  round waits at the settle gate for every writer, as before issue 16).
- each topic stamps its messages with the broker's append time (``message.timestamp.type=
  LogAppendTime``): when a row became readable, whatever the consumer's scheduling; the delay is
  that minus the commit time (taken in the writer right after COMMIT returns), reported as p50/p99/max over rows whose own transaction was short (held rows separately),
  with rows lost or duplicated counted. Target: live p99 < 200 ms.

Same machine clock for commit and read times. The broker and PostgreSQL are started for the bench.
"""

from __future__ import annotations

import argparse
import random
import signal
import statistics
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from typing import Any

from common import ROOT, pipeline_stack, save

sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from confluent_kafka import Consumer, TopicPartition  # noqa: E402

PRODUCER = textwrap.dedent(
    """
    import os, signal, sys, threading
    from pathlib import Path
    from kafkaops.settings import load_settings
    from kafkaops.procedures.produce import ProduceOptions, produce
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    topic, live = sys.argv[1], sys.argv[2] == "live"
    produce(load_settings(env=dict(os.environ), cwd=Path.cwd()), ProduceOptions(topic=topic, follow=True, live=live, interval=1.0), None, stop)
    """
)


class Load:
    """The writers: commit times of the rows that committed, and which were held open."""

    def __init__(self, url: str, args: argparse.Namespace) -> None:
        self.url, self.args = url, args
        self.committed: dict[int, float] = {}
        self.held: set[int] = set()
        self.stop = threading.Event()
        lo, _, hi = args.hold.partition(":")
        self.hold = (float(lo), float(hi))

    def worker(self, seed: int) -> None:
        rnd = random.Random(seed)
        period = self.args.connections / self.args.rate
        with psycopg.connect(self.url) as conn:
            nxt = time.monotonic() + rnd.random() * period
            while not self.stop.is_set():
                time.sleep(max(0.0, nxt - time.monotonic()))
                nxt += period
                row_id = conn.execute("INSERT INTO livedb (name, amount) VALUES ('load', 1) RETURNING id").fetchone()[0]
                r = rnd.random()
                if r < self.args.rollback_fraction:
                    conn.rollback()
                    continue
                held = r < self.args.rollback_fraction + self.args.hold_fraction
                if held:
                    time.sleep(rnd.uniform(*self.hold))
                    nxt = time.monotonic() + period
                conn.commit()
                self.committed[row_id] = time.time()
                if held:
                    self.held.add(row_id)

    def long(self) -> None:
        """One insert transaction held open for --long seconds."""
        with psycopg.connect(self.url) as conn:
            row_id = conn.execute("INSERT INTO livedb (name, amount) VALUES ('long', 1) RETURNING id").fetchone()[0]
            self.stop.wait(self.args.long)
            conn.commit()
            self.committed[row_id] = time.time()
            self.held.add(row_id)


def read(broker: str, topic: str, seen: dict[int, list[float]], stop: threading.Event) -> None:
    consumer = Consumer({"bootstrap.servers": broker, "group.id": "bench-" + uuid.uuid4().hex, "enable.auto.commit": False, "fetch.wait.max.ms": 50})
    consumer.assign([TopicPartition(topic, 0, 0)])
    try:
        while not stop.is_set():
            for m in consumer.consume(1000, 0.1):
                if m.error() is None:  # LogAppendTime: when the broker appended it (readable from then on)
                    seen.setdefault(int(m.key()), []).append(m.timestamp()[1] / 1000)
    finally:
        consumer.close()


def _topic(broker: str, name: str) -> None:
    """A topic whose messages carry the broker's append time (LogAppendTime)."""
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": broker})
    admin.create_topics([NewTopic(name, 1, 1, config={"message.timestamp.type": "LogAppendTime"})])[name].result(30)
    deadline = time.monotonic() + 30  # until it has a leader
    while admin.list_topics(name, timeout=5).topics[name].partitions.get(0) is None or admin.list_topics(name, timeout=5).topics[name].partitions[0].leader < 0:
        assert time.monotonic() < deadline, f"topic {name} has no leader"
        time.sleep(0.1)


def report(name: str, load: Load, seen: dict[int, list[float]]) -> dict[str, object]:
    def pct(xs: list[float], q: float) -> float:
        return round(sorted(xs)[min(len(xs) - 1, int(q * len(xs)))] * 1000, 1) if xs else float("nan")

    short = [seen[i][0] - t for i, t in load.committed.items() if i in seen and i not in load.held]
    held = [seen[i][0] - t for i, t in load.committed.items() if i in seen and i in load.held]
    out = {
        "committed": len(load.committed),
        "lost": sum(1 for i in load.committed if i not in seen),
        "duplicated": sum(1 for v in seen.values() if len(v) > 1),
        "short_ms": {"n": len(short), "p50": pct(short, 0.5), "p99": pct(short, 0.99), "max": pct(short, 1.0)},
        "held_ms": {"n": len(held), "p50": pct(held, 0.5), "max": pct(held, 1.0)},
        "mean_short_ms": round(statistics.fmean(short) * 1000, 1) if short else None,
    }
    s = out["short_ms"]
    print(
        f"{name:>5}: short transactions: p50 {s['p50']} ms, p99 {s['p99']} ms, max {s['max']} ms (n={s['n']}); lost {out['lost']}, duplicated {out['duplicated']}",
        flush=True,
    )  # type: ignore[index]
    return out


def _run(stack: Any, url: str, args: argparse.Namespace, procs: list[subprocess.Popen[bytes]]) -> dict[str, object]:
    """Both producers following livedb while the load runs; the report of each."""
    names = {kind: "bench-" + kind + "-" + uuid.uuid4().hex[:6] for kind in args.producers.split(",")}
    seen: dict[str, dict[int, list[float]]] = {kind: {} for kind in names}
    stop_read = threading.Event()
    readers = []
    for kind, topic in names.items():
        _topic(stack.broker, topic)
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", PRODUCER, topic, kind],
                env={**stack.env, "PYTHONPATH": str(ROOT)},
                cwd=stack.root,
            )
        )
        readers.append(threading.Thread(target=read, args=(stack.broker, topic, seen[kind], stop_read), daemon=True))
    for t in readers:
        t.start()
    with psycopg.connect(url, autocommit=True) as conn:  # warm-up: both producers sent a first row (Kafka connection, producer id)
        conn.execute("INSERT INTO livedb (name, amount) VALUES ('warm-up', 0)")
        deadline = time.monotonic() + 60
        while not all(seen.values()):
            assert time.monotonic() < deadline, "the producers did not start"
            time.sleep(0.1)
    load = Load(url, args)
    writers = [threading.Thread(target=load.worker, args=(i,), daemon=True) for i in range(args.connections)]
    if args.long:
        writers.append(threading.Thread(target=load.long, daemon=True))
    print(f"load: {args.connections} connections, {args.rate:g} tx/s, {args.seconds:g}s ...", flush=True)
    for t in writers:
        t.start()
    time.sleep(args.seconds)
    load.stop.set()
    for t in writers:
        t.join(30)
    deadline = time.monotonic() + 60  # let both catch up: every committed row read (or give up)
    while time.monotonic() < deadline and any(len(seen[k]) < len(load.committed) for k in names):
        time.sleep(0.2)
    stop_read.set()
    for t in readers:
        t.join(10)
    return {kind: report(kind, load, seen[kind]) for kind in names}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="how long the load runs")
    parser.add_argument("--connections", type=int, default=48, help="writer connections")
    parser.add_argument("--rate", type=float, default=1000.0, help="transactions per second, all writers together")
    parser.add_argument("--rollback-fraction", type=float, default=0.05)
    parser.add_argument("--hold-fraction", type=float, default=0.05, help="share of transactions held open before they commit")
    parser.add_argument("--hold", default="0.5:7", help="seconds a held transaction stays open (uniform, lo:hi)")
    parser.add_argument("--producers", default="live,gate", help="which producers follow the table at the same time: live, gate or both")
    parser.add_argument("--long", type=float, default=0.0, help="also one insert transaction held open this many seconds from the start (0: none)")
    args = parser.parse_args()

    procs: list[subprocess.Popen[bytes]] = []
    results: dict[str, object] = {"args": vars(args)}
    with pipeline_stack("kafkaops-bench-latency-") as (stack, url):
        try:
            results.update(_run(stack, url, args, procs))
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
    print(f"saved {save('latency', results)}")


if __name__ == "__main__":
    main()
