"""The operating system's side of running the embedded PostgreSQL as root (POSIX only): the system
user the server runs as, handing it files, and whether it can walk down to a path. Plain functions
over paths and user names: no settings, no server.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

from kafkaops.errors import ServiceFailed


def closed_parent(path: Path) -> Path | None:
    """The nearest existing folder above ``path`` that other users cannot walk through, if any.

    The server's system user owns none of them, so the "other" search bit decides (ACLs aside)."""
    for parent in path.parents:
        try:
            mode = parent.stat().st_mode
        except FileNotFoundError:
            continue  # created later by kafkaops, with the umask's 0755
        except OSError:
            return parent
        if not mode & stat.S_IXOTH:
            return parent
    return None


def ensure_system_user(name: str) -> None:
    import pwd

    try:
        pwd.getpwnam(name)
        return
    except KeyError:
        pass
    try:
        subprocess.run(["useradd", "--system", "--no-create-home", "-s", "/usr/sbin/nologin", name], check=True, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = exc.stderr.strip() if isinstance(exc, subprocess.CalledProcessError) else str(exc)
        raise ServiceFailed(
            f"PostgreSQL cannot run as root and the system user {name} could not be created: {detail}",
            hint="create the user yourself (useradd --system embedded_postgres), run kafkaops as a normal user, or set DATABASE_URL",
        ) from None


def group_of(user: str) -> int:
    import pwd

    return pwd.getpwnam(user).pw_gid


def chown(path: Path, user: str) -> None:
    import pwd

    entry = pwd.getpwnam(user)
    os.chown(path, entry.pw_uid, entry.pw_gid)


def open_to_others(bins: Path) -> None:
    """The wheel's install tree must be readable by the server's user (pip keeps umask 022, usually).

    Only files inside the wheel's own ``pginstall`` tree are changed, never a folder above it."""
    install = bins.parent
    for dirpath, dirnames, filenames in os.walk(install):
        for d in dirnames:
            p = Path(dirpath) / d
            m = p.stat().st_mode
            if (m & 0o005) != 0o005:
                p.chmod(m | 0o005)
        for f in filenames:
            p = Path(dirpath) / f
            m = p.stat().st_mode
            want = m | stat.S_IROTH | (stat.S_IXOTH if m & stat.S_IXUSR else 0)
            if want != m:
                p.chmod(want)
