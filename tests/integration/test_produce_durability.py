"""The producer's offset survives a PostgreSQL crash: after an immediate-mode stop (SIGQUIT to the
postmaster: no checkpoint, no flush; recovery from the WAL on restart) the offset is the last one the
producer committed, so the next run re-sends nothing that Kafka had already acknowledged."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from kafkaops.adapters import embedded_pg
from kafkaops.settings import Settings, load_settings
from tests.conftest import free_port, run_kafkaops
from tests.pg_fixtures import make_pipeline


@pytest.fixture
def own_pg() -> Iterator[Settings]:
    """A PostgreSQL of this test's own (it is crashed), on a free port."""
    home = Path(tempfile.mkdtemp(prefix="kafkaops-test-pg-crash-"))
    settings = load_settings(env={"KAFKAOPS_HOME": str(home / "ops")}, cwd=home)
    assert embedded_pg.start(settings, port_=free_port(), timeout=60).started
    yield settings
    embedded_pg.stop(settings, timeout=30)
    shutil.rmtree(home, ignore_errors=True)


def _crash(settings: Settings) -> None:
    """An immediate-mode stop: what a power cut leaves is what the WAL on disk says."""
    pid = embedded_pg.server_pid(settings)
    assert pid is not None
    os.kill(pid, signal.SIGQUIT)
    deadline = time.monotonic() + 30
    while embedded_pg.server_pid(settings) is not None:
        assert time.monotonic() < deadline, "the crashed PostgreSQL did not go away"
        time.sleep(0.05)


def test_the_offset_survives_a_database_crash_right_after_a_run(shared_stack, own_pg: Settings, tmp_path: Path) -> None:
    url = embedded_pg.database_url(own_pg)
    with psycopg.connect(url, autocommit=True) as conn:
        # Commits that do not wait for the WAL flush would now stay unflushed for up to 10 s.
        conn.execute("ALTER SYSTEM SET wal_writer_delay = '10s'")
        conn.execute("SELECT pg_reload_conf()")
    p = make_pipeline(shared_stack, url, tmp_path)
    for args in (["db", "init", "--demo"], ["db", "seed", "3000"]):
        assert run_kafkaops(args, p.env, p.root).returncode == 0

    r = run_kafkaops(["produce", "--batch-size", "100"], p.env, p.root)
    assert r.returncode == 0, r.stderr
    assert r.stderr.rstrip().endswith("Sent 3000 events to Kafka; offset now 3000")
    _crash(own_pg)
    embedded_pg.start(own_pg, timeout=60)

    assert p.offset() == 3000  # the last acknowledged batch's offset, recovered from the WAL
    again = run_kafkaops(["produce"], p.env, p.root)
    assert again.returncode == 0, again.stderr
    assert "No new rows in public.livedb; offset stays at 3000" in again.stderr, again.stderr
    assert sorted(m.row_id for m in p.events()) == list(range(1, 3001))  # nothing sent twice
