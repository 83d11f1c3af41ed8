"""The stack's three verbs in either mode: ``up``, ``down`` and ``status`` pick ZooKeeper mode
(startup, shutdown, state) or KRaft (kraft) from the config (server.properties' process.roles).

This module sits above the rest of the package, so the modes' modules never import each other's
entry points (kraft uses startup's and shutdown's helpers, never the other way round).
"""

from __future__ import annotations

from kafkaops.adapters.java import JavaInfo, find_java
from kafkaops.errors import KafkaopsError, NotReady, RefusedError
from kafkaops.procedures.services import kraft
from kafkaops.procedures.services.config import KAFKA, Progress, _noop, check_kafka_home, kafka_version, read_stack_config
from kafkaops.procedures.services.identity import identify
from kafkaops.procedures.services.kraft import KraftStackStatus
from kafkaops.procedures.services.pidfiles import stack_lock
from kafkaops.procedures.services.shutdown import DownResult, _done, _down
from kafkaops.procedures.services.startup import UpResult, _up, finish_up, mismatch_hint
from kafkaops.procedures.services.state import StackStatus, broker_status, database_status, remote_status, zookeeper_status
from kafkaops.settings import Settings


def up(settings: Settings, progress: Progress = _noop, *, ensure_topic: bool = True, notice: Progress = _noop) -> UpResult:
    """Start the stack under the stack lock; ``notice`` gets what must be shown even without a terminal (a wait).

    In KRaft mode (settings.kraft, read from server.properties) the KRaft node(s) start instead of
    ZooKeeper and the broker: see :mod:`kafkaops.procedures.services.kraft`.
    """
    if settings.kraft:
        info = find_java(settings.java, settings.kafkaops_home / "cache" / "java-version.json")
        check_kafka_home(settings)
        check_kraft_java(settings, info)
        layout = kraft.read_layout(settings)
        with stack_lock(settings, "up", notice):
            result = kraft.up(settings, layout, info.path, progress)
            return finish_up(settings, result, progress, ensure_topic=ensure_topic)
    if ensure_topic:  # a partition count ZooKeeper cannot store would wedge the broker: refuse before starting
        from kafkaops.procedures.topics import check_partition_limit

        check_partition_limit(settings, settings.topic_partitions, settings.topic_replication_factor)
    java = find_java(settings.java, settings.kafkaops_home / "cache" / "java-version.json").path
    check_kafka_home(settings)
    cfg = read_stack_config(settings)
    with stack_lock(settings, "up", notice):
        return _up(settings, cfg, java, progress, ensure_topic=ensure_topic)


def check_kraft_java(settings: Settings, info: JavaInfo) -> None:
    """Kafka 4.x is built for Java 17 (an older JVM fails with UnsupportedClassVersionError); 3.x, which a
    migrated stack runs in KRaft mode on the 3.9 binaries, still runs on Java 11."""
    version = kafka_version(settings.kafka_home) or ""
    major = version.split(".")[0]
    if (int(major) if major.isdigit() else 4) >= 4 and info.major < 17:
        raise KafkaopsError(
            f"Java {info.major} at {info.path} is too old for Kafka {version or '4.x'} (KRaft mode): it needs Java 17 or newer",
            hint="install Java 17 and set JAVA_HOME (or KAFKAOPS_JAVA)",
            runbook="failures java-missing",
        )


def down(settings: Settings, progress: Progress = _noop, *, force: bool = False, notice: Progress = _noop) -> DownResult:
    """Stop the stack under the stack lock: a running `up` is waited for (``notice`` says so), then stopped.

    A pid file whose live process is not what kafkaops launched is left alone (nothing signalled, the
    file kept); after stopping what may be stopped, that is refused (exit 5) with what was done.
    In KRaft mode (settings.kraft) the broker stops first, then the split layout's controller.
    """
    if settings.kraft:
        layout = kraft.read_layout(settings)
        with stack_lock(settings, "down", notice):
            result = kraft.down(settings, layout, progress, force=force)
    else:
        cfg = read_stack_config(settings)
        with stack_lock(settings, "down", notice):
            result = _down(settings, cfg, progress, force=force)
    mismatched = [s for s in result.services if s.action == "pid-file-mismatch"]
    if mismatched:
        raise RefusedError(
            f"{mismatched[0].detail}; nothing was signalled",
            hint=mismatch_hint(settings, [(s.service, s.pid or 0) for s in mismatched]),
            details=[f"{s.detail}; nothing was signalled" for s in mismatched[1:]] + [_done(s) for s in result.services if s.action != "pid-file-mismatch"],
            runbook="startup pid-files",
        )
    return result


def status(settings: Settings) -> StackStatus:
    """status in either mode: KRaft (from server.properties' process.roles) or ZooKeeper mode.

    A cluster that is not the local stack also says which mode it runs in (asked over the wire).
    """
    if settings.kraft:
        return kraft.status(settings)
    st = zookeeper_mode_status(settings)
    if st.local:
        return KraftStackStatus(st.services, local=True, reasons=st.reasons, mode="zookeeper")
    mode = None
    broker = next((s for s in st.services if s.service == KAFKA and s.state == "reachable"), None)
    if broker is not None and kraft.plaintext(settings):
        mode = kraft.wire_mode(settings)
        broker.health["mode"] = mode
    return KraftStackStatus(st.services, local=False, reasons=st.reasons, mode=mode or "unknown")


def zookeeper_mode_status(settings: Settings) -> StackStatus:
    """Each service's state in ZooKeeper mode. Local pids only for the local stack (decided by :func:`identify`)."""
    identity = identify(settings)
    if identity.config_error and not identity.config_missing and identity.broker_on_this_machine:
        read_stack_config(settings)  # the local stack's config is there but broken: say so (exit 2), do not look elsewhere
    if not identity.local:
        services_ = remote_status(settings)
        db = database_status(settings)
        if db is not None and db.state != "stopped":  # a stopped embedded database belongs to the local stack, not to this cluster
            services_.append(db)
        return StackStatus(services_, local=False, reasons=identity.reasons)
    assert identity.cfg is not None
    cfg = identity.cfg
    services_ = [zookeeper_status(settings, cfg), broker_status(settings, cfg)]
    db = database_status(settings)
    if db is not None:
        services_.append(db)
    return StackStatus(services_, local=True, reasons=identity.reasons)


def require_up(settings: Settings) -> StackStatus:
    st = status(settings)
    if not st.up:
        raise NotReady("the stack is not fully up", hint="run `kafkaops up`")
    return st
