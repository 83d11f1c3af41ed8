"""Messages per second of `kafkaops consume` against the JVM console consumer, same topic, same run.

N small JSON messages (default 1,000,000) are read to /dev/null, start-up included, by:

* kafkaops: `kafkaops consume T --from-beginning --exit-at-end --format json > /dev/null`
  (JSON lines with topic, partition, offset, timestamp, key, headers and the value);
* the JVM: what Kafka 3.9's `kafka-console-consumer` script runs: kafka-run-class's tool JVM flags,
  the script's -Xmx512M, main class org.apache.kafka.tools.consumer.ConsoleConsumer from the same
  KAFKA_HOME, with `--from-beginning --max-messages N` (its default output: the values, one per line),
  logging through kafkaops's own log4j config (procedures/layout.py) into a file, not the terminal.

Each tool runs as a fresh process, alternating, after one warm-up run each (which also warms the
broker's page cache); the median of --runs is reported.

    .venv/bin/python bench/bench_consume.py [--messages 1000000] [--runs 3]

By default a stack is started through kafkaops's own procedures on free ports (and stopped after).
To use a running broker instead: KAFKAOPS_BENCH_BROKER=host:port (and KAFKA_HOME for the JVM tool).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

from common import KAFKA_TOOL_JVM_FLAGS, ROOT, bench_broker, kafka_home, kafkaops_command, save, summary

sys.path.insert(0, str(ROOT))

from kafkaops.adapters.java import find_java  # noqa: E402
from kafkaops.procedures.layout import ensure_log4j  # noqa: E402

# kafka-run-class's defaults for a tool, and the -Xmx512M kafka-console-consumer.sh sets
JVM_OPTS = ["-Xmx512M", *KAFKA_TOOL_JVM_FLAGS]
CONSOLE_CONSUMER = "org.apache.kafka.tools.consumer.ConsoleConsumer"


def fill(broker: str, topic: str, n: int) -> None:
    """A one-partition topic with n small JSON messages, keyed by id (like the pipeline's rows)."""
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": broker})
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(timeout=60)
    p = Producer({"bootstrap.servers": broker, "linger.ms": 50, "batch.num.messages": 10000, "queue.buffering.max.messages": 500000})
    t0 = time.perf_counter()
    for i in range(n):
        value = b'{"id": %d, "event": "insert", "name": "row-%d", "amount": %d.5}' % (i, i, i % 1000)
        while True:
            try:
                p.produce(topic, value, key=b"%d" % i)
                break
            except BufferError:
                p.poll(0.05)
    left = p.flush(120)
    if left:
        raise SystemExit(f"{left} messages were not delivered")
    print(f"filled {topic} with {n} messages in {time.perf_counter() - t0:.1f}s", file=sys.stderr)


def run(cmd: list[str], env: dict[str, str], expect: str) -> float:
    with open(os.devnull, "wb") as devnull:
        t0 = time.perf_counter()
        res = subprocess.run(cmd, env=env, stdout=devnull, stderr=subprocess.PIPE, text=True, timeout=1800)
        elapsed = time.perf_counter() - t0
    if res.returncode != 0 or expect not in res.stderr:
        raise SystemExit(f"{cmd[0]} failed ({res.returncode}), expected {expect!r} in:\n{res.stderr[-3000:]}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", "-n", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    n = args.messages

    home = Path(os.environ["KAFKA_HOME"]) if os.environ.get("KAFKA_HOME") else kafka_home()
    tmp = Path(tempfile.mkdtemp(prefix="bench-consume-"))
    cleanup = ExitStack()
    try:
        env, broker = cleanup.enter_context(bench_broker(home, tmp))
        java = find_java(os.environ.get("KAFKAOPS_JAVA") or "java").path
        log4j = ensure_log4j(tmp / "log4j.properties")
        topic = f"bench-consume-{uuid.uuid4().hex[:8]}"
        fill(broker, topic, n)

        ours = [*kafkaops_command(), "consume", topic, "--from-beginning", "--exit-at-end", "--format", "json"]
        jvm = [
            str(java),
            *JVM_OPTS,
            f"-Dlog4j.configuration=file:{log4j}",
            f"-Dkafka.logs.dir={tmp / 'jvm-logs'}",
            "-cp",
            f"{home / 'libs'}/*",
            CONSOLE_CONSUMER,
            "--bootstrap-server",
            broker,
            "--topic",
            topic,
            "--from-beginning",
            "--max-messages",
            str(n),
        ]
        ours_expect, jvm_expect = f"Consumed {n} messages", f"Processed a total of {n} messages"
        run(ours, env, ours_expect)  # warm-up (and the page cache)
        run(jvm, env, jvm_expect)
        times: dict[str, list[float]] = {"kafkaops": [], "jvm": []}
        for i in range(args.runs):
            order = [("kafkaops", ours, ours_expect), ("jvm", jvm, jvm_expect)]
            for name, cmd, expect in order if i % 2 == 0 else order[::-1]:
                times[name].append(run(cmd, env, expect))
                print(f"run {i + 1} {name}: {times[name][-1]:.2f}s ({n / times[name][-1]:,.0f} msg/s)", file=sys.stderr)

        ks, js = summary(times["kafkaops"]), summary(times["jvm"])
        k_rate, j_rate = n / ks["median"], n / js["median"]
        result = {
            "messages": n,
            "runs": args.runs,
            "kafkaops_seconds": ks,
            "jvm_seconds": js,
            "kafkaops_msgs_per_s": round(k_rate),
            "jvm_msgs_per_s": round(j_rate),
            "ratio_kafkaops_over_jvm": round(k_rate / j_rate, 2),
            "cpus": os.cpu_count(),
            "load_average_at_end": os.getloadavg(),
        }
        path = save(f"consume-{n}", result)
        print(json.dumps(result, indent=2))
        print(f"saved {path}", file=sys.stderr)
    finally:
        cleanup.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
