"""kafkaops produce when things break: SIGKILL at random points (guarantee 3) and the broker stopped
in the middle of a run (guarantee 4). Real PostgreSQL, real brokers, real processes."""

from __future__ import annotations

import random
import time
from collections import defaultdict
from pathlib import Path

from kafkaops.procedures import db
from kafkaops.procedures.produce import MAX_IN_FLIGHT
from tests.conftest import run_kafkaops
from tests.pg_fixtures import make_pipeline, start_produce, stop_broker_once_past


def test_sigkill_at_random_points_loses_nothing(shared_stack, database_url: str, tmp_path: Path) -> None:
    """Guarantee 3: killed repeatedly mid-backlog, then rerun: every row is in the topic; duplicates
    only from batches in flight, identical (same key, same event id, same row)."""
    rows, batch, kills = 50_000, 500, 4
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    p = make_pipeline(shared_stack, database_url, tmp_path, partitions=2)
    db.init(p.settings, demo=True)
    db.seed(p.settings, rows)

    killed_at: list[int] = []
    for _ in range(kills):
        before = p.offset()
        if before >= rows:
            break
        proc = start_produce(p, "--batch-size", str(batch))
        deadline = time.monotonic() + 60
        while p.offset() == before and proc.poll() is None:  # it is producing
            assert time.monotonic() < deadline, f"seed {seed}: no progress"
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.4))
        proc.kill()
        proc.communicate()
        killed_at.append(p.offset())
    assert any(0 < k < rows for k in killed_at), f"seed {seed}: never killed mid-run ({killed_at})"

    r = run_kafkaops(["produce", "--batch-size", str(batch)], p.env, p.root)
    assert r.returncode == 0, r.stderr  # the killed producers' locks went with their sessions
    assert p.offset() == rows

    by_id: dict[int, list] = defaultdict(list)
    for m in p.events(timeout=120):
        by_id[m.row_id].append(m)
    assert sorted(by_id) == list(range(1, rows + 1)), f"seed {seed}: rows missing"
    duplicates = 0
    for row_id, copies in by_id.items():
        first = copies[0]
        for m in copies[1:]:
            duplicates += 1
            assert m.key == first.key == str(row_id)
            assert m.value["id"] == first.value["id"] == f"livedb:{row_id}"
            assert m.value["after"] == first.value["after"]
            assert m.partition == first.partition
    # at most what was in flight at each kill: MAX_IN_FLIGHT batches per kill
    assert duplicates <= len(killed_at) * MAX_IN_FLIGHT * batch, f"seed {seed}: {duplicates} duplicates"


def test_broker_stopped_mid_run(running_stack, database_url: str, tmp_path: Path) -> None:
    """Guarantee 4: the broker goes away during a run: non-zero exit within a bounded time, a clear
    message, the offset at the last acknowledged row; once the broker is back, a rerun loses nothing."""
    from kafkaops.adapters import processes
    from kafkaops.procedures import services

    rows = 400_000
    p = make_pipeline(running_stack, database_url, tmp_path)
    db.init(p.settings, demo=True)
    db.seed(p.settings, rows)

    proc = start_produce(p, "--batch-size", "10", "--delivery-timeout", "10")
    broker_pid = stop_broker_once_past(p, proc, 1000, within=60)
    t0 = time.monotonic()
    _, err = proc.communicate(timeout=120)
    elapsed = time.monotonic() - t0
    print(f"gave up after {elapsed:.1f}s, exit {proc.returncode}: {err}")
    assert proc.returncode == 4, err
    assert elapsed < 60, f"took {elapsed:.0f}s to give up"
    assert "did not acknowledge" in err or "no Kafka broker answered" in err or "sent no delivery report" in err, err
    assert "Sent" not in err
    stopped_at = p.offset()
    assert 1000 <= stopped_at < rows
    assert processes.wait_exit(broker_pid, None, 60)

    services.up(p.settings)
    ids = {m.row_id for m in p.events(timeout=120)}
    assert set(range(1, stopped_at + 1)) <= ids  # everything the offset claims is in the topic

    r = run_kafkaops(["produce"], p.env, p.root, timeout=300)
    assert r.returncode == 0, r.stderr
    assert p.offset() == rows
    ids = {m.row_id for m in p.events(timeout=180)}
    assert ids == set(range(1, rows + 1))
