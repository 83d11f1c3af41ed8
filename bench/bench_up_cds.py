"""ZooKeeper mode with class-data sharing: `kafkaops up --no-topic` on one kept stack (one KAFKAOPS_HOME,
so its archives are made once, checked once, then used), KAFKAOPS_CDS=off and on alternating.

    .venv/bin/python bench/bench_up_cds.py [--runs 5]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, kafka_home, save, summary

sys.path.insert(0, str(ROOT))

from tests.conftest import make_stack, teardown_stack  # noqa: E402


def kafkaops(env: dict[str, str], root: Path, *args: str) -> float:
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "kafkaops", *args], env=env, cwd=root, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(r.stderr)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    runs = ap.parse_args().runs
    root = Path(tempfile.mkdtemp(prefix="bench-up-cds-"))
    s = make_stack(root, kafka_home())
    on, off = dict(s.env, KAFKAOPS_CDS="on"), dict(s.env, KAFKAOPS_CDS="off")
    try:
        for _ in range(2):  # the first start's JVMs write the archives when they exit; the second checks them
            kafkaops(on, root, "up", "--no-topic")
            kafkaops(on, root, "down")
        plain, cds = [], []
        for _ in range(runs):
            plain.append(kafkaops(off, root, "up", "--no-topic"))
            kafkaops(off, root, "down")
            cds.append(kafkaops(on, root, "up", "--no-topic"))
            kafkaops(on, root, "down")
        result = {"kafkaops_up": summary(plain), "kafkaops_up_cds": summary(cds)}
        result["cds_gain_median_s"] = round(result["kafkaops_up"]["median"] - result["kafkaops_up_cds"]["median"], 3)
        print(result)
        save("up_cds", result)
    finally:
        teardown_stack(s)


if __name__ == "__main__":
    main()
