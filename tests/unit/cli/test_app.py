"""The application object on the Typer context: a test can swap how settings are built."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from typer.testing import CliRunner

from kafkaops.cli import App, app
from kafkaops.settings import Settings, load_settings


def test_a_test_can_swap_the_settings_factory(env: dict[str, str]) -> None:
    seen: list[tuple[dict[str, object | None], Path | None]] = []

    def factory(flags: Mapping[str, object | None], env_file: Path | None) -> Settings:
        seen.append((dict(flags), env_file))
        return load_settings(flags, env_file=env_file)

    result = CliRunner().invoke(app, ["--broker", "127.0.0.1:1", "consume", "news", "--format", "xml"], env=env, obj=App(settings_factory=factory))
    assert result.exit_code == 2, result.output
    assert "--format 'xml' is not one of pretty, json, raw" in result.output
    [(flags, env_file)] = seen
    assert flags["kafka_broker"] == "127.0.0.1:1"
    assert flags["kafka_topic"] == "news"
    assert env_file is None
