"""Kafka Connect and Debezium failure signatures, on real log text.

connect_logs/*.log are excerpts of real Kafka Connect 3.9.2 worker logs (and one broker log) written on this machine
on 2026-12-03 (kafkaops's log4j pattern): a REST port taken by another socket, a worker whose bootstrap.servers
answers nothing, and internal topics with replication factor 3 on a one-broker cluster. The Debezium and
PostgreSQL records are built from the texts in debezium/debezium v3.6.1.Final (PostgresConnectorTask:
"Creation of replication slot failed", checkWalLevel) and PostgreSQL 15.18's server binary, in the shape
WorkerTask logs a failed task; the missing-plugin text is Plugins.newConnector's in apache/kafka 3.9.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kafkaops.procedures.runbooks import resolve
from kafkaops.procedures.signatures import START_MARKERS, classify, scan

LOGS = Path(__file__).parent / "connect_logs"

TASK_FAILED = (
    "[2026-12-03 01:00:00,000] ERROR WorkerSourceTask{{id=kafkaops-public-demo-0}} Task threw an uncaught and unrecoverable exception. "
    "Task is being killed and will not recover until manually restarted (org.apache.kafka.connect.runtime.WorkerTask)\n"
    "{exception}\n"
    "\tat io.debezium.connector.postgresql.PostgresConnectorTask.start(PostgresConnectorTask.java:315)\n"
    "{cause}"
)
SLOTS_FULL = TASK_FAILED.format(
    exception="io.debezium.DebeziumException: Creation of replication slot failed",
    cause="Caused by: org.postgresql.util.PSQLException: ERROR: all replication slots are in use\n  Hint: Free one or increase max_replication_slots.\n",
)
NO_SLOTS = TASK_FAILED.format(
    exception="io.debezium.DebeziumException: Creation of replication slot failed",
    cause="Caused by: org.postgresql.util.PSQLException: ERROR: replication slots can only be used if max_replication_slots > 0\n",
)
WAL_PG = TASK_FAILED.format(
    exception="io.debezium.DebeziumException: Creation of replication slot failed",
    cause="Caused by: org.postgresql.util.PSQLException: ERROR: logical decoding requires wal_level >= logical\n",
)
WAL_PG17 = 'org.postgresql.util.PSQLException: ERROR: logical decoding requires "wal_level" >= "logical"'  # PostgreSQL 17 quotes the names
WAL_DEBEZIUM = TASK_FAILED.format(
    exception="org.apache.kafka.connect.errors.ConnectException: java.sql.SQLException: Postgres server wal_level property must be 'logical' but is: 'replica'",
    cause="Caused by: java.sql.SQLException: Postgres server wal_level property must be 'logical' but is: 'replica'\n",
)
NO_ROLE = TASK_FAILED.format(
    exception="io.debezium.DebeziumException: Creation of replication slot failed",
    cause="Caused by: org.postgresql.util.PSQLException: FATAL: must be superuser or replication role to start walsender\n",
)
PLUGIN_MISSING = (
    "[2026-12-03 01:00:00,000] ERROR [Worker clientId=connect-127.0.0.1:8083, groupId=kafkaops-connect] Failed to start connector "
    "'kafkaops-public-demo' (org.apache.kafka.connect.runtime.distributed.DistributedHerder)\n"
    "org.apache.kafka.connect.errors.ConnectException: Failed to start connector: kafkaops-public-demo\n"
    "Caused by: org.apache.kafka.connect.errors.ConnectException: Failed to find any class that implements Connector and which name matches "
    "io.debezium.connector.postgresql.PostgresConnector, available connectors are: PluginDesc{klass=class "
    "org.apache.kafka.connect.mirror.MirrorCheckpointConnector, name='org.apache.kafka.connect.mirror.MirrorCheckpointConnector'}\n"
)
CLASS_NOT_FOUND = "java.lang.ClassNotFoundException: io.debezium.connector.postgresql.PostgresConnector\n"


def test_a_taken_rest_port_in_a_real_worker_log() -> None:
    text = (LOGS / "rest_port_taken.log").read_text()
    f = classify(text)
    assert f is not None and f.id == "connect.rest_bind"
    assert f.text.endswith("ERROR Stopping due to error (org.apache.kafka.connect.cli.AbstractConnectCli)")
    assert "kafkaops connect up --port N" in f.signature.remedy
    assert f.signature.runbook == "connect rest-port-in-use"


def test_the_debezium_converter_error_every_worker_logs_at_start_is_no_finding() -> None:
    """Every worker logs an ERROR about Debezium's CloudEventsConverter while scanning plugins: harmless, not a failure."""
    text = (LOGS / "rest_port_taken.log").read_text()
    assert [f.id for f in scan(text)] == ["connect.rest_bind"]


def test_a_broker_that_does_not_answer_in_a_real_worker_log() -> None:
    f = classify((LOGS / "broker_unreachable.log").read_text())
    assert f is not None and f.id == "connect.broker_unreachable"
    assert "kafkaops up --with connect" in f.signature.remedy


def test_internal_topics_with_too_large_a_replication_factor_in_real_logs() -> None:
    worker = (LOGS / "internal_topics_rf.log").read_text()
    findings = scan(worker)
    assert [f.id for f in findings] == ["connect.topic_retry"] * 3 + ["connect.replication_factor"]
    assert classify(worker).id == "connect.replication_factor"  # the error outranks the retries (warnings)
    assert findings[0].signature.severity == "warn"
    broker = classify((LOGS / "broker_rf.log").read_text())  # where the reason is written: the broker's log
    assert broker is not None and broker.id == "kafka.replication_factor"
    kraft = "org.apache.kafka.common.errors.InvalidReplicationFactorException: The target replication factor of 3 cannot be reached because only 1 broker(s) are registered."
    assert classify(kraft).id == "kafka.replication_factor"


def test_a_refused_create_topics_in_the_broker_log_is_a_warning_not_a_failed_broker(tmp_path: Path) -> None:
    # The broker logs this at INFO for any client's CreateTopics it refuses (kafka-topics.sh asking RF 3 on one
    # broker): doctor's logs.broker failed (exit 3) with Connect's remedy until the broker restarted.
    from kafkaops.doctor.logs import scan_log

    log = tmp_path / "server.log"
    log.write_text(
        "[2026-12-03 00:31:00,000] INFO Connecting to zookeeper on localhost:2181 (kafka.server.KafkaServer)\n" + (LOGS / "broker_rf.log").read_text()
    )
    (finding,) = scan_log(log)
    assert finding.signature.severity == "warn" and "__consumer_offsets" in finding.signature.remedy


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (PLUGIN_MISSING, "connect.plugin_missing"),
        (CLASS_NOT_FOUND, "connect.plugin_missing"),
        (WAL_PG, "debezium.wal_level"),
        (WAL_PG17, "debezium.wal_level"),
        (WAL_DEBEZIUM, "debezium.wal_level"),
        (SLOTS_FULL, "debezium.slots"),
        (NO_SLOTS, "debezium.slots"),
        (NO_ROLE, "debezium.replication_role"),
    ],
)
def test_debezium_and_plugin_signatures(text: str, expected: str) -> None:
    f = classify(text)
    assert f is not None and f.id == expected


def test_each_connect_signature_has_a_remedy_and_a_runbook_section_that_exists() -> None:
    for text in (PLUGIN_MISSING, WAL_PG, SLOTS_FULL, NO_ROLE, (LOGS / "rest_port_taken.log").read_text()):
        sig = classify(text).signature  # type: ignore[union-attr]
        assert sig.remedy and sig.runbook.startswith("connect ")
        resolve(sig.runbook)  # raises when the runbook has no such section


def test_a_worker_start_is_a_start_marker() -> None:
    first = (LOGS / "broker_unreachable.log").read_text().splitlines()[0]
    assert any(m.search(first) for m in START_MARKERS)


def test_connect_logs_lists_each_signature_once_with_its_count_since_the_last_start(tmp_path: Path) -> None:
    from kafkaops.procedures.connect.workers import log_findings

    log = tmp_path / "server.log"
    log.write_text((LOGS / "rest_port_taken.log").read_text() + (LOGS / "internal_topics_rf.log").read_text())
    found = [(f.id, count, f.line_no) for f, count in log_findings(log)]
    first = len((LOGS / "rest_port_taken.log").read_text().splitlines()) + 1  # the second run's start marker
    assert found == [("connect.topic_retry", 3, first + 1), ("connect.replication_factor", 1, first + 4)]
