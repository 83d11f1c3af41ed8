"""Wall time of `kafkaops topics list` against the JVM `kafka-topics --list`, same broker, same run.

The JVM side is what Kafka 3.9's `kafka-topics` script runs: `kafka-run-class` with its default tool
heap and performance flags, main class org.apache.kafka.tools.TopicCommand, from the same KAFKA_HOME.
Each tool runs as a fresh process (as an operator runs it), alternating, after one warm-up run each.

    .venv/bin/python bench/bench_topics.py [--runs 10] [--topics 20] [--baseline-src DIR]

--baseline-src DIR adds a third contender: kafkaops from another source tree (for example the commit
before a change: `git archive <commit> kafkaops | tar -x -C DIR`), run with the same interpreter and
packages. Then both kafkaops contenders run as `python -m kafkaops` with PYTHONPATH naming their tree,
so that only the code differs. `kafkaops --help` is timed the same way for each.

By default a stack is started through kafkaops's own procedures on free ports (and stopped after).
To use a running broker instead: KAFKAOPS_BENCH_BROKER=host:port (and KAFKA_HOME for the JVM tool).
"""

from __future__ import annotations

import argparse
import os
import resource
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


def contenders(baseline: Path | None) -> dict[str, tuple[list[str], dict[str, str]]]:
    """name -> (command, extra environment) of each kafkaops to time."""
    if baseline is None:
        return {"kafkaops": (kafkaops_command(), {})}
    return {
        "kafkaops": ([sys.executable, "-m", "kafkaops"], {"PYTHONPATH": str(ROOT)}),
        "baseline": ([sys.executable, "-m", "kafkaops"], {"PYTHONPATH": str(baseline.resolve())}),
    }


CPU: dict[str, list[float]] = {}  # contender -> CPU seconds (user + system) per run: less swayed by other load than wall time


def timed(cmd: list[str], env: dict[str, str], name: str | None = None) -> tuple[float, str]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    # cwd: a folder with no kafkaops in it, so that `python -m kafkaops` takes the tree PYTHONPATH names
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, cwd=tempfile.gettempdir())
    elapsed = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if name is not None:
        CPU.setdefault(name, []).append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    if res.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed ({res.returncode}):\n{res.stderr}")
    return elapsed, res.stdout


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--topics", type=int, default=20, help="topics to create first (bench-NN), so the list is not trivial")
    ap.add_argument("--baseline-src", type=Path, default=None, help="a kafkaops source tree to time beside this one (e.g. the commit before a change)")
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
        runners = contenders(args.baseline_src)
        for name, (cmd, extra) in runners.items():  # warm-up, and both list the same topics
            _, jvm_out = timed(jvm, env)
            _, ours_out = timed([*cmd, "topics", "list"], {**env, **extra})
            jvm_names = {n for n in jvm_out.split() if not n.startswith("__")}
            ours_names = {line.split()[0] for line in ours_out.splitlines()[2:] if line.strip()}
            assert jvm_names == ours_names, (name, jvm_names ^ ours_names)

        samples: dict[str, list[float]] = {"jvm": [], **{name: [] for name in runners}, **{f"{name} --help": [] for name in runners}}
        for _ in range(args.runs):  # alternating, so that a burst of load hits every contender alike
            for name, (cmd, extra) in runners.items():
                samples[name].append(timed([*cmd, "topics", "list"], {**env, **extra}, name)[0])
                samples[f"{name} --help"].append(timed([*cmd, "--help"], {**env, **extra}, f"{name} --help")[0])
            samples["jvm"].append(timed(jvm, env, "jvm")[0])
    finally:
        cleanup.close()
        shutil.rmtree(tmp, ignore_errors=True)

    stats = {name: summary(values) for name, values in samples.items()}
    j = stats["jvm"]
    ratios = {name: (round(j["median"] / stats[name]["median"], 2), round(j["min"] / stats[name]["min"], 2)) for name in runners}
    print(f"\n`topics list`, {args.runs} runs each, {len(jvm_names)} topics, Kafka {settings.kafka_version}, {java.version_line}\n")
    cpu = {name: summary(values) for name, values in CPU.items()}
    print("| contender | command | median (s) | min (s) | max (s) | JVM / this (median) | (min) | CPU median (s) |")
    print("|---|---|---|---|---|---|---|---|")
    for name, st in stats.items():
        what = "`kafka-topics --list` (TopicCommand)" if name == "jvm" else ("`--help`" if name.endswith("--help") else "`topics list`")
        ratio = ratios.get(name)
        cells = f"{ratio[0]}x | {ratio[1]}x" if ratio else " | "
        print(f"| {name} | {what} | {st['median']:.3f} | {st['min']:.3f} | {st['max']:.3f} | {cells} | {cpu[name]['median']:.3f} |")
    ratio = ratios["kafkaops"][0]
    help_median = stats["kafkaops --help"]["median"]
    print(f"\nkafkaops is {ratio}x faster than the JVM tool (median); target: at least 4x -> {'met' if ratio >= 4 else 'NOT met'}")
    print(f"kafkaops --help: {help_median:.3f} s median; target: under 0.15 s -> {'met' if help_median < 0.15 else 'NOT met'}")
    path = save(
        "topics",
        {
            "runs": args.runs,
            "topics": len(jvm_names),
            "kafka_version": settings.kafka_version,
            "java": java.version_line,
            "commands": {name: cmd for name, (cmd, _) in runners.items()},
            "baseline_src": str(args.baseline_src) if args.baseline_src else None,
            "jvm_main_class": "org.apache.kafka.tools.TopicCommand",
            "stats": stats,
            "cpu": cpu,
            "ratios_median_min": ratios,
            "load_average": list(os.getloadavg()),
            "target_met": ratio >= 4 and help_median < 0.15,
            "samples": {name: [round(x, 4) for x in values] for name, values in samples.items()},
        },
    )
    print(f"results: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
