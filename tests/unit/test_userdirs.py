"""kafkaops.userdirs gives platformdirs' folders without importing it on Linux: the same answers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import platformdirs
import pytest

from kafkaops import userdirs

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="elsewhere kafkaops asks platformdirs itself")


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"XDG_DATA_HOME": "", "XDG_CONFIG_HOME": ""},
        {"XDG_DATA_HOME": "/srv/data/", "XDG_CONFIG_HOME": "/etc/xdg-user"},
        {"XDG_DATA_HOME": "relative/data", "XDG_CONFIG_HOME": "~/cfg"},  # not absolute: ignored, as the XDG rule says
        {"HOME": "/home/other"},
        {"HOME": "/"},
    ],
)
def test_the_same_folders_as_platformdirs(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "ANDROID_DATA", "ANDROID_ROOT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert userdirs.user_data_dir() == Path(platformdirs.user_data_dir("kafkaops", appauthor=False))
    assert userdirs.user_config_dir() == Path(platformdirs.user_config_dir("kafkaops", appauthor=False, roaming=True))


def test_a_relative_home_is_left_to_platformdirs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.setenv("HOME", "not/absolute")
    assert userdirs._linux_xdg("XDG_CONFIG_HOME", "~/.config") is None
    assert userdirs.user_config_dir() == Path(platformdirs.user_config_dir("kafkaops", appauthor=False, roaming=True))


def test_the_default_folders_cost_no_platformdirs_import(tmp_path: Path) -> None:
    code = (
        "import sys; from pathlib import Path; from kafkaops.settings import load_settings; s = load_settings(env={}, cwd=Path(sys.argv[1]));"
        "print(s.kafkaops_home, 'platformdirs' in sys.modules)"
    )
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, env=env, check=True)
    assert r.stdout == f"{tmp_path / '.local' / 'share' / 'kafkaops'} False\n", r.stderr
