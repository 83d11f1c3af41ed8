"""Known failure signatures in ZooKeeper's, the broker's and the Kafka Connect workers' logs, and what to do about each.

Pure functions over text: ``up`` uses them to explain a service that died while starting, and
``doctor`` / ``logs`` to scan recent logs. Patterns match whole records (a header line plus its stack
trace) because the decisive text is often on the line after "Fatal error during KafkaServer startup".
Wordings differ across Kafka versions; each pattern accepts the variants we know of.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_RECORD_START = re.compile(r"^\[\d{4}-\d{2}-\d{2} [\d:,]+\] ")


@dataclass(frozen=True)
class Signature:
    id: str
    pattern: re.Pattern[str]
    title: str
    remedy: str
    runbook: str  # "failures <section>"
    severity: str = "error"  # "error" | "warn"


@dataclass(frozen=True)
class Finding:
    signature: Signature
    line_no: int
    text: str  # the first line of the matching record
    timestamp: str | None

    @property
    def id(self) -> str:
        return self.signature.id


def _sig(id_: str, pattern: str, title: str, remedy: str, runbook: str, severity: str = "error") -> Signature:
    """``runbook`` is a section of runbooks/failures.md, or a full reference ("connect <section>") when it has a space."""
    return Signature(id_, re.compile(pattern, re.DOTALL), title, remedy, runbook if " " in runbook else f"failures {runbook}", severity)


SIGNATURES: tuple[Signature, ...] = (
    _sig(
        "kafka.node_exists",
        r"Error while creating ephemeral at /brokers/ids/(\d+), node already exists|NodeExistsException",
        "stale broker registration in ZooKeeper (NodeExistsException)",
        "an earlier broker stopped uncleanly and its ZooKeeper session has not expired yet: wait ~20 s and run `kafkaops up` again (it waits for you)",
        "stale-broker-registration",
    ),
    _sig(
        "kafka.cluster_id_mismatch",
        r"Invalid cluster\.id in: (\S+?)\. Expected (\S+), but read (\S+)|InconsistentClusterIdException",
        "cluster id mismatch: log dirs belong to another ZooKeeper cluster",
        "ZooKeeper's data was wiped but the broker's log dirs were kept: wipe both with `kafkaops reset --confirm`",
        "cluster-id-mismatch",
    ),
    _sig(
        "kafka.broker_id_mismatch",
        r"Stored node id (\d+) doesn't match previous node id (\d+)|InconsistentBrokerIdException",
        "broker id mismatch between server.properties and meta.properties",
        "set broker.id back to the stored id, or wipe the data with `kafkaops reset --confirm`",
        "cluster-id-mismatch",
    ),
    _sig(
        "kraft.unformatted",
        r"No readable meta\.properties files found|No `meta\.properties` found in (\S+)|have you run `kafka-storage\.sh` to format",
        "the KRaft log dir was never formatted",
        "`kafkaops up` formats an empty log dir itself; a dir with files but no meta.properties is refused: empty it with `kafkaops reset --confirm`",
        "kraft-storage",
    ),
    _sig(
        "kraft.node_id_conflict",
        r"DuplicateBrokerRegistrationException|Another broker is registered with that broker id|node id \d+ must not be included in the set of voters",
        "node.id conflict: two KRaft nodes use the same node.id (or a broker's id is a voter's)",
        "give every node its own node.id; only controllers belong in controller.quorum.voters",
        "kraft-node-id-conflict",
    ),
    _sig(
        "kraft.quorum_config",
        r"(?:requirement failed|IllegalArgumentException|ConfigException)[^\n]*(?:controller\.quorum\.(?:voters|bootstrap\.servers)|controller\.listener\.names|process\.roles)",
        "KRaft quorum or listener misconfiguration (controller.quorum.voters, controller.listener.names, listeners)",
        "make controller.quorum.voters name each controller as node.id@host:port of its CONTROLLER listener, and list that listener in listeners and controller.listener.names",
        "kraft-quorum-config",
    ),
    _sig(
        "kafka.zk_timeout",
        r"ZooKeeperClientTimeoutException: Timed out waiting for connection",
        "the broker could not reach ZooKeeper",
        "start ZooKeeper first (`kafkaops up` does it in order) and check zookeeper.connect in server.properties",
        "zookeeper-unreachable",
    ),
    _sig(
        "kafka.zk_refused",
        r"Session 0x0 for server \S+, (?:Closing socket connection|unexpected error, closing socket connection).*?ConnectException: Connection refused",
        "ZooKeeper refused the broker's connection",
        "start ZooKeeper before the broker; check zookeeper.connect in server.properties",
        "zookeeper-unreachable",
        "warn",
    ),
    _sig(
        "kafka.bind",
        r"Socket server failed to bind to (\S+):(\d+): Address already in use",
        "the broker's port is already in use",
        "stop the process holding the port (`kafkaops status` names it) or change listeners in server.properties",
        "port-in-use",
    ),
    # Kafka Connect (3.9.2) and Debezium's PostgreSQL connector (3.6.1.Final) with PostgreSQL 15: the texts were
    # checked in apache/kafka's 3.9 sources (RestServer, WorkerConfig, Plugins, TopicAdmin, AdminUtils,
    # StripedReplicaPlacer), in connect-runtime-3.9.2.jar, in debezium/debezium v3.6.1.Final
    # (PostgresConnectorTask) and in PostgreSQL 15's server binary; the REST-port, broker and replication-factor
    # ones also in real worker logs on this machine (see tests/unit/procedures/test_signatures_connect.py).
    _sig(
        "connect.rest_bind",
        r"Unable to initialize REST server.*?BindException: Address already in use|Failed to bind to /?(\S+?):(\d+)\s.*?BindException: Address already in use",
        "the Connect worker's REST port is already in use",
        "another process listens on the worker's REST port: `kafkaops connect status` and `kafkaops status` name the workers; "
        "stop that process, or start on another port: `kafkaops connect up --port N`",
        "connect rest-port-in-use",
    ),
    _sig(
        "connect.plugin_missing",
        r"Failed to find any class that implements Connector and which name matches (\S+?),|ClassNotFoundException: (io\.debezium\.\S+)",
        "the connector's plugin is not on the worker's plugin.path",
        "install it: `kafkaops install --with connect` (plugins/debezium-connector-postgres under KAFKAOPS_CONNECT_HOME), then restart the workers: "
        "`kafkaops connect down && kafkaops connect up`; on a remote cluster, put the plugin folder on every worker's plugin.path",
        "connect plugin-missing",
    ),
    _sig(
        "connect.broker_unreachable",
        r"Failed to connect to and describe Kafka cluster",
        "the Connect worker could not reach the broker (bootstrap.servers) at start-up",
        "start the broker first (`kafkaops up --with connect` starts them in order) and check KAFKA_BROKER, which kafkaops writes as bootstrap.servers",
        "connect broker-unreachable",
    ),
    _sig(
        "connect.replication_factor",
        # the worker only logs the retries' end (TopicAdmin.createTopicsWithRetry retries just this cause and timeouts)
        r"Timeout expired while trying to create topic\(s\)",
        "a topic's replication factor is larger than the number of brokers (Connect's internal topics), or the broker did not answer",
        "give config/offset/status.storage.replication.factor at most the broker count (`kafkaops connect up` writes 3, or the broker count when "
        "fewer), or add brokers",
        "connect internal-topics-replication-factor",
    ),
    _sig(
        "kafka.replication_factor",
        # the broker logs the reason (ZooKeeper mode AdminUtils, KRaft StripedReplicaPlacer) at INFO for any client's
        # rejected CreateTopics: a warning, since the broker itself is fine and the client was told
        r"Replication factor: (\d+) larger than available brokers: (\d+)|The target replication factor of (\d+) cannot be reached because only (\d+) broker",
        "a client asked for a topic with more replicas than there are brokers (the broker refused it)",
        "the broker's log names the topic: for Connect's internal topics give config/offset/status.storage.replication.factor at most the "
        "broker count (`kafkaops connect up` does); for __consumer_offsets see `kafkaops runbook failures offsets-topic-replication`",
        "connect internal-topics-replication-factor",
        "warn",
    ),
    _sig(
        "connect.topic_retry",
        r"topic creation failed due to '.*?', retrying, \d+ms remaining",
        "the Connect worker cannot create its internal topics yet (it retries for a minute)",
        "`kafkaops status` shows how many brokers answer: config/offset/status.storage.replication.factor must not exceed it",
        "connect internal-topics-replication-factor",
        "warn",
    ),
    _sig(
        "debezium.wal_level",
        r"logical decoding requires \"?wal_level\"? >= \"?logical|wal_level property must be 'logical' but is: '(\w+)'",
        "PostgreSQL does not run with wal_level=logical (Debezium cannot decode the WAL)",
        "embedded PostgreSQL: `kafkaops cdc deploy --yes` switches it (a restart); another server: ALTER SYSTEM SET wal_level = logical; then restart it",
        "connect debezium-wal_level",
    ),
    _sig(
        "debezium.slots",
        r"all replication slots are in use|replication slots can only be used if max_replication_slots > 0",
        "PostgreSQL has no free replication slot (max_replication_slots)",
        "raise max_replication_slots (a restart), or drop a slot nobody reads: SELECT slot_name FROM pg_replication_slots WHERE NOT active; "
        "then SELECT pg_drop_replication_slot('name'); or `kafkaops cdc delete --yes` for a pipeline you left",
        "connect debezium-replication-slots",
    ),
    _sig(
        "debezium.replication_role",
        r"must be superuser or replication role to (?:use replication slots|start walsender)",
        "the database user may not replicate",
        "as a superuser: ALTER ROLE <user> REPLICATION (and a `replication` line for it in pg_hba.conf)",
        "connect debezium-replication-slots",
    ),
    _sig(
        "zk.bind",
        r"(?:Unexpected exception, exiting abnormally|QuorumPeerMain).*?BindException: Address already in use|binding to port.*?\n.*?BindException: Address already in use",
        "ZooKeeper's client port is already in use",
        "stop the process holding the port (`kafkaops status` names it) or change clientPort in zookeeper.properties",
        "port-in-use",
    ),
    _sig(
        "zk.admin_bind",
        r"Problem starting AdminServer on address (\S+), port (\d+)",
        "ZooKeeper's AdminServer port (8080) is in use",
        "set admin.enableServer=false (or admin.serverPort) in zookeeper.properties",
        "port-in-use",
    ),
    _sig(
        "kafka.dir_locked",
        r"Failed to acquire lock on file \.lock in (\S+?)\. A Kafka instance in another process",
        "another broker is using the same log dir",
        "stop the other broker (`kafkaops status`), or give this one its own log.dirs",
        "port-in-use",
    ),
    _sig(
        "kafka.adv_0000",
        r"advertised\.listeners cannot use the nonroutable meta-address 0\.0\.0\.0",
        "advertised.listeners uses 0.0.0.0",
        "set advertised.listeners=PLAINTEXT://localhost:9092 (a name clients can reach) in server.properties",
        "advertised-listeners",
    ),
    _sig(
        "kafka.all_logdirs_failed",
        r"Shutdown broker because (?:all log dirs in .*? have failed|none of the specified log dirs)",
        "every log dir failed (disk full, permissions, or a Windows file lock)",
        "free disk space / fix permissions of log.dirs, then `kafkaops up`; on Windows see the runbook",
        "log-dir-failure",
    ),
    _sig(
        "kafka.storage",
        r"KafkaStorageException|No space left on device",
        "a storage error in a log dir",
        "check free space and permissions of log.dirs",
        "log-dir-failure",
    ),
    _sig(
        "windows.file_lock",
        r"java\.nio\.file\.(?:AccessDeniedException|FileSystemException): [A-Za-z]:\\",
        "Windows file lock on a segment (KAFKA-1194)",
        "stop everything, exclude log.dirs from antivirus scanning; the durable fix is WSL2",
        "windows-file-lock",
    ),
    _sig(
        "kafka.corrupt_index",
        r"Found a corrupted index file corresponding to log file (\S+)",
        "a corrupted index was rebuilt after an unclean shutdown",
        "usually heals itself; stop with `kafkaops down`, never by killing the JVM",
        "unclean-shutdown",
        "warn",
    ),
    _sig(
        "kafka.recovery",
        r"(?:Recovering \d+ logs from|Attempting recovery for all logs in) \S+ since no clean shutdown file was found",
        "log recovery after an unclean shutdown",
        "usually heals itself; stop with `kafkaops down`, never by killing the JVM",
        "unclean-shutdown",
        "warn",
    ),
    _sig(
        "zk.datadir",
        r"Unable to access datadir|Unable to create data directory|Cannot write to data directory",
        "ZooKeeper cannot use its dataDir",
        "check dataDir in zookeeper.properties exists and is writable",
        "log-dir-failure",
    ),
)

# Lines that mark the start of a service's run: a scan for "the last start" begins at the last one.
START_MARKERS = (
    re.compile(r"Connecting to zookeeper on"),  # broker
    re.compile(r"Reading configuration from: "),  # ZooKeeper (QuorumPeerConfig)
    re.compile(r"Kafka Connect worker initializing \.\.\."),  # a Connect worker (AbstractConnectCli)
)


def records(lines: Iterable[str]) -> list[tuple[int, str]]:
    """Group log lines into records (a timestamped line plus its continuation lines)."""
    out: list[tuple[int, list[str]]] = []
    for no, line in enumerate(lines, start=1):
        if _RECORD_START.match(line) or not out:
            out.append((no, [line]))
        else:
            out[-1][1].append(line)
    return [(no, "".join(parts)) for no, parts in out]


def scan(text: str, *, first_line: int = 1) -> list[Finding]:
    """Every known signature in ``text``, in order of appearance (one finding per record)."""
    findings: list[Finding] = []
    for no, record in records(text.splitlines(keepends=True)):
        for sig in SIGNATURES:
            if sig.pattern.search(record):
                head = record.splitlines()[0] if record else ""
                ts = head[1:24] if _RECORD_START.match(head) else None
                findings.append(Finding(sig, no + first_line - 1, head.strip(), ts))
                break
    return findings


def last_run(text: str, first_line: int = 1) -> tuple[str, int]:
    """The part of a log since the service's last start marker (older runs' failures are history), and its first line's number."""
    lines = text.splitlines(keepends=True)
    start = 0
    for i, line in enumerate(lines):
        if any(m.search(line) for m in START_MARKERS):
            start = i
    return "".join(lines[start:]), first_line + start


def classify(text: str) -> Finding | None:
    """The decisive failure in a failed start: the first error-level finding, else the first warning."""
    findings = scan(text)
    errors = [f for f in findings if f.signature.severity == "error"]
    if errors:
        return errors[0]
    return findings[0] if findings else None
