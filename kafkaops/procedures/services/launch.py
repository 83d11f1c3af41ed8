"""Launching a JVM, and the report when it fails to start."""

from __future__ import annotations

import time
from pathlib import Path

from kafkaops.adapters import processes
from kafkaops.errors import ServiceFailed
from kafkaops.procedures import signatures
from kafkaops.procedures.layout import ensure_log4j, ensure_log4j2
from kafkaops.procedures.services import cds
from kafkaops.procedures.services.config import MAIN_CLASS, ZOOKEEPER
from kafkaops.procedures.services.pidfiles import PidRecord, log_dir, log_path, remove_pid, write_pid
from kafkaops.settings import Settings


def jvm_command(settings: Settings, service: str, java: str, config: Path, log4j: Path, extra: tuple[str, ...] | list[str] = ()) -> list[str]:
    heap = settings.zookeeper_heap if service == ZOOKEEPER else settings.kafka_heap
    classpath = str(settings.kafka_home / "libs" / "*")  # the JVM expands the wildcard: no long command lines
    return [
        java,
        f"-Xms{heap}",
        f"-Xmx{heap}",
        "-server",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-XX:InitiatingHeapOccupancyPercent=35",
        "-XX:+ExplicitGCInvokesConcurrent",
        "-Djava.awt.headless=true",
        # Kafka 4.x logs through log4j2, which ignores the reload4j property (and logs only errors without its own)
        f"-Dlog4j2.configurationFile={log4j.resolve()}" if log4j.suffix == ".yaml" else f"-Dlog4j.configuration={log4j.resolve().as_uri()}",
        f"-Dkafka.logs.dir={log_dir(settings, service).resolve()}",
        *extra,  # class-data sharing (cds.py); before KAFKAOPS_JVM_OPTS, whose -Xshare:off wins
        *settings.jvm_opts,
        "-cp",
        classpath,
        MAIN_CLASS[service],
        str(config.resolve()),
    ]


def uses_log4j2(kafka_home: Path) -> bool:
    """Whether an installation logs through log4j2 (Kafka 4.x) rather than reload4j (3.x)."""
    return any((kafka_home / "libs").glob("log4j-core-2*.jar"))


def log4j_option(settings: Settings, home: Path) -> str:
    """The JVM option that points the logging backend of the installation at ``home`` (its libs/) at kafkaops's config.

    log4j2 for Kafka 4.x (which ignores -Dlog4j.configuration and logs only errors without its own config),
    reload4j for 3.x. Decided by the jars, not a version setting: a Connect home of the other line logs too.
    """
    conf = settings.kafkaops_home / "conf"
    if uses_log4j2(home):
        return f"-Dlog4j2.configurationFile={ensure_log4j2(conf / 'log4j2.yaml').resolve()}"
    return f"-Dlog4j.configuration={ensure_log4j(conf / 'log4j.properties').resolve().as_uri()}"


def _start(settings: Settings, service: str, java: str, config: Path) -> PidRecord:
    conf = settings.kafkaops_home / "conf"
    log4j = ensure_log4j2(conf / "log4j2.yaml") if uses_log4j2(settings.kafka_home) else ensure_log4j(conf / "log4j.properties")
    logs = log_dir(settings, service)
    logs.mkdir(parents=True, exist_ok=True)
    log = log_path(settings, service)
    offset = log.stat().st_size if log.exists() else 0
    stdout = logs / f"{service}.out"
    extra = cds.jvm_options(settings, service, java)
    info = processes.launch(jvm_command(settings, service, java, config, log4j, extra), stdout_path=stdout, cwd=settings.kafkaops_home)
    record = PidRecord(
        service=service,
        pid=info.pid,
        create_time=info.create_time,
        main_class=MAIN_CLASS[service],
        config=str(config),
        log=str(log),
        stdout=str(stdout),
        log_offset=offset,
        started_at=time.time(),
        kafka_home=str(settings.kafka_home),
    )
    write_pid(settings, record)
    return record


def read_log_since(path: Path, offset: int) -> str:
    try:
        with open(path, "rb") as fh:
            size = fh.seek(0, 2)
            fh.seek(offset if offset <= size else 0)  # the file rolled over: read it whole
            return fh.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


def tail_lines(text: str, n: int = 15) -> list[str]:
    return [line for line in text.splitlines() if line.strip()][-n:]


# How long a service found gone while starting is given to leave its exit code (its last threads to end).
EXIT_CODE_WAIT_S = 3.0


def exited_while_starting(settings: Settings, record: PidRecord, *, logs_command: str = "kafkaops logs") -> ServiceFailed:
    """The report for a service that died before it was ready: its pid file removed, its exit code or signal named."""
    code = processes.reap(record.pid, wait=EXIT_CODE_WAIT_S)
    remove_pid(settings, record)
    how = ""
    if code is not None and code < 0:
        how = f" (killed by {_signal_name(-code)})"
    elif code is not None:
        how = f" (exit code {code})"
    return failure_report(record.service, record, f"exited while starting{how}", logs_command=logs_command)


def _signal_name(number: int) -> str:
    import signal

    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def failure_report(service: str, record: PidRecord, reason: str, *, logs_command: str = "kafkaops logs") -> ServiceFailed:
    """A start failure with the last log lines and the known failure they match (``logs_command``: how to read the rest)."""
    text = read_log_since(Path(record.log), record.log_offset)
    out = read_log_since(Path(record.stdout), 0) if record.stdout else ""
    finding = signatures.classify(text + "\n" + out)
    details = [f"last lines of {record.log}:"] + ["  " + ln for ln in tail_lines(text or out)]
    if finding is not None:
        return ServiceFailed(
            f"{service} {reason}: {finding.signature.title}",
            hint=finding.signature.remedy,
            details=details,
            runbook=finding.signature.runbook,
        )
    return ServiceFailed(
        f"{service} {reason}",
        hint=f"read the log: {logs_command} {service}" if logs_command == "kafkaops logs" else f"read the log: {logs_command}",
        details=details,
    )
