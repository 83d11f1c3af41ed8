"""What Debezium's envelope costs: `kafkaops produce` on the same backlog of the demo livedb table with
our own envelope (the baseline, PostgreSQL builds the whole event), `--envelope debezium` (PostgreSQL
encodes the values, Python turns numeric into Decimal bytes and joins the envelope) and
`--envelope debezium --with-schema` (the same plus Connect's schema in every key and value).

    .venv/bin/python bench/bench_produce_envelope.py --rows 200000 [--repeat 2]

Each run is a fresh process on its own fresh topic (a new pipeline, starting at 0), interleaved so that
load on the machine falls on all three alike; the best run of each is compared. No target: the issue
asks for events Debezium's readers accept, and this says what they cost next to our own.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from bench_produce import kafkaops_command, new_topic, run_child
from common import ROOT, kafka_home, save, teardown_pipeline

sys.path.insert(0, str(ROOT))

from kafkaops.procedures import db, services  # noqa: E402
from tests.conftest import make_stack  # noqa: E402

CONTENDERS = {"kafkaops": [], "debezium": ["--envelope", "debezium"], "debezium+schema": ["--envelope", "debezium", "--with-schema"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="backlog size")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each contender; the best of each is compared")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="kafkaops-bench-envelope-", dir="/var/tmp"))
    stack = make_stack(root, kafka_home())
    stack.env["KAFKAOPS_EMBEDDED_DB"] = "auto"
    stack.env.pop("DATABASE_URL", None)
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in CONTENDERS}
    try:
        settings = stack.settings
        services.up(settings)
        from kafkaops.adapters import embedded_pg

        embedded_pg.start(settings)
        db.init(settings, demo=True)
        db.seed(settings, args.rows)
        for i in range(args.repeat):
            for name, flags in CONTENDERS.items():
                topic = new_topic(settings)
                wall, peak, code, _out, err, cpu = run_child([*kafkaops_command(), "produce", "--topic", topic, *flags], stack.env, root)
                if code != 0 or f"Sent {args.rows} events" not in err:
                    raise SystemExit(f"{name} failed ({code}): {err[-2000:]}")
                runs[name].append({"seconds": round(wall, 2), "rows_per_s": round(args.rows / wall), "peak_rss_mb": round(peak, 1), "cpu_s": round(cpu, 2)})
                print(f"{name:<16} run {i + 1}: {args.rows / wall:>9,.0f} rows/s ({wall:.1f}s, CPU {cpu:.1f}s, peak RSS {peak:.0f} MB)", flush=True)
    finally:
        teardown_pipeline(stack, root)

    best = {name: max(r["rows_per_s"] for r in rs) for name, rs in runs.items()}
    print()
    for name in CONTENDERS:
        print(f"{name:<16}: {best[name]:>9,} rows/s  ({best[name] / best['kafkaops']:.2f}x our own envelope)")
    results = {"rows": args.rows, "runs": runs, "ratio": {name: round(best[name] / best["kafkaops"], 2) for name in CONTENDERS}}
    print(f"saved {save(f'produce-envelope-{args.rows}', results)}")


if __name__ == "__main__":
    main()
