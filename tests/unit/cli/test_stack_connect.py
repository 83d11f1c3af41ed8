"""`kafkaops up --with connect`, `down` and `status` with Kafka Connect, without services: what is refused before
anything starts, and the worker rows status shows for a worker that ran here or a remote cluster."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kafkaops.adapters.javaprops import write_properties
from kafkaops.cli import app
from kafkaops.procedures.connect import stack as connect_stack
from kafkaops.settings import load_settings
from tests.conftest import free_port


def _worker_ran_here(env: dict[str, str], n: int, port: int) -> None:
    write_properties(Path(env["KAFKAOPS_HOME"]) / "conf" / f"connect-{n}.properties", {"listeners": f"http://127.0.0.1:{port}"})


def test_status_without_connect_has_no_connect_key_and_no_worker_row(env: dict[str, str]) -> None:
    doc = json.loads(CliRunner().invoke(app, ["status", "--json"], env=env).stdout)
    assert "connect" not in doc
    table = CliRunner().invoke(app, ["status"], env=env).stdout
    assert "connect-" not in table


def test_status_shows_a_worker_that_ran_here_as_stopped(env: dict[str, str]) -> None:
    _worker_ran_here(env, 1, 18083)
    result = CliRunner().invoke(app, ["status", "--json"], env=env)
    doc = json.loads(result.stdout)
    assert doc["connect"] == {
        "remote": False,
        "workers": [{"name": "connect-1", "state": "stopped", "url": "http://127.0.0.1:18083", "pid": None, "version": None, "connectors": [], "detail": None}],
    }
    table = CliRunner().invoke(app, ["status"], env=env).stdout
    row = next(line for line in table.splitlines() if line.startswith("connect-1"))
    assert [c for c in row.replace("│", " ").split()][:3] == ["connect-1", "stopped", "18083"] and "http://127.0.0.1:18083" in row


def test_status_with_a_remote_connect_cluster_that_does_not_answer(env: dict[str, str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(app, ["status", "--json"], env={**env, "KAFKA_CONNECT_URL": url})
    doc = json.loads(result.stdout)
    assert result.exit_code == 3
    assert doc["connect"]["remote"] is True
    assert [(w["name"], w["state"], w["url"]) for w in doc["connect"]["workers"]] == [("remote", "unreachable", url)]


def test_status_with_a_connect_url_that_is_no_url_or_holds_a_password_still_shows_the_stack(env: dict[str, str]) -> None:
    # KAFKA_CONNECT_URL=host:port made status exit 2 with no table at all; a URL with a password printed it.
    result = CliRunner().invoke(app, ["status", "--json"], env={**env, "KAFKA_CONNECT_URL": "localhost:8083"})
    doc = json.loads(result.stdout)
    assert result.exit_code == 3 and doc["services"]
    (row,) = doc["connect"]["workers"]
    assert row["state"] == "error" and "is not an http(s) URL" in row["detail"]
    url = f"http://admin:s3cret@127.0.0.1:{free_port()}"
    for args in (["status", "--json"], ["status"]):
        result = CliRunner().invoke(app, args, env={**env, "KAFKA_CONNECT_URL": url})
        assert result.exit_code == 3 and "s3cret" not in result.stdout + result.stderr
        assert "admin:***@127.0.0.1" in result.stdout


def test_up_with_an_unknown_part_is_a_usage_error(env: dict[str, str]) -> None:
    result = CliRunner().invoke(app, ["up", "--with", "connector"], env=env)
    assert result.exit_code == 2
    assert "--with connector: unknown part" in result.stderr


def test_up_with_connect_against_a_remote_cluster_is_refused_before_anything_starts(env: dict[str, str]) -> None:
    result = CliRunner().invoke(app, ["up", "--with", "connect"], env={**env, "KAFKA_CONNECT_URL": "http://connect.example:8083"})
    assert result.exit_code == 5
    assert "remote Connect cluster" in result.stderr
    assert not (Path(env["KAFKAOPS_HOME"]) / "run").exists()  # nothing was started


def test_up_with_connect_without_an_install_says_how_to_get_one_before_anything_starts(env: dict[str, str]) -> None:
    result = CliRunner().invoke(app, ["up", "--with", "connect"], env=env)
    assert result.exit_code == 1
    assert "Kafka Connect is not installed in " in result.stderr and "kafkaops install --with connect" in result.stderr
    assert not (Path(env["KAFKAOPS_HOME"]) / "run").exists()


def test_the_last_layout_is_the_worker_count_and_first_port_that_ran_here(env: dict[str, str], tmp_path: Path) -> None:
    settings = load_settings(env=env, cwd=tmp_path)
    assert connect_stack.last_layout(settings) == (1, None)  # the first time: one worker, connect up's default port
    _worker_ran_here(env, 1, 18083)
    _worker_ran_here(env, 2, 18084)
    assert connect_stack.last_layout(settings) == (2, 18083)
    assert connect_stack.down(settings) == []  # no pid file: nothing to stop, nothing said


def test_up_with_connect_and_down_hold_the_stack_lock_across_the_workers_and_the_services(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    # up released the lock before starting the workers, and down stopped them before taking it: a `down` run
    # during `up --with connect` stopped the broker and left the workers that up started next running against it.
    from types import SimpleNamespace

    from kafkaops.adapters import locks
    from kafkaops.procedures import services

    held: dict[str, object] = {}

    def holder(step: str) -> None:
        (lock,) = locks._held.values()  # exactly the stack lock, by this process
        held[step] = lock

    def fake_up(*_a: object, **_k: object) -> object:
        holder("services up")
        return SimpleNamespace(services=[], database=None, topic=None)

    def fake_down(*_a: object, **_k: object) -> object:
        holder("services down")
        return SimpleNamespace(services=[])

    def workers_up(*_a: object, **_k: object) -> list[object]:
        holder("workers up")
        return []

    def workers_down(*_a: object, **_k: object) -> list[object]:
        holder("workers down")
        return []

    monkeypatch.setattr(services, "up", fake_up)
    monkeypatch.setattr(services, "down", fake_down)
    monkeypatch.setattr(connect_stack, "check_before_up", lambda _s: None)
    monkeypatch.setattr(connect_stack, "up", workers_up)
    monkeypatch.setattr(connect_stack, "down", workers_down)
    assert CliRunner().invoke(app, ["up", "--with", "connect"], env=env).exit_code == 0
    assert CliRunner().invoke(app, ["down"], env=env).exit_code == 0
    assert held["services up"] is held["workers up"] and held["workers down"] is held["services down"]  # one hold each, not two
    assert not locks._held


def test_connect_up_and_down_on_their_own_take_the_stack_lock(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    from kafkaops.adapters import locks
    from kafkaops.procedures.connect import workers

    seen: list[int] = []
    monkeypatch.setattr(workers, "require_connect", lambda _home: None)
    monkeypatch.setattr(workers, "_up", lambda *_a: seen.append(len(locks._held)) or [])
    monkeypatch.setattr(workers, "_stop_local", lambda *_a: seen.append(len(locks._held)) or [])
    settings = load_settings(env=env)
    workers.up(settings, "java", 1)
    workers.down(settings)
    assert seen == [1, 1] and not locks._held
