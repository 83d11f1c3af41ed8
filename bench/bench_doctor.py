"""Wall time of `kafkaops doctor` (a fresh process each run, as an operator runs it) on a healthy
pipeline and then with everything stopped, in the same run. Targets: under 2 s healthy, under 5 s down.

    .venv/bin/python bench/bench_doctor.py [--runs 5]

A stack is started through kafkaops's own procedures on free ports, with the embedded PostgreSQL
(DATABASE_URL unset), a demo table, 100 rows produced, so that every check has real work to do.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, kafka_home, save, summary

sys.path.insert(0, str(ROOT))

from kafkaops.procedures import db, produce, services  # noqa: E402
from tests.conftest import make_stack, teardown_stack  # noqa: E402


def kafkaops_command() -> list[str]:
    script = Path(sys.executable).parent / "kafkaops"
    return [str(script)] if script.exists() else [sys.executable, "-m", "kafkaops"]


def timed_doctor(env: dict[str, str], cwd: Path, expect: int) -> tuple[float, dict]:
    t0 = time.perf_counter()
    res = subprocess.run([*kafkaops_command(), "doctor", "--json"], env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
    elapsed = time.perf_counter() - t0
    if res.returncode != expect:
        raise SystemExit(f"doctor exited {res.returncode}, expected {expect}:\n{res.stdout[-3000:]}\n{res.stderr[-2000:]}")
    return elapsed, json.loads(res.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="kafkaops-bench-doctor-", dir="/var/tmp"))
    stack = make_stack(root, kafka_home())
    stack.env["KAFKAOPS_EMBEDDED_DB"] = "auto"  # the embedded PostgreSQL, started by `up`
    stack.env.pop("DATABASE_URL", None)
    try:
        settings = stack.settings
        services.up(settings)
        db.init(settings, demo=True)
        db.seed(settings, 100)
        produce.produce(settings, produce.ProduceOptions())

        healthy: list[float] = []
        timed_doctor(stack.env, root, 0)  # warm-up (page cache, .pyc)
        for _ in range(args.runs):
            seconds, doc = timed_doctor(stack.env, root, 0)
            healthy.append(seconds)
        statuses = {c["id"]: c["status"] for c in doc["checks"]}
        slowest = sorted(((c["seconds"], c["id"]) for c in doc["checks"]), reverse=True)[:6]
        inside = doc["seconds"]
        not_passing = {k: v for k, v in statuses.items() if v != "PASS"}

        services.down(settings)
        down: list[float] = []
        for _ in range(args.runs):
            seconds, down_doc = timed_doctor(stack.env, root, 3)
            down.append(seconds)
    finally:
        teardown_stack(stack)
        shutil.rmtree(root, ignore_errors=True)

    h, d = summary(healthy), summary(down)
    print(f"kafkaops doctor, healthy pipeline : median {h['median']:.2f}s (min {h['min']:.2f}, max {h['max']:.2f}, n={h['n']}), target < 2 s")
    print(f"kafkaops doctor, everything down  : median {d['median']:.2f}s (min {d['min']:.2f}, max {d['max']:.2f}, n={d['n']}), target < 5 s")
    print(f"last healthy run: {inside:.2f}s inside run_doctor; slowest checks: " + ", ".join(f"{i} {t:.2f}s" for t, i in slowest))
    print(f"healthy checks not PASS: {not_passing or 'none'}; down verdict: {down_doc['verdict']['layer']} ({down_doc['verdict']['check']})")
    path = save(
        "doctor",
        {
            "healthy_s": h,
            "all_down_s": d,
            "targets_s": {"healthy": 2.0, "all_down": 5.0},
            "met": {"healthy": h["median"] < 2.0, "all_down": d["median"] < 5.0},
            "healthy_not_pass": not_passing,
            "checks": len(statuses),
            "slowest_checks_s": {i: t for t, i in slowest},
        },
    )
    print(f"saved {path}")


if __name__ == "__main__":
    main()
