"""Wall time of `kafkaops topics list` against the JVM `kafka-topics --list`, same broker, same run.

The JVM side is what Kafka 3.9's `kafka-topics` script runs: `kafka-run-class` with its default tool
heap and performance flags, main class org.apache.kafka.tools.TopicCommand, from the same KAFKA_HOME.
Each tool runs as a fresh process (as an operator runs it), alternating, after one warm-up run each.

    .venv/bin/python bench/bench_topics.py [--runs 10] [--topics 20]

By default a stack is started through kafkaops's own procedures on free ports (and stopped after).
To use a running broker instead: KAFKAOPS_BENCH_BROKER=host:port (and KAFKA_HOME for the JVM tool).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from common import KAFKA_TOOL_JVM_FLAGS, ROOT, bench_broker, kafka_home, kafkaops_command, save, summary

sys.path.insert(0, str(ROOT))

from kafkaops.adapters.java import find_java  # noqa: E402
from kafkaops.procedures import topics as topics_proc  # noqa: E402

# kafka-run-class's defaults for a tool (KAFKA_HEAP_OPTS, KAFKA_JVM_PERFORMANCE_OPTS, headless)
JVM_TOOL_OPTS = ["-Xmx256M", *KAFKA_TOOL_JVM_FLAGS]
TOOLS_LOG4J = (
    "log4j.rootLogger=WARN, stderr\nlog4j.appender.stderr=org.apache.log4j.ConsoleAppender\n"
    "log4j.appender.stderr.layout=org.apache.log4j.PatternLayout\nlog4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n\n"
    "log4j.appender.stderr.Target=System.err\n"
)


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    elapsed = time.perf_counter() - t0
    if res.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed ({res.returncode}):\n{res.stderr}")
    return elapsed, res.stdout


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--topics", type=int, default=20, help="topics to create first (bench-NN), so the list is not trivial")
    args = ap.parse_args()

    home = Path(os.environ["KAFKA_HOME"]) if os.environ.get("KAFKA_HOME") else kafka_home()
    tmp = Path(tempfile.mkdtemp(prefix="bench-topics-"))
    cleanup = ExitStack()
    env, broker = cleanup.enter_context(bench_broker(home, tmp))
    env["NO_COLOR"] = "1"
    try:
        from kafkaops.settings import load_settings

        settings = load_settings(env=env, cwd=tmp)
        for i in range(args.topics):
            topics_proc.create_topic(settings, f"bench-{i:02d}", partitions=3, if_not_exists=True)

        log4j = tmp / "tools-log4j.properties"
        log4j.write_text(TOOLS_LOG4J)
        java = find_java(settings.java)
        jvm = [
            java.path,
            *JVM_TOOL_OPTS,
            f"-Dlog4j.configuration={log4j.as_uri()}",
            "-cp",
            str(home / "libs" / "*"),
            "org.apache.kafka.tools.TopicCommand",
            "--bootstrap-server",
            broker,
            "--list",
        ]
        ours = [*kafkaops_command(), "topics", "list"]

        # warm-up (page cache, JIT-less first load) and a check that both list the same topics
        _, jvm_out = timed(jvm, env)
        _, ours_out = timed(ours, env)
        jvm_names = {n for n in jvm_out.split() if not n.startswith("__")}
        ours_names = {line.split()[0] for line in ours_out.splitlines()[2:] if line.strip()}
        assert jvm_names == ours_names, jvm_names ^ ours_names

        samples: dict[str, list[float]] = {"kafkaops": [], "jvm": []}
        for _ in range(args.runs):
            samples["kafkaops"].append(timed(ours, env)[0])
            samples["jvm"].append(timed(jvm, env)[0])
    finally:
        cleanup.close()
        shutil.rmtree(tmp, ignore_errors=True)

    k, j = summary(samples["kafkaops"]), summary(samples["jvm"])
    ratio = round(j["median"] / k["median"], 2)
    ratio_min = round(j["min"] / k["min"], 2)  # best case of each: the least disturbed by other load
    print(f"\n`topics list`, {args.runs} runs each, {len(jvm_names)} topics, Kafka {settings.kafka_version}, {java.version_line}\n")
    print("| tool | command | median (s) | min (s) | max (s) |")
    print("|---|---|---|---|---|")
    print(f"| kafkaops | `{' '.join(ours[-3:])}` | {k['median']:.3f} | {k['min']:.3f} | {k['max']:.3f} |")
    print(f"| JVM | `kafka-topics --list` (TopicCommand) | {j['median']:.3f} | {j['min']:.3f} | {j['max']:.3f} |")
    print(f"\nkafkaops is {ratio}x faster (median), {ratio_min}x (min); target: at least 3x -> {'met' if ratio >= 3 else 'NOT met'}")
    path = save(
        "topics",
        {
            "runs": args.runs,
            "topics": len(jvm_names),
            "kafka_version": settings.kafka_version,
            "java": java.version_line,
            "kafkaops_command": ours,
            "jvm_main_class": "org.apache.kafka.tools.TopicCommand",
            "kafkaops": k,
            "jvm": j,
            "ratio_median": ratio,
            "ratio_min": ratio_min,
            "load_average": list(os.getloadavg()),
            "target_met": ratio >= 3,
            "samples": {name: [round(s, 4) for s in values] for name, values in samples.items()},
        },
    )
    print(f"results: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
