"""KRaft mode: time from `kafkaops up --no-topic` to a broker that answers metadata (one combined
node, storage already formatted), against the same JVM started by hand on the same config and polled
with no overhead, alternating in the same run; plus the first `up`, which formats the storage.

Class-data sharing: the same JVM by hand with a dynamic AppCDS archive (made from one start/stop of
the same classpath with -XX:ArchiveClassesAtExit, used with -Xshare:auto -XX:SharedArchiveFile), and
`kafkaops up` with its own archive (KAFKAOPS_CDS=on; the plain contender runs with KAFKAOPS_CDS=off).

    .venv/bin/python bench/bench_kraft_up.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_up import metadata_ok
from common import ROOT, save, summary

sys.path.insert(0, str(ROOT))

from kafkaops.adapters.javaprops import write_properties  # noqa: E402
from kafkaops.procedures import layout  # noqa: E402
from kafkaops.procedures.install import install  # noqa: E402
from kafkaops.settings import DEFAULT_KRAFT_VERSION  # noqa: E402
from tests.conftest import free_port  # noqa: E402


def kraft_home() -> Path:
    ops = Path(os.environ.get("KAFKAOPS_TEST_HOME", Path.home() / ".cache" / "kafkaops-test"))
    return install(dists_dir=ops / "kafka", data_dir=ops / "data", version=DEFAULT_KRAFT_VERSION).kafka_home


def kafkaops(args: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "kafkaops", *args], env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(r.stderr)
    return time.perf_counter() - t0


def by_hand(home: Path, config: Path, root: Path, broker: str, extra: tuple[str, ...] = ()) -> float:
    log4j2 = layout.ensure_log4j2(root / "log4j2.yaml")
    cmd = ["java", "-Xms512m", "-Xmx512m", "-server", "-XX:+UseG1GC", "-Djava.awt.headless=true", *extra, f"-Dlog4j2.configurationFile={log4j2}"]
    cmd += [f"-Dkafka.logs.dir={root / 'hand-logs'}", "-cp", str(home / "libs" / "*"), "kafka.Kafka", str(config)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
    try:
        while not metadata_ok(broker):
            pass
        return time.perf_counter() - t0
    finally:
        proc.terminate()
        proc.wait(60)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    runs = ap.parse_args().runs
    home = kraft_home()
    root = Path(tempfile.mkdtemp(prefix="bench-kraft-"))
    try:
        port, cport = free_port(), free_port()
        config = root / "server.properties"
        write_properties(config, layout.kraft_combined_config(root / "logs", port, cport))
        env = dict(os.environ, KAFKA_HOME=str(home), KAFKAOPS_HOME=str(root / "ops"), KAFKAOPS_SERVER_PROPERTIES=str(config))
        env.update(KAFKAOPS_EMBEDDED_DB="off", KAFKAOPS_KAFKA_HEAP="512m", KAFKA_BROKER=f"localhost:{port}")
        first = kafkaops(["up", "--no-topic"], env)
        kafkaops(["down"], env)
        # class-data sharing: a dynamic AppCDS archive written when one start of the same classpath exits
        archive = root / "kafka.jsa"
        by_hand(home, config, root, f"localhost:{port}", (f"-XX:ArchiveClassesAtExit={archive}",))
        if not archive.is_file():
            raise SystemExit(f"the JVM wrote no archive at {archive}")
        cds = ("-Xshare:auto", f"-XX:SharedArchiveFile={archive}")
        cds_env = dict(env, KAFKAOPS_HOME=str(root / "ops-cds"), KAFKAOPS_CDS="1")
        cds_first = kafkaops(["up", "--no-topic"], cds_env)  # its JVM writes kafkaops's archive when it exits
        kafkaops(["down"], cds_env)
        kafkaops(["up", "--no-topic"], cds_env)  # checks that archive once and starts with it: not a sample
        kafkaops(["down"], cds_env)
        off_env = dict(env, KAFKAOPS_CDS="0")
        ups, hands, hands_cds, ups_cds = [], [], [], []
        for _ in range(runs):
            ups.append(kafkaops(["up", "--no-topic"], off_env))
            kafkaops(["down"], off_env)
            hands.append(by_hand(home, config, root, f"localhost:{port}"))
            hands_cds.append(by_hand(home, config, root, f"localhost:{port}", cds))
            ups_cds.append(kafkaops(["up", "--no-topic"], cds_env))
            kafkaops(["down"], cds_env)
        result = {"version": DEFAULT_KRAFT_VERSION, "first_up_with_format_s": round(first, 3), "kafkaops_up": summary(ups), "by_hand": summary(hands)}
        result["overhead_median_s"] = round(result["kafkaops_up"]["median"] - result["by_hand"]["median"], 3)
        result |= {"by_hand_cds": summary(hands_cds), "archive_mb": round(archive.stat().st_size / 1e6, 1)}
        result |= {"kafkaops_first_up_cds_s": round(cds_first, 3), "kafkaops_up_cds": summary(ups_cds)}
        result["cds_gain_by_hand_s"] = round(result["by_hand"]["median"] - result["by_hand_cds"]["median"], 3)
        result["overhead_cds_median_s"] = round(result["kafkaops_up_cds"]["median"] - result["by_hand_cds"]["median"], 3)
        # each round runs the four back to back: paired differences resist a load that drifts between rounds
        result["paired_overhead_median_s"] = round(statistics.median(u - h for u, h in zip(ups, hands, strict=True)), 3)
        result["paired_overhead_cds_median_s"] = round(statistics.median(u - h for u, h in zip(ups_cds, hands_cds, strict=True)), 3)
        result["paired_cds_gain_by_hand_median_s"] = round(statistics.median(h - c for h, c in zip(hands, hands_cds, strict=True)), 3)
        result["samples"] = {"kafkaops_up": ups, "by_hand": hands, "by_hand_cds": hands_cds, "kafkaops_up_cds": ups_cds}
        print(result)
        save("kraft_up", result)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
