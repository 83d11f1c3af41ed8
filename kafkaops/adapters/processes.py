"""Processes and ports: the only module that starts, signals or inspects OS processes.

It has a POSIX branch and a Windows branch. On Windows a JVM gets a console of its own (hidden), and a
graceful stop is a Ctrl+C raised in that console by a short-lived helper that attaches to it: the JVM
treats CTRL_C_EVENT like SIGINT and runs its shutdown hooks, whereas CTRL_BREAK only dumps threads and
a process started with CREATE_NEW_PROCESS_GROUP ignores Ctrl+C altogether.
"""

from __future__ import annotations

import ntpath
import os
import posixpath
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from kafkaops.errors import KafkaopsError

if TYPE_CHECKING:
    import psutil

IS_WINDOWS = sys.platform == "win32"

# Windows process creation flags and console API constants (also used by the unit tests).
CREATE_NEW_CONSOLE = 0x00000010
CREATE_NO_WINDOW = 0x08000000
CTRL_C_EVENT = 0
SW_HIDE = 0
STARTF_USESHOWWINDOW = 0x00000001

# The helper that raises Ctrl+C in another process's console (Windows only). It detaches from its
# own console, attaches to the target's, ignores Ctrl+C itself, and raises it for the whole console.
WINDOWS_CTRL_C_HELPER = """
import ctypes, sys
k = ctypes.windll.kernel32
pid = int(sys.argv[1])
k.FreeConsole()
if not k.AttachConsole(pid):
    sys.exit(2)
k.SetConsoleCtrlHandler(None, True)
ok = k.GenerateConsoleCtrlEvent(0, 0)
sys.exit(0 if ok else 3)
"""


@dataclass(frozen=True)
class ProcInfo:
    pid: int
    name: str
    cmdline: tuple[str, ...]
    create_time: float

    @property
    def command(self) -> str:
        return " ".join(self.cmdline) if self.cmdline else self.name

    def runs(self, marker: str) -> bool:
        """Whether this process's command line contains ``marker`` as an argument (a main class)."""
        return marker in self.cmdline


# A JVM's command line reads empty for about a millisecond right after it starts (the java launcher
# on Linux; measured: 4 of 300 launches read at once). A process that young is read again for up to
# this long before its empty command line is believed: an empty one fails every "is it ours" check.
YOUNG_PROCESS_S = 2.0
EMPTY_CMDLINE_WAIT_S = 0.2


def proc_info(pid: int) -> ProcInfo | None:
    import psutil

    try:
        proc = psutil.Process(pid)
        with proc.oneshot():
            try:
                cmdline = tuple(proc.cmdline())
            except (psutil.AccessDenied, psutil.ZombieProcess):
                cmdline = ()
            if proc.status() == psutil.STATUS_ZOMBIE:
                return None
            name, create_time = proc.name(), proc.create_time()
        if not cmdline and time.time() - create_time < YOUNG_PROCESS_S:
            cmdline = _cmdline_once_set(proc)
        return ProcInfo(pid=pid, name=name, cmdline=cmdline, create_time=create_time)
    except (psutil.NoSuchProcess, psutil.AccessDenied, ProcessLookupError):
        return None


def _cmdline_once_set(proc: psutil.Process) -> tuple[str, ...]:
    """A just-started process's command line, read again until it is set (or EMPTY_CMDLINE_WAIT_S passed)."""
    import psutil

    deadline = time.monotonic() + EMPTY_CMDLINE_WAIT_S
    while time.monotonic() < deadline:
        time.sleep(0.002)
        try:
            cmdline = tuple(proc.cmdline())
        except (psutil.AccessDenied, psutil.ZombieProcess):
            return ()
        if cmdline:
            return cmdline
    return ()


# How far a process's start time may differ from the one recorded at launch and still be the same
# process (psutil derives it from clock ticks since boot; a reused pid starts later by far more).
START_TIME_TOLERANCE = 1.0
JAVA_NAMES = ("java",)
JAVA_NAMES_WINDOWS = ("java.exe", "javaw.exe", "java")


def same_start(create_time: float, recorded: float) -> bool:
    return abs(create_time - recorded) < START_TIME_TOLERANCE


def is_alive(pid: int, create_time: float | None = None) -> bool:
    info = proc_info(pid)
    if info is None:
        return False
    return create_time is None or same_start(info.create_time, create_time)


def _norm_path(path: str, windows: bool) -> str:
    # Windows paths compare without regard to case or slash direction; POSIX paths exactly.
    return ntpath.normcase(ntpath.normpath(path)) if windows else posixpath.normpath(path)


def runs_java_main(info: ProcInfo, main_class: str, config: str, *, windows: bool | None = None) -> bool:
    """Whether a process is what kafkaops launches: a JVM running ``main_class`` with ``config`` right after it.

    A pid file's word is never enough to signal a process: this is the check of its real command
    line (``windows`` defaults to this platform; the tests pass it to cover both branches).
    """
    windows = IS_WINDOWS if windows is None else windows
    args = info.cmdline
    if not args:
        return False  # its command line cannot be read: it cannot be verified
    exe = (ntpath.basename(args[0]).lower()) if windows else posixpath.basename(args[0])
    if exe not in (JAVA_NAMES_WINDOWS if windows else JAVA_NAMES):
        return False
    try:
        at = args.index(main_class)
    except ValueError:
        return False
    return at + 1 < len(args) and _norm_path(args[at + 1], windows) == _norm_path(config, windows)


def find_processes(marker: str) -> list[ProcInfo]:
    """Every live process whose command line has ``marker`` as an argument (e.g. ``kafka.Kafka``)."""
    import psutil

    found: list[ProcInfo] = []
    for proc in psutil.process_iter(["pid", "name", "cmdline", "create_time"]):
        cmd = proc.info.get("cmdline") or []
        if marker in cmd:
            found.append(ProcInfo(proc.info["pid"], proc.info["name"] or "", tuple(cmd), proc.info["create_time"] or 0.0))
    return found


def port_owner(port: int) -> ProcInfo | None:
    """The process listening on a TCP port, if the OS lets us see it."""
    import psutil

    try:
        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
                return proc_info(conn.pid)
        return None
    except (psutil.AccessDenied, PermissionError):
        pass
    # macOS and some locked-down systems: ask each process we may inspect.
    for proc in psutil.process_iter(["pid"]):
        try:
            for pconn in proc.net_connections(kind="tcp"):  # psutil's per-process record, another type than net_connections()'s
                if pconn.status == psutil.CONN_LISTEN and pconn.laddr and pconn.laddr.port == port:
                    return proc_info(proc.pid)
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    return None


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host or "127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def port_bindable(host: str, port: int) -> bool:
    """Whether this process could bind host:port now (a free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        if not IS_WINDOWS:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


class LaunchOptions(TypedDict, total=False):
    """The per-platform keyword arguments of ``subprocess.Popen`` that ``launch_options`` returns."""

    creationflags: int
    startupinfo: Any  # subprocess.STARTUPINFO, which exists on Windows only
    start_new_session: bool


def launch_options() -> LaunchOptions:
    """Popen keyword arguments that detach a service from this terminal, per platform."""
    if IS_WINDOWS:
        startupinfo = subprocess.STARTUPINFO()  # type: ignore[attr-defined]
        startupinfo.dwFlags |= STARTF_USESHOWWINDOW
        startupinfo.wShowWindow = SW_HIDE
        # A console of its own (hidden) so that a Ctrl+C can later be raised in it alone.
        return {"creationflags": CREATE_NEW_CONSOLE, "startupinfo": startupinfo}
    return {"start_new_session": True}


def launch(cmd: list[str], *, stdout_path: Path, cwd: Path, env: dict[str, str] | None = None) -> ProcInfo:
    """Start a background process whose stdout and stderr go to ``stdout_path``."""
    stdout_path.parent.mkdir(parents=True, exist_ok=True)
    with open(stdout_path, "ab") as out:
        try:
            popen = subprocess.Popen(  # noqa: S603 - the command is built by kafkaops, not a shell
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=str(cwd),
                env=env,
                close_fds=True,
                **launch_options(),
            )
        except FileNotFoundError:
            raise KafkaopsError(f"cannot run {cmd[0]}: not found", hint="install Java 17, or set KAFKAOPS_JAVA / JAVA_HOME") from None
        except OSError as exc:
            raise KafkaopsError(f"cannot run {cmd[0]}: {exc.strerror}") from None
    info = proc_info(popen.pid)
    # Keep a reference so that the child is reaped by us if it exits while we run (no zombie).
    _children[popen.pid] = popen
    if info is None:
        return ProcInfo(popen.pid, Path(cmd[0]).name, tuple(cmd), time.time())
    return info


_children: dict[int, subprocess.Popen[bytes]] = {}


def reap(pid: int, *, wait: float = 0.0) -> int | None:
    """The exit code of a child this process started, once it has exited (None while it runs).

    ``wait``: how long to wait for the code. A JVM's threads leave one by one as it exits, and its main thread
    shows as a zombie (gone, to ``is_alive``) before the last of them is, while waitpid has no code for it yet.
    """
    popen = _children.get(pid)
    if popen is None:
        return None
    try:
        code = popen.wait(timeout=wait) if wait > 0 else popen.poll()
    except subprocess.TimeoutExpired:
        return None
    if code is not None:
        del _children[pid]
    return code


def windows_ctrl_c_command(pid: int, python: str | None = None) -> list[str]:
    return [python or sys.executable, "-c", WINDOWS_CTRL_C_HELPER, str(pid)]


def _same_process(pid: int, create_time: float | None) -> psutil.Process | None:
    """A psutil handle on ``pid`` if it is still the process that started at ``create_time``.

    psutil refuses to signal through a handle whose pid was reused since, which closes the gap
    between this check and the signal.
    """
    import psutil

    try:
        proc = psutil.Process(pid)
        if create_time is not None and not same_start(proc.create_time(), create_time):
            return None
        return proc
    except (psutil.NoSuchProcess, ProcessLookupError):
        return None
    except psutil.AccessDenied:  # its start time cannot be read: it cannot be verified
        return None


def request_stop(pid: int, create_time: float | None = None) -> None:
    """Ask a process to shut down gracefully (SIGTERM; Ctrl+C in its console on Windows).

    With ``create_time``, nothing is sent unless the process still has that start time.
    """
    import psutil

    proc = _same_process(pid, create_time)
    if proc is None:
        return
    if IS_WINDOWS:
        result = subprocess.run(windows_ctrl_c_command(pid), creationflags=CREATE_NO_WINDOW, check=False)  # type: ignore[call-arg]
        if result.returncode != 0:
            raise KafkaopsError(f"could not send Ctrl+C to process {pid} (helper exit {result.returncode})", hint="use --force to kill it")
        return
    try:
        proc.send_signal(signal.SIGTERM)
    except psutil.NoSuchProcess:
        return
    except psutil.AccessDenied:
        raise KafkaopsError(f"not allowed to signal process {pid}", hint="run kafkaops as the user that started the service") from None


def kill(pid: int, create_time: float | None = None) -> None:
    """Stop a process at once (no shutdown hooks); with ``create_time``, only if it is still that process."""
    import psutil

    proc = _same_process(pid, create_time)
    if proc is None:
        return
    try:
        proc.kill()
    except psutil.NoSuchProcess:
        return
    except psutil.AccessDenied:
        raise KafkaopsError(f"not allowed to kill process {pid}") from None


def _threads_still_running(pid: int, create_time: float | None) -> bool:
    """Whether a process whose main thread has exited (a zombie leader) still has threads running (Linux).

    A JVM's main thread can end a moment before its other threads, which still hold its listening
    sockets and open files: the process has not exited yet, whatever its status says.
    """
    if not sys.platform.startswith("linux"):
        return False
    import psutil

    try:
        proc = psutil.Process(pid)
        if proc.status() != psutil.STATUS_ZOMBIE or (create_time is not None and not same_start(proc.create_time(), create_time)):
            return False
        return len(os.listdir(f"/proc/{pid}/task")) > 1
    except (psutil.Error, OSError):
        return False


def _exited(pid: int, create_time: float | None) -> bool:
    return not is_alive(pid, create_time) and not _threads_still_running(pid, create_time)


def wait_exit(pid: int, create_time: float | None, timeout: float, poll: float = 0.05) -> bool:
    """Wait until the process has exited, all its threads too; True if it did within ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _exited(pid, create_time):  # a zombie whose threads have all ended counts as exited...
            reap(pid)  # ...and is reaped here when it is our child
            return True
        time.sleep(poll)
    gone = _exited(pid, create_time)
    if gone:
        reap(pid)
    return gone
