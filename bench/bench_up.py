"""Time from `kafkaops up` to a broker that answers metadata, against the same two JVMs started by
hand and polled with no overhead (same run, same configs), and the procedure's fixed 25 s of sleeps.
Also `kafkaops --help` start-up time.

    .venv/bin/python bench/bench_up.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, kafka_home, save, summary

sys.path.insert(0, str(ROOT))

from kafkaops.adapters import zookeeper as zk  # noqa: E402
from kafkaops.procedures import layout  # noqa: E402
from tests.conftest import make_stack, teardown_stack  # noqa: E402

PROCEDURE_SLEEPS = 15.0 + 10.0  # the batch file's fixed waits (ZooKeeper, then the broker)


def metadata_ok(broker: str) -> bool:
    import logging

    from confluent_kafka.admin import AdminClient

    quiet = logging.getLogger("bench.quiet")
    quiet.propagate = False
    try:
        md = AdminClient({"bootstrap.servers": broker, "socket.connection.setup.timeout.ms": 1000, "logger": quiet}).list_topics(timeout=1)
        return bool(md.brokers)
    except Exception:
        return False


def by_hand(home: Path, root: Path) -> float:
    """Two JVMs started directly, each polled as tightly as possible: the floor for any launcher."""
    s = make_stack(root, home)
    log4j = layout.ensure_log4j(root / "log4j.properties")
    cp = str(home / "libs" / "*")
    common = ["-server", "-XX:+UseG1GC", "-Djava.awt.headless=true", f"-Dlog4j.configuration={log4j.as_uri()}"]
    procs = []
    t0 = time.perf_counter()
    try:
        procs.append(
            subprocess.Popen(
                [
                    "java",
                    "-Xms128m",
                    "-Xmx128m",
                    *common,
                    f"-Dkafka.logs.dir={root / 'zl'}",
                    "-cp",
                    cp,
                    "org.apache.zookeeper.server.quorum.QuorumPeerMain",
                    str(root / "conf" / "zookeeper.properties"),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        while not ((a := zk.srvr("127.0.0.1", s.zk_port, 0.5)) and a.serving):
            time.sleep(0.01)
        procs.append(
            subprocess.Popen(
                [
                    "java",
                    "-Xms384m",
                    "-Xmx384m",
                    *common,
                    f"-Dkafka.logs.dir={root / 'kl'}",
                    "-cp",
                    cp,
                    "kafka.Kafka",
                    str(root / "conf" / "server.properties"),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        while not metadata_ok(s.broker):
            time.sleep(0.01)
        return time.perf_counter() - t0
    finally:
        for p in reversed(procs):
            p.terminate()
            p.wait(60)


def with_kafkaops(home: Path, root: Path) -> float:
    s = make_stack(root, home)
    # each run has a new KAFKAOPS_HOME, so a class-data sharing archive would never be used, only made:
    # off unless KAFKAOPS_CDS says otherwise (bench_kraft_up.py measures CDS on a kept home)
    env = dict(s.env, KAFKAOPS_CDS=os.environ.get("KAFKAOPS_CDS", "off"))
    try:
        t0 = time.perf_counter()
        res = subprocess.run([sys.executable, "-m", "kafkaops", "up", "--no-topic"], env=env, cwd=root, capture_output=True, text=True)
        assert res.returncode == 0, res.stderr
        while not metadata_ok(s.broker):  # already true when up returns; measured the same way as by hand
            time.sleep(0.01)
        return time.perf_counter() - t0
    finally:
        teardown_stack(s)


def help_time() -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "kafkaops", "--help"], capture_output=True, check=True)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    home = kafka_home()
    hand, ops = [], []
    for i in range(args.runs):  # interleaved so that both see the same machine state
        for fn, acc in ((by_hand, hand), (with_kafkaops, ops)):
            root = Path(tempfile.mkdtemp(prefix="bench-up-"))
            try:
                acc.append(fn(home, root))
            finally:
                shutil.rmtree(root, ignore_errors=True)
        print(f"run {i + 1}: by hand {hand[-1]:.2f}s, kafkaops up {ops[-1]:.2f}s", file=sys.stderr)
    helps = [help_time() for _ in range(10)]
    result = {
        "by_hand_s": summary(hand),
        "kafkaops_up_s": summary(ops),
        "procedure_sleeps_s": PROCEDURE_SLEEPS,
        "overhead_vs_hand_s": round(summary(ops)["median"] - summary(hand)["median"], 3),
        "fraction_of_procedure": round(summary(ops)["median"] / PROCEDURE_SLEEPS, 3),
        "help_s": summary(helps),
    }
    path = save("up", result)
    print(f"""
| measure | median | min | max |
|---|---|---|---|
| two JVMs by hand, tight polling | {result["by_hand_s"]["median"]:.2f} s | {result["by_hand_s"]["min"]:.2f} s | {result["by_hand_s"]["max"]:.2f} s |
| `kafkaops up` (to metadata) | {result["kafkaops_up_s"]["median"]:.2f} s | {result["kafkaops_up_s"]["min"]:.2f} s | {result["kafkaops_up_s"]["max"]:.2f} s |
| procedure's fixed sleeps | {PROCEDURE_SLEEPS:.0f} s | | |
| `kafkaops --help` | {result["help_s"]["median"]:.3f} s | {result["help_s"]["min"]:.3f} s | {result["help_s"]["max"]:.3f} s |

overhead vs by hand: {result["overhead_vs_hand_s"]:+.2f} s (target within 1.0 s); kafkaops up / procedure: {result["fraction_of_procedure"]:.2f} (target under 0.5)
results: {path.relative_to(ROOT)}""")


if __name__ == "__main__":
    socket.setdefaulttimeout(None)
    main()
