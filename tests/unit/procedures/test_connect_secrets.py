"""The database password stays out of the connector's config where the workers resolve ${file:...} references."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from kafkaops.adapters.javaprops import read_properties
from kafkaops.procedures.connect import secrets, workers
from kafkaops.settings import load_settings

PASSWORD = "s3cr=t:pa}ss wörd"  # the characters the properties format and Connect's ${...} syntax care about


def _settings(tmp_path: Path, **env: str):  # noqa: ANN202
    return load_settings(env={"KAFKAOPS_HOME": str(tmp_path / "home"), "KAFKA_BROKER": "localhost:9", **env}, cwd=tmp_path)


def test_workers_kafkaops_starts_name_the_file_provider_for_the_secrets_folder_only(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    props = workers.worker_properties(settings, 18083, 1)
    assert props["config.providers"] == "file"
    assert props["config.providers.file.class"] == "org.apache.kafka.common.config.provider.FileConfigProvider"
    assert props["config.providers.file.param.allowed.paths"] == str((tmp_path / "home" / "secrets").resolve())
    assert secrets.provider_ready(props)
    assert not secrets.provider_ready({"config.providers": "env", "config.providers.env.class": "x"})


def test_a_local_worker_gets_a_reference_and_the_password_sits_in_a_0600_file(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    warnings: list[str] = []
    value = secrets.password_value(settings, "kafkaops-x", PASSWORD, provider_ready=True, warn=warnings.append)
    path = secrets.secret_path(settings, "kafkaops-x")
    assert value == f"${{file:{path}:database.password}}" and PASSWORD not in value
    assert warnings == []
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_properties(path).values["database.password"] == PASSWORD  # what Java's Properties.load reads back
    assert secrets.remove_secret(settings, "kafkaops-x") and not path.exists()
    assert not secrets.remove_secret(settings, "kafkaops-x")


def test_a_remote_cluster_keeps_the_password_and_is_warned(tmp_path: Path) -> None:
    settings = _settings(tmp_path, KAFKA_CONNECT_URL="http://connect.example:8083")
    warnings: list[str] = []
    assert secrets.password_value(settings, "c", PASSWORD, provider_ready=True, warn=warnings.append) == PASSWORD
    assert len(warnings) == 1 and "remote Connect cluster (http://connect.example:8083)" in warnings[0] and PASSWORD not in warnings[0]
    assert not secrets.secret_path(settings, "c").exists()


def test_workers_started_without_the_provider_keep_the_password_and_say_restart_them(tmp_path: Path) -> None:
    warnings: list[str] = []
    assert secrets.password_value(_settings(tmp_path), "c", PASSWORD, provider_ready=False, warn=warnings.append) == PASSWORD
    assert len(warnings) == 1 and "kafkaops connect down && kafkaops connect up" in warnings[0]


@pytest.mark.parametrize("home", ["C:", "we}ird"])
def test_a_path_connects_syntax_cannot_hold_keeps_the_password_and_says_why(tmp_path: Path, home: str) -> None:
    settings = _settings(tmp_path / home)
    warnings: list[str] = []
    assert secrets.password_value(settings, "c", PASSWORD, provider_ready=True, warn=warnings.append) == PASSWORD
    assert len(warnings) == 1 and "${file:PATH:KEY}" in warnings[0]


def test_no_password_no_file(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    assert secrets.password_value(settings, "c", "", provider_ready=True, warn=lambda m: None) == ""
    assert not secrets.secret_path(settings, "c").exists()


def test_the_secrets_folder_is_owner_only(tmp_path: Path) -> None:
    folder = secrets.ensure_secrets_dir(_settings(tmp_path))
    assert folder.is_dir() and stat.S_IMODE(folder.stat().st_mode) == 0o700
