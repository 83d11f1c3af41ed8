"""Where `kafkaops up` (KRaft) spends its time: each run is a fresh interpreter whose steps are timed
(imports, java -version, the CDS options, the launch, the started line, the admin client, the metadata
answer), next to the started line's own timestamp in the node's log.

    .venv/bin/python bench/trace_kraft_up.py [--runs 3]      (KAFKAOPS_CDS=off to trace without CDS)
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

T0 = time.perf_counter()
MARKS: list[tuple[str, float]] = []


def mark(name: str) -> None:
    MARKS.append((name, round(time.perf_counter() - T0, 3)))


def child() -> None:
    """One `kafkaops up --no-topic` in this interpreter, its steps timed."""
    sys.argv = ["kafkaops", "up", "--no-topic"]
    import kafkaops.cli as cli

    mark("cli imported")
    import kafkaops.adapters.kafka as ak
    import kafkaops.procedures.services.kraft as kr
    import kafkaops.procedures.services.launch as la
    import kafkaops.procedures.services.stack as st

    mark("services imported")

    def timed(mod: Any, name: str) -> None:
        f = getattr(mod, name)

        def g(*a: Any, **k: Any) -> Any:
            mark(f"{name} ...")
            r = f(*a, **k)
            mark(f"{name} done")
            return r

        setattr(mod, name, g)

    for mod, name in ((st, "find_java"), (kr, "check_storage"), (la.cds, "jvm_options"), (la.processes, "launch"), (ak, "admin"), (ak, "metadata")):
        timed(mod, name)
    read = kr.read_log_since

    def read_log(*a: Any) -> str:
        text = read(*a)
        if "Kafka Server started" in text and not any(n == "started line seen" for n, _ in MARKS):
            mark("started line seen")
        return text

    kr.read_log_since = read_log
    try:
        cli.main()
    except SystemExit:
        pass
    mark("end")
    print(json.dumps(MARKS), file=sys.stderr)


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_kraft_up import kraft_home
    from common import ROOT

    sys.path.insert(0, str(ROOT))
    from kafkaops.adapters.javaprops import write_properties
    from kafkaops.procedures import layout
    from tests.conftest import free_port

    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    runs = ap.parse_args().runs
    home = kraft_home()
    root = Path(tempfile.mkdtemp(prefix="trace-kraft-"))
    try:
        port, cport = free_port(), free_port()
        config = root / "server.properties"
        write_properties(config, layout.kraft_combined_config(root / "logs", port, cport))
        env = dict(os.environ, KAFKA_HOME=str(home), KAFKAOPS_HOME=str(root / "ops"), KAFKAOPS_SERVER_PROPERTIES=str(config))
        env.update(KAFKAOPS_EMBEDDED_DB="off", KAFKAOPS_KAFKA_HEAP="512m", KAFKA_BROKER=f"localhost:{port}")
        for _ in range(2):  # formats the storage; makes (then checks) the CDS archive
            subprocess.run([sys.executable, "-m", "kafkaops", "up", "--no-topic"], env=env, capture_output=True, check=True)
            subprocess.run([sys.executable, "-m", "kafkaops", "down"], env=env, capture_output=True, check=True)
        log = root / "ops" / "logs" / "kafka" / "server.log"
        for _ in range(runs):
            offset = log.stat().st_size
            t0, wall0 = time.perf_counter(), time.time()
            r = subprocess.run([sys.executable, __file__, "--child"], env=env, capture_output=True, text=True, check=True)
            total = time.perf_counter() - t0
            marks = json.loads(r.stderr.strip().splitlines()[-1])
            text = log.read_text(errors="replace")[offset:]
            m = re.search(r"\[(\d+-\d+-\d+ \d+:\d+:\d+,\d+)\] INFO \[KafkaRaftServer nodeId=\d+\] Kafka Server started", text)
            logged = datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp() - wall0 if m else float("nan")
            print(f"total {total:.3f} s (process start to exit); the log's started line at {logged:.3f} s")
            for name, t in marks:
                print(f"  {t:7.3f}  {name}")
            subprocess.run([sys.executable, "-m", "kafkaops", "down"], env=env, capture_output=True, check=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    if sys.argv[1:] == ["--child"]:
        child()
    else:
        main()
