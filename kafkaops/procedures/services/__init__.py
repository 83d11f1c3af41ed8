"""Starting, stopping and inspecting the local stack: ZooKeeper first, then the broker.

``up`` waits for real readiness (ZooKeeper answers ``srvr``; the broker logged "started", registered
under /brokers/ids and answers a metadata request) instead of fixed sleeps, and refuses to start into
the two classic traps (a stale registration, a cluster id mismatch). ``down`` stops the broker first,
waits for its clean shutdown, then ZooKeeper. Only processes kafkaops started are ever signalled: a
pid file under KAFKAOPS_HOME/run is trusted only when its process has the recorded start time and
really runs what kafkaops launches (java, the service's main class, this stack's config file).

``up``, ``down`` and ``reset`` hold the stack lock (KAFKAOPS_HOME/run/stack.lock) while they work, so
two of them never start, stop or empty the same stack at once; another one waits, saying for whom.
A pid file is removed only while its content is still what this command read or wrote.

The package, one module per part: config (the stack's configuration), pidfiles (pid files and the
stack lock), state (each service's state), identity (which cluster the settings point at: the local stack or
another), launch (a JVM), startup (ZooKeeper mode's ``up``), shutdown (its ``down``) and stack (``up``,
``down`` and ``status`` in either mode);
for the KRaft stack of Kafka 4.x, kraft (its up, down, readiness and status) and kraft_layout (its
layouts, read from the configs, and its storage: formatted once, checked before every start).
"""

from __future__ import annotations

from kafkaops.procedures.services.config import (
    CONTROLLER,
    KAFKA,
    MAIN_CLASS,
    POLL,
    POSTGRES,
    SHUTDOWN_LINE,
    STARTED_LINE,
    ZOOKEEPER,
    Progress,
    StackConfig,
    _noop,
    check_kafka_home,
    kafka_version,
    probe_host,
    read_stack_config,
)
from kafkaops.procedures.services.identity import ClusterIdentity, MetaFile, identify, read_meta
from kafkaops.procedures.services.launch import _start, failure_report, jvm_command, read_log_since, tail_lines
from kafkaops.procedures.services.pidfiles import (
    LOCK_VERB,
    SERVICE_LABEL,
    PidCheck,
    PidRecord,
    check_pid,
    controller_properties,
    live_process,
    lock_path,
    log_dir,
    log_path,
    pid_path,
    read_pid,
    remove_pid,
    service_config,
    stack_lock,
    write_pid,
)
from kafkaops.procedures.services.shutdown import DownResult, StopOutcome, _done, _down, _stop_one
from kafkaops.procedures.services.stack import down, require_up, status, up, zookeeper_mode_status
from kafkaops.procedures.services.startup import (
    ServiceOutcome,
    UpResult,
    _check_port_free,
    _clear_stale,
    _refuse_mismatch,
    _same_broker,
    _up,
    _wait_broker,
    _wait_zookeeper,
    check_cluster_id,
    mismatch_hint,
    read_meta_properties,
    start_broker,
    start_zookeeper,
    wait_stale_registration,
)
from kafkaops.procedures.services.state import (
    UNSEEN_OWNER,
    ServiceProbe,
    ServiceStatus,
    StackStatus,
    _topic_health,
    broker_status,
    database_status,
    owner_label,
    probe,
    remote_status,
    service_address,
    zookeeper_status,
)

__all__ = [
    "ClusterIdentity",
    "MetaFile",
    "identify",
    "read_meta",
    "zookeeper_mode_status",
    "CONTROLLER",
    "UNSEEN_OWNER",
    "ServiceProbe",
    "probe",
    "service_address",
    "DownResult",
    "KAFKA",
    "LOCK_VERB",
    "MAIN_CLASS",
    "POLL",
    "POSTGRES",
    "PidCheck",
    "PidRecord",
    "Progress",
    "SERVICE_LABEL",
    "SHUTDOWN_LINE",
    "STARTED_LINE",
    "ServiceOutcome",
    "ServiceStatus",
    "StackConfig",
    "StackStatus",
    "StopOutcome",
    "UpResult",
    "ZOOKEEPER",
    "_check_port_free",
    "_clear_stale",
    "_done",
    "_down",
    "_noop",
    "_refuse_mismatch",
    "_same_broker",
    "_start",
    "_stop_one",
    "_topic_health",
    "_up",
    "_wait_broker",
    "_wait_zookeeper",
    "broker_status",
    "check_cluster_id",
    "check_kafka_home",
    "check_pid",
    "controller_properties",
    "database_status",
    "down",
    "failure_report",
    "jvm_command",
    "kafka_version",
    "live_process",
    "lock_path",
    "log_dir",
    "log_path",
    "mismatch_hint",
    "owner_label",
    "pid_path",
    "probe_host",
    "read_log_since",
    "read_meta_properties",
    "read_pid",
    "read_stack_config",
    "remote_status",
    "remove_pid",
    "require_up",
    "service_config",
    "stack_lock",
    "start_broker",
    "start_zookeeper",
    "status",
    "tail_lines",
    "up",
    "wait_stale_registration",
    "write_pid",
    "zookeeper_status",
]
