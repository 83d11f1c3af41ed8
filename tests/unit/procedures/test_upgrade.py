"""kafkaops upgrade's plan and its failure reports, without services (its verification: test_cluster_snapshot.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kafkaops.adapters.javaprops import write_properties
from kafkaops.errors import KafkaopsError, RefusedError, UsageError
from kafkaops.procedures import upgrade
from kafkaops.procedures.layout import kraft_broker_config, kraft_controller_config
from kafkaops.settings import Settings, load_settings


def fake_install(home: Path, version: str) -> Path:
    (home / "libs").mkdir(parents=True)
    (home / "libs" / f"kafka_2.13-{version}.jar").write_bytes(b"")
    return home


def split_settings(tmp_path: Path, conf: Path, kafka_home: Path, **env: str) -> Settings:
    write_properties(conf / "controller.properties", kraft_controller_config(tmp_path / "data" / "controller", 19093))
    write_properties(conf / "server.properties", kraft_broker_config(tmp_path / "data" / "broker", 19092, 19093))
    base = {"KAFKAOPS_HOME": str(tmp_path / "ops"), "KAFKA_HOME": str(kafka_home), "KAFKAOPS_SERVER_PROPERTIES": str(conf / "server.properties")}
    return load_settings(env={**base, **env}, cwd=tmp_path)


def test_a_zookeeper_mode_stack_is_refused_with_the_remedy(tmp_path: Path) -> None:
    home = fake_install(tmp_path / "k", "3.9.2")
    (tmp_path / "server.properties").write_text("broker.id=0\nzookeeper.connect=localhost:2181\n")
    settings = load_settings(
        env={"KAFKAOPS_HOME": str(tmp_path / "ops"), "KAFKA_HOME": str(home), "KAFKAOPS_SERVER_PROPERTIES": str(tmp_path / "server.properties")}, cwd=tmp_path
    )
    with pytest.raises(RefusedError, match="ZooKeeper mode") as err:
        upgrade.make_plan(settings, "4.4.0")
    assert err.value.exit_code == 5 and "kafkaops migrate --to kraft" in (err.value.hint or "")


def test_the_plan_copies_configs_out_of_the_old_install_folder(tmp_path: Path) -> None:
    home = fake_install(tmp_path / "ops" / "kafka" / "3.9.2", "3.9.2")
    settings = split_settings(tmp_path, home / "config", home)
    plan = upgrade.make_plan(settings, "4.4.0")
    dest = tmp_path / "ops" / "stack-config"
    assert plan.configs == [
        {"from": str(home / "config" / "server.properties"), "to": str(dest / "server.properties")},
        {"from": str(home / "config" / "controller.properties"), "to": str(dest / "controller.properties")},
    ]
    assert plan.server_properties == str(dest / "server.properties") and plan.install_needed and plan.binaries_change
    assert plan.to_home == str(tmp_path / "ops" / "kafka" / "4.4.0") and plan.layout == "split"
    assert any(s.startswith("3. copy the configs") for s in plan.steps)
    upgrade.copy_configs(plan)
    assert (dest / "controller.properties").read_bytes() == (home / "config" / "controller.properties").read_bytes()
    (dest / "server.properties").write_text("# changed by hand\n")
    with pytest.raises(RefusedError, match="exists and differs"):  # kafkaops's copy is never overwritten either
        upgrade.copy_configs(plan)


def test_configs_outside_the_install_folder_stay_where_they_are(tmp_path: Path) -> None:
    home = fake_install(tmp_path / "k", "3.9.2")
    settings = split_settings(tmp_path, tmp_path / "conf", home)
    plan = upgrade.make_plan(settings, "4.4.0", "4.1-IV1")
    assert plan.configs == [] and plan.server_properties == str(tmp_path / "conf" / "server.properties")
    assert plan.metadata.target == "4.1-IV1"


def test_upgrade_refuses_a_downgrade_and_a_non_4x_version(tmp_path: Path) -> None:
    settings = split_settings(tmp_path, tmp_path / "conf", fake_install(tmp_path / "k", "4.4.0"))
    with pytest.raises(RefusedError, match="older than the 4.4.0"):
        upgrade.make_plan(settings, "4.1.1")
    with pytest.raises(UsageError, match="not a Kafka 4.x release"):
        upgrade.make_plan(settings, "3.9.2")
    same = upgrade.make_plan(settings, "4.4.0")  # only the metadata step is left
    assert not same.binaries_change and not same.install_needed and same.to_home == str(tmp_path / "k")


def test_a_failure_names_the_step_what_runs_and_the_next_command(tmp_path: Path) -> None:
    settings = split_settings(tmp_path, tmp_path / "conf", fake_install(tmp_path / "k", "3.9.2"))
    plan = upgrade.make_plan(settings, "4.4.0")
    with pytest.raises(KafkaopsError) as err, upgrade.step(6, settings, plan, lambda _m: None):
        raise KafkaopsError("controller exited while starting", hint="read the log")
    exc = err.value
    assert exc.message == "upgrade stopped at step 6 of 9 (start on the new binaries): controller exited while starting"
    assert "running now: nothing of the stack" in exc.details and "about the cause: read the log" in exc.details
    assert "`kafkaops down` then `kafkaops up` runs the old binaries again" in (exc.hint or "")
