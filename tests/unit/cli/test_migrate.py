"""kafkaops migrate through Typer's CliRunner: bad input and the refusals that need no service."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from kafkaops.cli import app


def test_to_anything_but_kraft_is_a_usage_error(env: dict[str, str]) -> None:
    res = CliRunner().invoke(app, ["migrate", "--to", "zookeeper"], env=env)
    assert res.exit_code == 2
    assert "kraft only" in res.output


def test_without_to_it_says_where_to(env: dict[str, str]) -> None:
    res = CliRunner().invoke(app, ["migrate"], env=env)
    assert res.exit_code == 2 and "--to kraft" in res.output


def test_rollback_without_a_migration_is_refused_and_changes_nothing(env: dict[str, str]) -> None:
    res = CliRunner().invoke(app, ["migrate", "--rollback"], env=env)
    assert res.exit_code == 5
    assert "no migration to roll back" in res.output
    assert not (Path(env["KAFKAOPS_HOME"]) / "migration").exists()


def test_finalize_without_a_terminal_needs_yes(env: dict[str, str]) -> None:
    res = CliRunner().invoke(app, ["migrate", "--to", "kraft", "--finalize"], env=env)
    assert res.exit_code == 5 and "--yes" in res.output


def test_up_in_the_middle_of_a_migration_is_refused_with_the_resume_command(env: dict[str, str]) -> None:
    from kafkaops.procedures.migrate.state import IN_PROGRESS, MigrationState, write_state

    root = Path(env["KAFKAOPS_HOME"]) / "migration"
    state = MigrationState(
        4, IN_PROGRESS, "cid", 0, 3000, 9093, "/m", "/s", "/z", "/zd", "/k", {"root": str(root)}, {"cluster_id": "cid", "topics": {}, "groups": {}}
    )
    write_state(root / "state.json", state)
    res = CliRunner().invoke(app, ["up"], env=env)
    assert res.exit_code == 5
    assert "migrating (phase 4 of 5): `kafkaops up` does not start a stack in the middle of a migration" in res.output
    assert "kafkaops migrate --to kraft" in res.output
