"""The extras: Java, KAFKA_HOME, /tmp, disk space, pid files."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from kafkaops.adapters import processes
from kafkaops.doctor.context import Context
from kafkaops.doctor.registry import check
from kafkaops.doctor.results import EXTRAS_STEP, FULL_DISK_BYTES, LOW_DISK_BYTES, LOW_DISK_FRACTION, Outcome, failed, passed, skipped, warned
from kafkaops.errors import KafkaopsError
from kafkaops.procedures import services


# no `local`: it decides itself (an empty install matters when nothing answers here either)
@check("host.kafka_home", EXTRAS_STEP, "host", "a Kafka installation in KAFKA_HOME", applies="local")
def check_kafka_home(ctx: Context) -> Outcome:
    """A Kafka installation to run the local stack with; needed only when the stack is (or would be) this machine's."""
    home = ctx.settings.kafka_home
    version = services.kafka_version(home)
    if version or any((home / "libs").glob("kafka_2.*.jar")):
        return passed(f"Kafka {version or '?'} installed at {home} (KAFKA_HOME)", data={"kafka_home": str(home), "version": version})
    ident = ctx.identity
    nothing_answers = ident.broker_on_this_machine and not processes.port_open(services.probe_host(ctx.broker_host), ctx.broker_port)
    if not ident.local and not (ident.config_error is not None and nothing_answers):
        return skipped(f"not the local stack: {ident.why_not()}; no local Kafka installation is needed", kind="remote")
    explicit = ctx.settings.sources.get("kafka_home") in ("env", ".env", "flag")
    if explicit:
        nxt = f"point KAFKA_HOME at a Kafka installation (now {home}), or unset it and run kafkaops install"
    else:
        nxt = "kafkaops install"
    why = "" if ident.local else f", and nothing answers at KAFKA_BROKER={ctx.settings.kafka_broker}"
    return failed(
        f"KAFKA_HOME {home} is not a Kafka installation (no libs/kafka_2.*.jar){why}: `kafkaops up` cannot start anything",
        remedy="install Kafka with `kafkaops install` (it also writes the configs for a local pipeline), or point KAFKA_HOME at a Kafka folder with libs/ and config/",
        runbook="kafka-not-installed",
        next=nxt,
        priority=10,
        data={"kafka_home": str(home)},
    )


@check("host.java", EXTRAS_STEP, "host", "Java present", local="java", timeout=6.0, applies="local")
def check_java(ctx: Context) -> Outcome:
    from kafkaops.adapters.java import MIN_JAVA, find_java

    try:
        info = find_java(ctx.settings.java)
    except KafkaopsError as exc:
        return failed(
            exc.message, remedy=exc.hint or f"install Java {MIN_JAVA}+ (17 recommended)", runbook="java-missing", next="set JAVA_HOME or KAFKAOPS_JAVA"
        )
    return passed(f"Java {info.major} at {info.path}", details=[info.version_line], data={"major": info.major, "path": info.path})


def _data_dirs(ctx: Context) -> list[tuple[str, Path]]:
    assert ctx.cfg is not None
    dirs: list[tuple[str, Path]] = []
    if ctx.local_reason("broker") is None:
        dirs += [("log.dirs", d) for d in ctx.cfg.log_dirs]
    if ctx.local_reason("zookeeper") is None:
        dirs.append(("dataDir", ctx.cfg.zk_data_dir))
        if ctx.cfg.zk_data_log_dir:
            dirs.append(("dataLogDir", ctx.cfg.zk_data_log_dir))
    return dirs


def _under(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
        return True
    except (ValueError, OSError):
        return False


@check("host.tmp_dirs", EXTRAS_STEP, "host", "data directories outside /tmp", local="stack", applies="local")
def check_tmp_dirs(ctx: Context) -> Outcome:
    temp_roots = {Path("/tmp"), Path(tempfile.gettempdir())}
    hits = [f"{key}={d}" for key, d in _data_dirs(ctx) if any(_under(d, root) for root in temp_roots if root.exists())]
    if hits:
        return warned(
            f"data under a temporary folder, lost on reboot on many systems: {hits[0]}" + (f" (+{len(hits) - 1} more)" if len(hits) > 1 else ""),
            remedy=f"move log.dirs ({ctx.settings.server_properties}) and dataDir ({ctx.settings.zookeeper_properties}) to a lasting folder, together",
            runbook="data-under-tmp",
            details=hits,
            data={"dirs": hits},
        )
    return passed("no data directory is under a temporary folder", data={"dirs": [str(d) for _, d in _data_dirs(ctx)]})


def _existing(path: Path) -> Path:
    p = path
    while not p.exists() and p.parent != p:
        p = p.parent
    return p


def disk_state(free: int, total: int) -> str:
    """``full`` (the services cannot write: `up` would fail), ``low``, or ``ok``, from the free bytes a data folder's disk has."""
    if free < FULL_DISK_BYTES:
        return "full"
    if free < LOW_DISK_BYTES or free < LOW_DISK_FRACTION * total:
        return "low"
    return "ok"


def _size(n: float) -> str:
    return f"{n / 1024**3:.1f} GiB" if n >= 1024**3 else f"{n / 1024**2:.0f} MiB"


@check("host.disk", EXTRAS_STEP, "host", "free disk space in log.dirs and dataDir", local="stack", applies="local")
def check_disk(ctx: Context) -> Outcome:
    seen: set[int] = set()
    low: list[str] = []
    full: list[tuple[str, Path]] = []
    details: list[str] = []
    for key, d in _data_dirs(ctx):
        at = _existing(d)
        try:
            dev = at.stat().st_dev
            if dev in seen:
                continue
            seen.add(dev)
            usage = shutil.disk_usage(at)
        except OSError:
            continue
        line = f"{key} {d}: {_size(usage.free)} free of {_size(usage.total)} ({usage.free / max(usage.total, 1):.0%})"
        details.append(line)
        state = disk_state(usage.free, usage.total)
        if state == "full":
            full.append((line, at))
        elif state == "low":
            low.append(line)
    if full:
        line, at = full[0]
        return failed(
            f"disk full: {line}",
            remedy=f"free space on the disk holding {at} (at least {_size(FULL_DISK_BYTES)}; more for real data): the broker and "
            "ZooKeeper cannot write there, so `kafkaops up` fails. Never delete meta.properties or segment files by hand",
            runbook="disk-space",
            details=details,
            next=f"free space on the disk holding {at}, then kafkaops up",
            priority=10,
        )
    if low:
        return warned(
            f"low disk space: {low[0]}",
            remedy="free space there: a full disk takes the log dir (and the broker) offline; never delete meta.properties or segment files by hand",
            runbook="disk-space",
            details=details,
        )
    return passed("enough free disk space for log.dirs and dataDir", details=details)


@check("host.pid_files", EXTRAS_STEP, "host", "no stale pid files", local="stack", applies="local")
def check_pid_files(ctx: Context) -> Outcome:
    stale: list[str] = []
    for svc in (services.ZOOKEEPER, services.KAFKA):
        rec = services.read_pid(ctx.settings, svc)
        check = services.check_pid(rec, ctx.settings)
        path = services.pid_path(ctx.settings, svc)
        if check.verdict == "mismatch" and check.proc is not None:
            # Alive with the recorded start time, but not the service: up and down refuse while it stands.
            return warned(
                f"pid file {path} names pid {check.proc.pid}, which runs another program ({check.proc.command[:120]})",
                remedy=f"kafkaops never signals it, and `kafkaops up` / `kafkaops down` refuse while this file stands: check that process, then delete {path}",
                runbook="foreign-process",
                details=[check.detail] if check.detail else None,
            )
        if check.verdict == "gone" and rec is not None:
            stale.append(f"{path} names pid {rec.pid}, which is gone (or is another program now)")
    if stale:
        return warned(
            f"stale pid file: {stale[0]}",
            remedy="harmless: `kafkaops up` and `kafkaops down` remove it; it means the service "
            "stopped without kafkaops (crash or kill), so expect log recovery at the next start",
            runbook="unclean-shutdown",
            details=stale,
        )
    return passed("no stale pid files")
