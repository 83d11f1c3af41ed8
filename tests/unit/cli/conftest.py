"""CLI tests: settings that point at nothing (a closed port, empty folders), so no service is reached."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import free_port


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)  # no stray .env
    return {
        "KAFKA_BROKER": f"127.0.0.1:{free_port()}",  # closed: nothing listens there
        "KAFKAOPS_HOME": str(tmp_path / "ops"),
        "KAFKA_HOME": str(tmp_path / "kafka"),
        "NO_COLOR": "1",
    }
