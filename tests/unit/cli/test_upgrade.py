"""`kafkaops upgrade` without services: the refusal on a ZooKeeper-mode stack, and who may say yes to metadata.version."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from kafkaops.adapters.javaprops import write_properties
from kafkaops.cli import app
from kafkaops.procedures import upgrade
from kafkaops.procedures.layout import kraft_combined_config


def test_a_zookeeper_mode_stack_is_refused_with_exit_5(env: dict[str, str], tmp_path: Path) -> None:
    write_properties(tmp_path / "server.properties", {"broker.id": "0", "zookeeper.connect": "localhost:2181"})
    env["KAFKAOPS_SERVER_PROPERTIES"] = str(tmp_path / "server.properties")
    result = CliRunner().invoke(app, ["upgrade", "--version", "4.4.0", "--yes"], env=env)
    assert result.exit_code == 5
    assert "error: the stack runs in ZooKeeper mode" in result.stderr and "hint: migrate it to KRaft first: kafkaops migrate --to kraft" in result.stderr


@pytest.mark.parametrize(("args", "raised"), [(["--yes"], True), ([], False)])
def test_metadata_version_is_raised_only_with_yes_when_there_is_no_terminal(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], raised: bool
) -> None:
    (tmp_path / "kafka" / "libs").mkdir(parents=True)
    (tmp_path / "kafka" / "libs" / "kafka_2.13-4.4.0.jar").write_bytes(b"")
    write_properties(tmp_path / "server.properties", kraft_combined_config(tmp_path / "data"))
    env["KAFKAOPS_SERVER_PROPERTIES"] = str(tmp_path / "server.properties")

    def run(settings: Any, plan: upgrade.UpgradePlan, *, confirm: Any, progress: Any) -> upgrade.UpgradeResult:
        plan.metadata.current, plan.metadata.target = "3.9-IV0", "4.4-IV2"
        plan.metadata.raised = confirm("raise?")
        plan.metadata.reason = None if plan.metadata.raised else "not confirmed"
        return upgrade.UpgradeResult(plan, dry_run=False)

    monkeypatch.setattr(upgrade, "run", run)
    result = CliRunner().invoke(app, ["upgrade", "--version", "4.4.0", *args], env=env)
    assert result.exit_code == 0, result.stderr
    if raised:
        assert "metadata.version raised from 3.9-IV0 to 4.4-IV2" in result.stderr
    else:
        assert "metadata.version is raised only with --yes when there is no terminal" in result.stderr
        assert "metadata.version stays 3.9-IV0; raise it to 4.4-IV2 with: kafkaops upgrade --version 4.4.0 --yes" in result.stderr


def test_a_dry_run_on_a_stopped_stack_prints_the_plan_and_changes_nothing(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "kafka" / "libs").mkdir(parents=True)
    (tmp_path / "kafka" / "libs" / "kafka_2.13-3.9.2.jar").write_bytes(b"")
    port = env["KAFKA_BROKER"].rsplit(":", 1)[1]
    write_properties(tmp_path / "server.properties", kraft_combined_config(tmp_path / "data", port=int(port)))
    env["KAFKAOPS_SERVER_PROPERTIES"] = str(tmp_path / "server.properties")
    result = CliRunner().invoke(app, ["upgrade", "--version", "4.4.0", "--dry-run"], env=env)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "kafkaops upgrade plan (nothing was changed): Kafka 3.9.2 -> 4.4.0"
    assert lines[2] == f"2. install Kafka 4.4.0 into {tmp_path / 'ops' / 'kafka' / '4.4.0'}"
    assert lines[-1].startswith("9. raise metadata.version from the finalized level to the newest stable level of Kafka 4.4.0 (only when confirmed")
    assert "metadata.version not read: the stack is not up" in result.stderr
    assert not (tmp_path / "ops" / "kafka").exists() and not (tmp_path / "ops" / "stack.json").exists()
