"""The per-user folders kafkaops uses when KAFKAOPS_HOME / KAFKAOPS_CONFIG_DIR are unset: platformdirs' answer.

On Linux that answer is the XDG base directory rule (an absolute ``$XDG_DATA_HOME`` / ``$XDG_CONFIG_HOME``,
else ``~/.local/share`` / ``~/.config``), worked out here without importing platformdirs, which took about
6 ms of every command (bench/README.md). Everywhere else (macOS, Windows, Android) and for a HOME that
is not an absolute path, platformdirs decides. tests/unit/test_userdirs.py compares the two on Linux.
"""

from __future__ import annotations

import os
import posixpath
import sys
from pathlib import Path

APP = "kafkaops"


def _linux_xdg(variable: str, fallback: str) -> Path | None:
    """``$variable/kafkaops`` (absolute values only) or ``fallback/kafkaops``; None off plain Linux."""
    android = os.environ.get("ANDROID_DATA") == "/data" and os.environ.get("ANDROID_ROOT") == "/system"
    if not sys.platform.startswith("linux") or android:
        return None
    base = os.environ.get(variable, "")
    if not posixpath.isabs(base):
        base = os.path.expanduser(fallback)
        if not posixpath.isabs(base):
            return None
    return Path(base) / APP


def user_data_dir() -> Path:
    """Where kafkaops keeps its state by default (KAFKAOPS_HOME)."""
    found = _linux_xdg("XDG_DATA_HOME", "~/.local/share")
    if found is not None:
        return found
    from platformdirs import user_data_dir as platform_data_dir

    return Path(platform_data_dir(APP, appauthor=False))


def user_config_dir() -> Path:
    """Where profiles.toml lives by default (KAFKAOPS_CONFIG_DIR)."""
    found = _linux_xdg("XDG_CONFIG_HOME", "~/.config")
    if found is not None:
        return found
    from platformdirs import user_config_dir as platform_config_dir

    return Path(platform_config_dir(APP, appauthor=False, roaming=True))
