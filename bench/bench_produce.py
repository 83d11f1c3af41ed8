"""Catch-up of a backlog: `kafkaops produce` end to end (offsets committed, every delivery report
checked) against (a) a raw baseline in the same run and (b) the procedure's design, batches of 10.

    .venv/bin/python bench/bench_produce.py --rows 1000000 [--procedure-rows 20000] [--repeat 2]

- kafkaops: `kafkaops produce` as a fresh process (its startup included), on ``--rows`` rows; peak
  RSS of that process from its own rusage (os.wait4), cross-checked by polling psutil.
- (a) raw: a fresh process that streams the same rows through a psycopg server-side cursor (JSON built
  by PostgreSQL, the fastest way) into a confluent-kafka Producer with the same batching knobs, no
  offsets, no delivery checks, one flush() at the end.
- (b) the procedure's design: batches of 10 (SELECT ... LIMIT 10, produce, flush() and wait, UPDATE
  the offset), on ``--procedure-rows`` rows only (at ~1-2k rows/s a million rows would take many
  minutes), reported as rows/s.

Each contender writes to its own fresh topic (1 partition) on one broker started for the bench; the
database is the embedded PostgreSQL. Targets: kafkaops >= 0.7x (a), >= 20x (b), peak RSS < 200 MB.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

from common import ROOT, kafka_home, save, teardown_pipeline

sys.path.insert(0, str(ROOT))

from kafkaops.adapters.embedded_pg import database_url  # noqa: E402
from kafkaops.procedures import db, services, topics  # noqa: E402
from tests.conftest import make_stack  # noqa: E402

RAW = textwrap.dedent(
    """
    import sys, psycopg
    from confluent_kafka import Producer
    url, broker, topic, limit = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    p = Producer({"bootstrap.servers": broker, "linger.ms": 5, "batch.num.messages": 10000, "compression.type": "lz4"})
    n = 0
    with psycopg.connect(url) as conn:
        with conn.cursor(name="raw") as cur:
            cur.itersize = 5000
            cur.execute("SELECT id, row_to_json(t)::text FROM livedb t WHERE id <= %s ORDER BY id", (limit,))
            for row_id, value in cur:
                while True:
                    try:
                        p.produce(topic, value, str(row_id))
                        break
                    except BufferError:
                        p.poll(0.05)
                p.poll(0)
                n += 1
    p.flush(60)
    print(n)
    """
)

PROCEDURE = textwrap.dedent(
    """
    import sys, json, psycopg
    from confluent_kafka import Producer
    url, broker, topic, limit = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    p = Producer({"bootstrap.servers": broker})
    n = 0
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TEMP TABLE bench_offsets (id int PRIMARY KEY, last_id bigint)")
        conn.execute("INSERT INTO bench_offsets VALUES (1, 0)")
        while n < limit:
            last = conn.execute("SELECT last_id FROM bench_offsets WHERE id = 1").fetchone()[0]
            rows = conn.execute("SELECT id, created_at, name, amount, payload, note FROM livedb WHERE id > %s ORDER BY id LIMIT 10", (last,)).fetchall()
            if not rows:
                break
            for r in rows:
                event = {"id": r[0], "created_at": r[1].isoformat(), "name": r[2], "amount": str(r[3]), "payload": r[4], "note": r[5]}
                p.produce(topic, json.dumps(event), str(r[0]))
            p.flush()
            conn.execute("UPDATE bench_offsets SET last_id = %s WHERE id = 1", (rows[-1][0],))
            n += len(rows)
    print(n)
    """
)


# kafkaops with its offset updates committed without waiting for the WAL flush (as before they were
# made durable): for --offset-commit off/both only.
OFFSETS_NOT_DURABLE = textwrap.dedent(
    """
    import sys
    import kafkaops.procedures.produce.run as produce_run
    from kafkaops.cli import main
    produce_run.OFFSET_SYNCHRONOUS_COMMIT = "off"
    sys.argv = ["kafkaops", *sys.argv[1:]]
    main()
    """
)


def kafkaops_command() -> list[str]:
    script = Path(sys.executable).parent / "kafkaops"
    return [str(script)] if script.exists() else [sys.executable, "-m", "kafkaops"]


def run_child(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, int, str, str, float]:
    """Wall seconds, peak RSS in MB (the child's own rusage), exit code, stdout, stderr, CPU seconds."""
    import psutil

    out_f, err_f = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out_f, stderr=err_f, text=True)
    peak_polled = 0
    ps = psutil.Process(proc.pid)
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        try:
            peak_polled = max(peak_polled, ps.memory_info().rss)
        except psutil.Error:
            pass
        time.sleep(0.05)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    peak = max(usage.ru_maxrss * 1024, peak_polled) / 1e6  # ru_maxrss is in kB on Linux
    out_f.seek(0)
    err_f.seek(0)
    return wall, peak, proc.returncode, out_f.read(), err_f.read(), usage.ru_utime + usage.ru_stime


def new_topic(settings) -> str:  # noqa: ANN001
    name = "bench-" + uuid.uuid4().hex[:8]
    topics.ensure_topic(settings, name, 1, 1)
    return name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="backlog size for kafkaops and (a)")
    parser.add_argument("--procedure-rows", type=int, default=20_000, help="sample size for (b), batches of 10")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each contender; the best of each is compared")
    parser.add_argument("--batch-size", type=int, default=None, help="kafkaops produce --batch-size (default: its own default)")
    parser.add_argument(
        "--offset-commit",
        choices=("on", "off", "both"),
        default="on",
        help="synchronous_commit of the offset updates: on (kafkaops's own), off (not durable), both (interleaved, side by side)",
    )
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="kafkaops-bench-produce-", dir="/var/tmp"))
    stack = make_stack(root, kafka_home())
    stack.env["KAFKAOPS_EMBEDDED_DB"] = "auto"
    stack.env.pop("DATABASE_URL", None)
    results: dict[str, object] = {"rows": args.rows, "procedure_rows": args.procedure_rows}
    try:
        settings = stack.settings
        services.up(settings)
        from kafkaops.adapters import embedded_pg

        embedded_pg.start(settings)  # a no-op when `up` started it
        url = database_url(settings)
        db.init(settings, demo=True)
        t0 = time.perf_counter()
        db.seed(settings, args.rows)
        print(f"seeded {args.rows:,} rows in {time.perf_counter() - t0:.1f}s", flush=True)
        py = sys.executable

        kafkaops_runs: list[dict[str, float]] = []
        raw_runs: list[dict[str, float]] = []
        not_durable_runs: list[dict[str, float]] = []
        for i in range(args.repeat):
            topic = new_topic(settings)
            wall, peak, code, out, err, cpu = run_child([py, "-c", RAW, url, stack.broker, topic, str(args.rows)], stack.env, root)
            if code != 0:
                raise SystemExit(f"raw baseline failed ({code}): {err[-2000:]}")
            raw_runs.append({"seconds": round(wall, 2), "rows_per_s": round(args.rows / wall), "peak_rss_mb": round(peak, 1), "cpu_s": round(cpu, 2)})
            print(f"(a) raw baseline   run {i + 1}: {args.rows / wall:>9,.0f} rows/s ({wall:.1f}s, CPU {cpu:.1f}s, peak RSS {peak:.0f} MB)", flush=True)

            for mode in ("on", "off") if args.offset_commit == "both" else (args.offset_commit,):
                topic = new_topic(settings)  # a new pipeline (livedb -> topic): it starts at 0
                cmd = [*kafkaops_command(), "produce", "--topic", topic] if mode == "on" else [py, "-c", OFFSETS_NOT_DURABLE, "produce", "--topic", topic]
                if args.batch_size:
                    cmd += ["--batch-size", str(args.batch_size)]
                wall, peak, code, out, err, cpu = run_child(cmd, stack.env, root)
                if code != 0 or f"Sent {args.rows} events" not in err:
                    raise SystemExit(f"kafkaops produce failed ({code}): {err[-2000:]}")
                st = db.status(settings, topic=topic)
                assert st.last_id == args.rows, st
                run = {"seconds": round(wall, 2), "rows_per_s": round(args.rows / wall), "peak_rss_mb": round(peak, 1), "cpu_s": round(cpu, 2)}
                (kafkaops_runs if mode == "on" else not_durable_runs).append(run)
                label = "kafkaops produce " if mode == "on" else "  offsets async  "
                print(
                    f"{label}  run {i + 1}: {args.rows / wall:>9,.0f} rows/s ({wall:.1f}s, CPU {cpu:.1f}s, peak RSS {peak:.0f} MB, offset {st.last_id:,})",
                    flush=True,
                )

        n = min(args.procedure_rows, args.rows)
        procedure_runs: list[dict[str, float]] = []
        for i in range(args.repeat):
            topic = new_topic(settings)
            wall, peak, code, out, err, cpu = run_child([py, "-c", PROCEDURE, url, stack.broker, topic, str(n)], stack.env, root)
            if code != 0:
                raise SystemExit(f"procedure design failed ({code}): {err[-2000:]}")
            procedure_runs.append({"rows": n, "seconds": round(wall, 2), "rows_per_s": round(n / wall)})
            print(f"(b) batches of 10  run {i + 1} ({n:,} rows): {n / wall:>9,.0f} rows/s ({wall:.1f}s)", flush=True)
        procedure = max(procedure_runs, key=lambda r: r["rows_per_s"])
    finally:
        teardown_pipeline(stack, root)

    if not_durable_runs:
        best_off = max(r["rows_per_s"] for r in not_durable_runs)
        results["offsets_not_durable"] = not_durable_runs
        if not kafkaops_runs:
            print(f"offsets not durable (synchronous_commit off): best {best_off:,} rows/s")
            print(f"saved {save(f'produce-{args.rows}-offsets-off', results)}")
            return
        best_on = max(r["rows_per_s"] for r in kafkaops_runs)
        results["durable_offsets_cost"] = round(1 - best_on / best_off, 3)
        print(
            f"\ndurable offsets (synchronous_commit on) vs off: {best_on:,} vs {best_off:,} rows/s (best of {args.repeat}): cost {1 - best_on / best_off:.1%}"
        )
    best_k = max(r["rows_per_s"] for r in kafkaops_runs)
    best_a = max(r["rows_per_s"] for r in raw_runs)
    peak = max(r["peak_rss_mb"] for r in kafkaops_runs)
    ratio_a, ratio_b = best_k / best_a, best_k / procedure["rows_per_s"]
    results.update(
        kafkaops=kafkaops_runs,
        raw=raw_runs,
        procedure=procedure_runs,
        ratio_vs_raw=round(ratio_a, 2),
        ratio_vs_procedure=round(ratio_b, 1),
        kafkaops_peak_rss_mb=peak,
    )
    print()
    print(f"kafkaops vs (a) raw baseline : {ratio_a:.2f}x  (target >= 0.7x)  {'OK' if ratio_a >= 0.7 else 'MISSED'}")
    print(f"kafkaops vs (b) batches of 10: {ratio_b:.1f}x  (target >= 20x)  {'OK' if ratio_b >= 20 else 'MISSED'}")
    print(f"kafkaops peak RSS            : {peak:.0f} MB (target < 200 MB)  {'OK' if peak < 200 else 'MISSED'}")
    print(f"saved {save(f'produce-{args.rows}', results)}")


if __name__ == "__main__":
    main()
