"""Guards: pure functions of resolved paths. A reset never empties a root, a home folder, a Kafka installation or kafkaops's own state."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from kafkaops.procedures import services
from kafkaops.settings import Settings


def realpath(path: Path | str, base: Path | None = None) -> Path:
    """The resolved real path; a relative path is taken from ``base`` (default: the current folder)."""
    path = Path(path)
    if base is not None and not path.is_absolute():
        path = base / path
    return Path(os.path.realpath(str(path)))


def service_cwd(settings: Settings) -> Path:
    """The working folder kafkaops starts ZooKeeper and the broker in: relative data paths are taken from it."""
    return settings.kafkaops_home


def _is_within(child: Path, parent: Path) -> bool:
    """Whether ``child`` is ``parent`` or inside it (both already resolved)."""
    if _same(child, parent):
        return True
    try:
        child.relative_to(parent)
        return True
    except ValueError:
        return os.path.normcase(str(child)).startswith(os.path.normcase(str(parent)).rstrip(os.sep) + os.sep)


def _is_root(path: Path) -> bool:
    text = str(path)
    return os.path.dirname(text) == text or path == Path(path.anchor)


@dataclass(frozen=True)
class Protected:
    """Resolved folders a reset must never empty.

    ``whole``: neither these nor any folder containing them (home, KAFKA_HOME, the current folder,
    KAFKAOPS_HOME, the config files). ``state``: kafkaops's own state folders, also never anything
    inside them (pid files, service logs, the embedded PostgreSQL, installed distributions).
    """

    whole: tuple[tuple[str, Path], ...]
    state: tuple[tuple[str, Path], ...] = ()

    @classmethod
    def of(cls, settings: Settings, *, cwd: Path | None = None, home: Path | None = None) -> Protected:
        whole: list[tuple[str, Path]] = []
        try:
            whole.append(("your home folder", realpath(home if home is not None else Path.home())))
        except RuntimeError:  # no home folder can be determined
            pass
        whole.append(("KAFKA_HOME", realpath(settings.kafka_home)))
        whole.append(("the current folder", realpath(cwd if cwd is not None else Path.cwd())))
        whole.append(("KAFKAOPS_HOME", realpath(settings.kafkaops_home)))
        whole.append(("the config file", realpath(settings.server_properties)))
        whole.append(("the config file", realpath(settings.zookeeper_properties)))
        whole.append(("the config file", realpath(services.controller_properties(settings))))  # KRaft's split layout
        ops = settings.kafkaops_home
        state = [
            ("kafkaops's pid files", realpath(settings.run_dir)),
            ("kafkaops's service logs", realpath(settings.logs_dir)),
            ("kafkaops's own config", realpath(ops / "conf")),
            ("the embedded PostgreSQL", realpath(ops / "postgres")),
            ("kafkaops's Kafka distributions", realpath(settings.dists_dir)),
        ]
        return cls(whole=tuple(whole), state=tuple(state))


def hard_guard(real: Path, protected: Protected) -> str | None:
    """Why this resolved folder must never be emptied, whatever its contents; None if it may be."""
    if _is_root(real):
        return "it is a filesystem root"
    for label, path in protected.whole:
        if _is_within(path, real):
            return f"it is {label}" if _same(real, path) else f"it contains {label} {path}"
    for label, path in protected.state:
        if _is_within(real, path) or _is_within(path, real):
            return f"it is {label}" if _same(real, path) else f"it overlaps {label} ({path})"
    return None


def _same(a: Path, b: Path) -> bool:
    return os.path.normcase(str(a)) == os.path.normcase(str(b))
