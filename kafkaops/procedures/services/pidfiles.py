"""Pid files: what kafkaops started, checked against the live process before it is trusted; the stack lock."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from kafkaops.adapters import locks, processes
from kafkaops.errors import RefusedError
from kafkaops.procedures.services.config import CONTROLLER, KAFKA, MAIN_CLASS, ZOOKEEPER, Progress, _noop
from kafkaops.settings import Settings


@dataclass
class PidRecord:
    service: str
    pid: int
    create_time: float
    main_class: str
    config: str
    log: str
    stdout: str
    log_offset: int
    started_at: float
    kafka_home: str


def pid_path(settings: Settings, service: str) -> Path:
    return settings.run_dir / f"{service}.json"


def log_dir(settings: Settings, service: str) -> Path:
    return settings.logs_dir / service


def log_path(settings: Settings, service: str) -> Path:
    return log_dir(settings, service) / "server.log"


def read_pid(settings: Settings, service: str) -> PidRecord | None:
    path = pid_path(settings, service)
    unreadable = PidRecord(service, -1, 0.0, "", "", "", "", 0, 0.0, "")  # treated as stale
    try:
        record = PidRecord(**json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None
    except (ValueError, TypeError, UnicodeDecodeError):
        return unreadable
    return record if record.service == service else unreadable


def write_pid(settings: Settings, record: PidRecord) -> None:
    path = pid_path(settings, record.service)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(record), indent=2), encoding="utf-8")
    tmp.replace(path)


def remove_pid(settings: Settings, record: PidRecord) -> bool:
    """Remove a pid file only if it still says what ``record`` says (what this command read or wrote)."""
    if read_pid(settings, record.service) != record:
        return False
    pid_path(settings, record.service).unlink(missing_ok=True)
    return True


SERVICE_LABEL = {ZOOKEEPER: "ZooKeeper", KAFKA: "Kafka broker", CONTROLLER: "KRaft controller"}


def controller_properties(settings: Settings) -> Path:
    """The split layout's controller config: controller.properties beside the broker's server.properties."""
    return settings.server_properties.parent / "controller.properties"


def service_config(settings: Settings, service: str) -> Path:
    if service == CONTROLLER:
        return controller_properties(settings)
    return settings.zookeeper_properties if service == ZOOKEEPER else settings.server_properties


@dataclass(frozen=True)
class PidCheck:
    """What a pid file's process really is."""

    service: str
    verdict: str  # none (no pid file) | ours | gone | mismatch
    proc: processes.ProcInfo | None = None  # the live process: verified when "ours"
    detail: str | None = None


def check_pid(record: PidRecord | None, settings: Settings | None = None) -> PidCheck:
    """Whether a pid file names a live process that kafkaops launched, checked on the process itself.

    The process must have the start time recorded at launch (else the pid file is stale: "gone"),
    and its real command line must be java running the service's main class (fixed here, never read
    from the file) with the config file: this stack's (from ``settings``), else the one the file names.
    A live process with that start time that fails the second test is a "mismatch": never signalled.
    """
    if record is None:
        return PidCheck("", "none")
    main_class = MAIN_CLASS.get(record.service)
    info = processes.proc_info(record.pid) if record.pid > 0 else None
    if main_class is None or info is None or not processes.same_start(info.create_time, record.create_time):
        return PidCheck(record.service, "gone", detail=f"pid file names process {record.pid}, which is gone or is now another program")
    config = service_config(settings, record.service) if settings is not None else Path(record.config or ".")
    expected = str(config.resolve())
    if processes.runs_java_main(info, main_class, expected):
        return PidCheck(record.service, "ours", info)
    what = f"it runs `{info.command[:200]}`" if info.cmdline else f"{info.name}: its command line cannot be read"
    label = SERVICE_LABEL.get(record.service, record.service)
    return PidCheck(
        record.service,
        "mismatch",
        info,
        f"the {record.service} pid file names pid {record.pid}, which is not the {label} kafkaops started ({what}, not java {main_class} {expected})",
    )


def live_process(record: PidRecord | None, settings: Settings | None = None) -> processes.ProcInfo | None:
    """The process a pid file names, only if it is verified to be the service kafkaops launched (see check_pid)."""
    check = check_pid(record, settings)
    return check.proc if check.verdict == "ours" else None


LOCK_VERB = {"up": "starting", "down": "stopping", "reset": "resetting"}


def lock_path(settings: Settings) -> Path:
    return settings.run_dir / "stack.lock"


@contextmanager
def stack_lock(settings: Settings, command: str, notice: Progress = _noop) -> Iterator[None]:
    """Hold this stack's lock (one per KAFKAOPS_HOME) for ``command``: up, down or reset.

    Another holder is waited for up to KAFKAOPS_LOCK_TIMEOUT seconds, with one ``notice`` naming it;
    after that the command is refused (exit 5) with nothing done.
    """

    def on_wait(holder: locks.Holder | None) -> None:
        if holder is None:
            notice(f"another kafkaops command holds the stack lock ({lock_path(settings)}); waiting")
        else:
            notice(f"another kafkaops {holder.command} is {LOCK_VERB.get(holder.command, 'using')} the stack (pid {holder.pid}); waiting")

    with ExitStack() as held:
        try:
            held.enter_context(locks.hold(lock_path(settings), command, timeout=settings.lock_timeout, on_wait=on_wait))
        except locks.LockTimeout as exc:
            who = f"kafkaops {exc.holder.command} (pid {exc.holder.pid})" if exc.holder else "another kafkaops command"
            raise RefusedError(
                f"{who} still holds the stack lock after {exc.waited:g}s; nothing was done",
                hint="wait for it to finish, then rerun this command (KAFKAOPS_LOCK_TIMEOUT sets how long to wait)",
                runbook="startup one-command-at-a-time",
            ) from None
        yield
