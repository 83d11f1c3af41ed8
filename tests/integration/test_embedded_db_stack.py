"""up / down / status manage kafkaops's own PostgreSQL when DATABASE_URL is unset, and never touch one that is set."""

from __future__ import annotations

import json

from tests.conftest import Stack, run_kafkaops


def test_up_starts_and_down_stops_the_embedded_database(stack: Stack) -> None:
    import psycopg

    from kafkaops.adapters import embedded_pg

    env = dict(stack.env, KAFKAOPS_EMBEDDED_DB="auto")
    res = run_kafkaops(["up"], env, stack.root)
    assert res.returncode == 0, res.stderr
    assert "embedded PostgreSQL started" in res.stderr
    settings = stack.settings.with_overrides(embedded_db=True)
    with psycopg.connect(embedded_pg.database_url(settings), connect_timeout=5) as conn:
        assert conn.execute("select 1").fetchone() == (1,)

    st = run_kafkaops(["status", "--json"], env, stack.root)
    assert st.returncode == 0, st.stderr
    db = json.loads(st.stdout)["services"][2]
    assert db["service"] == "postgres" and db["state"] == "running" and db["health"]["embedded"] is True
    assert ":***@" in db["health"]["url"]

    again = run_kafkaops(["up"], env, stack.root)
    assert again.returncode == 0 and "embedded PostgreSQL already running" in again.stderr

    down = run_kafkaops(["down"], env, stack.root)
    assert down.returncode == 0, down.stderr
    assert "embedded PostgreSQL stopped" in down.stderr
    assert down.stderr.index("ZooKeeper stopped") < down.stderr.index("embedded PostgreSQL stopped")
    st = run_kafkaops(["status", "--json"], env, stack.root)
    assert st.returncode == 3
    assert json.loads(st.stdout)["services"][2]["state"] == "stopped"


def test_a_configured_database_url_is_never_started_or_stopped(stack: Stack) -> None:
    env = dict(stack.env, KAFKAOPS_EMBEDDED_DB="auto", DATABASE_URL="postgresql://alice:s3cret-pw@127.0.0.1:1/nowhere")
    res = run_kafkaops(["up", "--no-topic"], env, stack.root)
    assert res.returncode == 0, res.stderr
    assert "PostgreSQL" not in res.stderr
    assert not (stack.root / "ops" / "postgres").exists()
    st = run_kafkaops(["status", "--json"], env, stack.root)
    assert st.returncode == 0, st.stderr
    db = json.loads(st.stdout)["services"][2]
    assert db["state"] == "external"
    assert "s3cret-pw" not in st.stdout + st.stderr
    table = run_kafkaops(["status"], env, stack.root)
    assert "s3cret-pw" not in table.stdout + table.stderr and "alice:***@" in table.stdout
    down = run_kafkaops(["down"], env, stack.root)
    assert down.returncode == 0 and "PostgreSQL" not in down.stderr
