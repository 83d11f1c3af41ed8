"""Wall time of `kafkaops doctor` (a fresh process each run) against a Kafka 4.x KRaft node started by
hand (tests/kraft_fixtures.py), as a remote cluster (no local config) and as the local KRaft stack,
on a healthy pipeline. Target: as fast as doctor on the ZooKeeper-mode stack (bench_doctor.py), under 2 s.

    .venv/bin/python bench/bench_doctor_kraft.py [--runs 5]

The database is the embedded PostgreSQL started by kafkaops's adapter on a free port; a demo table,
100 rows produced.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from bench_doctor import timed_doctor
from common import ROOT, save, summary

sys.path.insert(0, str(ROOT))

from kafkaops.adapters import embedded_pg  # noqa: E402
from kafkaops.procedures import db, produce  # noqa: E402
from kafkaops.procedures.topics import ensure_topic  # noqa: E402
from kafkaops.settings import load_settings  # noqa: E402
from tests.conftest import free_port  # noqa: E402
from tests.kraft_fixtures import kraft_distribution, make_kraft_node  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="kafkaops-bench-kraft-", dir="/var/tmp"))
    pg_home = Path(tempfile.mkdtemp(prefix="kafkaops-bench-pg-"))
    pg_settings = load_settings(env={"KAFKAOPS_HOME": str(pg_home / "ops")}, cwd=pg_home)
    node = make_kraft_node(root / "node", kraft_distribution())
    try:
        node.start()
        info = embedded_pg.start(pg_settings, port_=free_port(), timeout=60)
        password = (embedded_pg.root_dir(pg_settings) / "password").read_text().strip()
        assert info.port
        url = embedded_pg.url_for(info.port, password, "postgres")
        common = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", str(root)), "KAFKA_BROKER": node.broker}
        common |= {"KAFKAOPS_EMBEDDED_DB": "off", "DATABASE_URL": url, "KAFKA_TOPIC": "bench_kraft"}
        remote = dict(common, KAFKAOPS_HOME=str(root / "elsewhere"))
        local = dict(common, KAFKAOPS_HOME=str(node.ops_home), KAFKAOPS_SERVER_PROPERTIES=str(node.config), KAFKA_HOME=str(node.home))
        settings = load_settings(env=local, cwd=root)
        ensure_topic(settings, "bench_kraft", 1, 1)
        db.init(settings, demo=True)
        db.seed(settings, 100)
        produce.produce(settings, produce.ProduceOptions())
        node.adopt(local)

        results: dict[str, dict[str, float]] = {}
        docs = {}
        for env in (remote, local):
            timed_doctor(env, root, 0)  # warm-up
        samples: dict[str, list[float]] = {"remote": [], "local": []}
        for _ in range(args.runs):  # alternate the two
            for name, env in (("remote", remote), ("local", local)):
                seconds, docs[name] = timed_doctor(env, root, 0)
                samples[name].append(seconds)
        for name in samples:
            results[name] = summary(samples[name])
            s = results[name]
            doc = docs[name]
            slowest = sorted(((c["seconds"], c["id"]) for c in doc["checks"]), reverse=True)[:4]
            print(
                f"kafkaops doctor on KRaft ({name:6}): median {s['median']:.2f}s (min {s['min']:.2f}, max {s['max']:.2f}, n={s['n']}); "
                f"verdict {doc['verdict']['status']}, cluster {doc['cluster']['mode']}/local={doc['cluster']['local']}; "
                "slowest: " + ", ".join(f"{i} {t:.2f}s" for t, i in slowest)
            )
        path = save("doctor_kraft", {"remote_s": results["remote"], "local_s": results["local"], "target_s": 2.0})
        print(f"saved {path}")
    finally:
        node.stop()
        embedded_pg.stop(pg_settings, timeout=30)
        shutil.rmtree(embedded_pg.shared_dir(pg_settings), ignore_errors=True)
        shutil.rmtree(pg_home, ignore_errors=True)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
