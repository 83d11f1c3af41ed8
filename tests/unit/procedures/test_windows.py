"""Windows warnings (KAFKA-1194) before a topic delete or a short retention, with the platform injected."""

from __future__ import annotations

from pathlib import Path

import pytest

from kafkaops.procedures import windows
from kafkaops.settings import load_settings


def _settings(tmp_path: Path, broker: str) -> object:
    return load_settings(env={"KAFKAOPS_HOME": str(tmp_path), "KAFKA_BROKER": broker}, cwd=tmp_path)


def test_a_local_broker_on_windows_gets_the_delete_warning_naming_the_runbook(tmp_path: Path) -> None:
    note = windows.delete_warning(_settings(tmp_path, "127.0.0.1:9"), "orders", platform="win32")  # type: ignore[arg-type]
    assert note is not None
    assert "deleting orders" in note and "KAFKA-1194" in note
    assert note.endswith("See: kafkaops runbook failures windows-file-lock")


@pytest.mark.parametrize(("platform", "broker"), [("linux", "127.0.0.1:9"), ("darwin", "localhost:9"), ("win32", "kafka.example.invalid:9092")])
def test_no_warning_off_windows_or_for_a_broker_elsewhere_that_is_not(tmp_path: Path, platform: str, broker: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(windows, "remote_log_dirs", lambda _s: "/var/lib/kafka/data")
    s = _settings(tmp_path, broker)
    assert windows.delete_warning(s, "orders", platform=platform) is None  # type: ignore[arg-type]
    assert windows.retention_warning(s, {"retention.ms": "1000"}, platform=platform) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("configs", "short"),
    [
        ({"retention.ms": "60000"}, ["retention.ms=60000"]),
        ({"retention.ms": "0", "segment.ms": "1000"}, ["retention.ms=0", "segment.ms=1000"]),
        ({"retention.ms": "-1"}, []),  # keep forever
        ({"retention.ms": "86400000"}, []),
        ({"retention.ms": "soon"}, []),  # the broker rejects it; not ours to judge
        ({"cleanup.policy": "delete"}, []),
    ],
)
def test_short_retention_is_under_an_hour(configs: dict[str, str], short: list[str]) -> None:
    assert windows.short_retention(configs) == short


def test_the_retention_warning_names_the_setting_and_the_runbook(tmp_path: Path) -> None:
    note = windows.retention_warning(_settings(tmp_path, "localhost:9"), {"retention.ms": "60000"}, platform="win32")  # type: ignore[arg-type]
    assert note is not None and "retention.ms=60000" in note and note.endswith("kafkaops runbook failures windows-file-lock")


@pytest.mark.parametrize(("log_dirs", "warned"), [("C:\\kafka\\data", True), ("/data/a,D:/kafka-logs", True), ("/var/lib/kafka", False), (None, False)])
def test_a_broker_elsewhere_is_on_windows_when_its_log_dirs_is_a_windows_path(
    tmp_path: Path, log_dirs: str | None, warned: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(windows, "remote_log_dirs", lambda _s: log_dirs)
    note = windows.delete_warning(_settings(tmp_path, "kafka.example.invalid:9092"), "orders", platform="linux")  # type: ignore[arg-type]
    assert (note is not None) == warned
