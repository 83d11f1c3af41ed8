"""kafkaops cdc deploy|status|pause|resume|delete: Debezium's PostgreSQL connector for the pipeline.

The connector reads the table's changes from a logical replication slot (pgoutput) and a publication, both
named after the pipeline, and routes its events to the pipeline's topic (RegexRouter), in Debezium's
envelope without schemas (the workers' JSON converters): the events `kafkaops produce --envelope debezium` writes.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass, field
from typing import Any

from kafkaops.adapters import connect_rest, embedded_pg, replication_sql
from kafkaops.errors import ExitCode, KafkaopsError, RefusedError, UsageError
from kafkaops.procedures import signatures
from kafkaops.procedures.connect import secrets
from kafkaops.procedures.connect.handover import Handover, bridge
from kafkaops.procedures.connect.workers import connect_url, providers_ready
from kafkaops.procedures.db import session, set_position
from kafkaops.procedures.db_schema import Pipeline, read_position, require_id_column, require_table
from kafkaops.procedures.handover_mark import read_mark, remove_mark
from kafkaops.procedures.services.config import Progress, _noop
from kafkaops.settings import Settings

CONNECTOR_CLASS = "io.debezium.connector.postgresql.PostgresConnector"


@dataclass(frozen=True)
class Names:
    connector: str
    slot: str  # also the publication's name and Debezium's topic.prefix


def names(pipeline: Pipeline) -> Names:
    """Names PostgreSQL accepts for a slot (63 chars of [a-z0-9_]), stable per pipeline, distinct per pipeline."""
    digest = hashlib.sha256(f"{pipeline.table}\0{pipeline.topic}".encode()).hexdigest()[:8]
    base = re.sub(r"[^a-z0-9_]+", "_", f"{pipeline.table}_{pipeline.topic}".lower()).strip("_")[:40]
    slot = f"kafkaops_{base}_{digest}"
    return Names(slot.replace("_", "-"), slot)


def connector_config(settings: Settings, dsn: str, pipeline: Pipeline, n: Names, *, from_producer: bool) -> dict[str, str]:
    db = replication_sql.dsn_parts(dsn)
    schema, table = pipeline.table.split(".", 1)
    return {
        "connector.class": CONNECTOR_CLASS,
        "tasks.max": "1",
        "plugin.name": "pgoutput",
        "database.hostname": db["host"],
        "database.port": db["port"],
        "database.user": db["user"],
        "database.password": db["password"],
        "database.dbname": db["dbname"],
        "topic.prefix": n.slot,
        "table.include.list": f"{schema}.{table}",
        "slot.name": n.slot,
        "publication.name": n.slot,
        "publication.autocreate.mode": "disabled",  # kafkaops made it, for this table only
        "snapshot.mode": "no_data" if from_producer else "initial",  # no_data: the hand-over sent the rows before the slot
        "tombstones.on.delete": "false",  # the pipeline's topic never held tombstones
        "max.batch.size": "10240",  # Debezium's 2048 and 8192 hold a large transaction back (bench/bench_cdc.py)
        "max.queue.size": "40960",
        "poll.interval.ms": "100",
        "transforms": "route",
        "transforms.route.type": "org.apache.kafka.connect.transforms.RegexRouter",
        "transforms.route.regex": ".*",
        "transforms.route.replacement": pipeline.topic,
    }


def check_logical(settings: Settings, conn: Any, *, yes: bool) -> bool:
    """Refuse (exit 5) a database that cannot do logical replication, with the fix; True when the embedded one
    was switched to wal_level=logical (then restarted: the caller reconnects)."""
    cap = replication_sql.capability(conn)
    if not cap.can_replicate:
        raise RefusedError(
            "the DATABASE_URL user may not replicate (needs the REPLICATION attribute)",
            hint="as a superuser: ALTER ROLE <user> REPLICATION",
            exit_code=ExitCode.REFUSED,
        )
    if cap.slots_used >= cap.max_replication_slots:
        raise RefusedError(
            f"all {cap.max_replication_slots} replication slots are in use", hint="raise max_replication_slots (restart), or drop an unused slot"
        )
    if cap.wal_level == "logical":
        return False
    embedded = settings.database_url is None and settings.embedded_db
    if embedded and yes and cap.superuser:
        replication_sql.set_wal_level_logical(conn)
        return True
    fix = (
        "rerun with --yes to switch the embedded PostgreSQL to wal_level=logical (it restarts)"
        if embedded
        else "ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL"
    )
    raise RefusedError(f"the database runs with wal_level={cap.wal_level}: Debezium needs wal_level=logical", hint=fix)


@dataclass
class CdcStatus:
    connector: str
    state: str  # RUNNING | PAUSED | FAILED | UNASSIGNED | absent
    worker: str | None = None
    tasks: list[dict[str, Any]] = field(default_factory=list)
    slot: dict[str, Any] | None = None
    handover: dict[str, Any] | None = None
    bridged: Handover | None = None


def _pipeline(conn: Any, settings: Settings, table: str, topic: str | None) -> tuple[Any, Pipeline]:
    ref = require_table(conn, table)
    return ref, Pipeline(ref.qualified, topic or settings.kafka_topic)


def deploy(
    settings: Settings, table: str, topic: str | None, *, from_producer: bool, yes: bool, progress: Progress = _noop, warn: Progress = _noop
) -> CdcStatus:
    url = connect_url(settings)
    plugins = connect_rest.expect(connect_rest.request(url, "GET", "/connector-plugins"), "list its plugins")
    if not any(p.get("class") == CONNECTOR_CLASS for p in plugins or []):
        raise KafkaopsError(
            f"the Connect cluster at {url} has no Debezium PostgreSQL plugin",
            hint="kafkaops install --with connect, then kafkaops connect down && kafkaops connect up",
        )
    dsn = embedded_pg.database_url(settings)
    with session(settings, "kafkaops-cdc") as conn:
        switched = check_logical(settings, conn, yes=yes)
    if switched:
        progress("restarting the embedded PostgreSQL with wal_level=logical")
        embedded_pg.stop(settings)
        embedded_pg.start(settings)
    with session(settings, "kafkaops-cdc") as conn:
        ref, pipeline = _pipeline(conn, settings, table, topic)
        require_id_column(conn, ref)
        n = names(pipeline)
        if connect_rest.request(url, "GET", f"/connectors/{n.connector}").status == 200:
            return status(settings, table, topic)  # deployed already: nothing to do
        made = replication_sql.ensure_publication(conn, n.slot, ref.schema, ref.name)
        bridged = None
        if from_producer and read_mark(conn, pipeline) is None:  # a mark: handed over already, the connector still to create
            progress("handing over: producer lock, slot, rows between the producer's position and the slot")
            try:
                bridged = bridge(settings, conn, dsn, ref, pipeline, n.slot, n.connector)
            except BaseException:
                if made:  # a refused or failed hand-over leaves nothing behind
                    replication_sql.drop_publication(conn, n.slot)
                raise
        config = connector_config(settings, dsn, pipeline, n, from_producer=from_producer)
        password = config["database.password"]  # a ${file:...} reference instead, where the workers resolve one (secrets.py)
        config["database.password"] = secrets.password_value(settings, n.connector, password, provider_ready=providers_ready(settings), warn=warn)
        reply = connect_rest.request(url, "PUT", f"/connectors/{n.connector}/config", config, timeout=30.0)
        connect_rest.expect(reply, f"create {n.connector}", secrets=(password,))
    result = _wait_running(settings, url, table, topic, progress)
    result.bridged = bridged
    return result


def _wait_running(settings: Settings, url: str, table: str, topic: str | None, progress: Progress) -> CdcStatus:
    deadline = time.monotonic() + settings.start_timeout
    while True:
        st = status(settings, table, topic)
        failed = [t for t in st.tasks if t.get("state") == "FAILED"]
        if st.state == "FAILED" or failed:
            trace = (failed[0] if failed else {}).get("trace") or ""
            known = signatures.classify(trace) if trace.strip() else None  # a known failure (e.g. Debezium's wal_level): its remedy
            raise KafkaopsError(
                f"connector {st.connector} failed: {trace.strip().splitlines()[0] if trace.strip() else st.state}",
                hint=known.signature.remedy if known else "kafkaops connect logs",
                runbook=known.signature.runbook if known else None,
            )
        if st.state == "RUNNING" and st.tasks and all(t.get("state") == "RUNNING" for t in st.tasks):
            return st
        if time.monotonic() > deadline:
            raise KafkaopsError(f"connector {st.connector} is {st.state} after {settings.start_timeout:g}s", hint="kafkaops cdc status; kafkaops connect logs")
        progress(f"waiting for {st.connector} to run ({st.state})")
        time.sleep(0.5)


def status(settings: Settings, table: str, topic: str | None) -> CdcStatus:
    url = connect_url(settings)
    with session(settings, "kafkaops-cdc") as conn:
        _ref, pipeline = _pipeline(conn, settings, table, topic)
        n = names(pipeline)
        slot = replication_sql.slot_info(conn, n.slot)
        mark = read_mark(conn, pipeline)
    reply = connect_rest.request(url, "GET", f"/connectors/{n.connector}/status")
    body = reply.body if reply.status == 200 and isinstance(reply.body, dict) else {}
    conn_state = body.get("connector", {})
    st = CdcStatus(n.connector, str(conn_state.get("state", "absent")), conn_state.get("worker_id"), list(body.get("tasks", [])))
    if slot is not None:
        st.slot = {"name": slot.name, "active": slot.active, "retained_wal_bytes": slot.retained_bytes, "lag_bytes": slot.lag_bytes}
    if mark is not None:
        st.handover = {"producer_last_id": mark.producer_last_id, "last_id": mark.last_id, "rows_bridged": mark.rows_bridged, "slot_lsn": mark.slot_lsn}
    return st


def slot_of(settings: Settings, table: str, topic: str | None) -> replication_sql.SlotInfo | None:
    """The pipeline's replication slot as PostgreSQL reports it (None: there is none); Connect is not asked."""
    with session(settings, "kafkaops-doctor") as conn:
        _ref, pipeline = _pipeline(conn, settings, table, topic)
        return replication_sql.slot_info(conn, names(pipeline).slot)


def pause_resume(settings: Settings, table: str, topic: str | None, verb: str) -> CdcStatus:
    if verb not in ("pause", "resume"):
        raise UsageError(f"unknown verb {verb}")
    st = status(settings, table, topic)
    if st.state == "absent":
        raise KafkaopsError(f"connector {st.connector} is not deployed", hint="kafkaops cdc deploy")
    connect_rest.expect(connect_rest.request(connect_url(settings), "PUT", f"/connectors/{st.connector}/{verb}"), f"{verb} {st.connector}")
    return st


def delete(settings: Settings, table: str, topic: str | None, progress: Progress = _noop) -> list[str]:
    """Remove the connector, then its slot (once no task reads it) and publication, then the hand-over mark."""
    url = connect_url(settings)
    done = []
    with session(settings, "kafkaops-cdc") as conn:
        _ref, pipeline = _pipeline(conn, settings, table, topic)
        n = names(pipeline)
        if connect_rest.request(url, "DELETE", f"/connectors/{n.connector}", timeout=30.0).status in (200, 204):
            done.append(f"connector {n.connector} deleted")
        deadline = time.monotonic() + settings.stop_timeout
        while (slot := replication_sql.slot_info(conn, n.slot)) is not None and slot.active and time.monotonic() < deadline:
            progress(f"waiting for the task to release the slot {n.slot}")
            time.sleep(0.2)
        if replication_sql.drop_slot(conn, n.slot):
            done.append(f"replication slot {n.slot} dropped")
        replication_sql.drop_publication(conn, n.slot)
        if secrets.remove_secret(settings, n.connector):
            done.append(f"the connector's password file {secrets.secret_path(settings, n.connector)} removed")
        back = _position_back(conn, settings, pipeline)
        if remove_mark(conn, pipeline):
            done.append(f"hand-over mark removed: kafkaops produce{pipeline.flags} may run again, from id {back}")
    return done


def _position_back(conn: Any, settings: Settings, pipeline: Pipeline) -> int | None:
    """Put the producer's position back where the hand-over found it (its last_id): produce sends again what the hand-over
    and Debezium sent, and a transaction that took a lower id than the hand-over's last and commits after the connector
    stopped is not skipped. Does nothing once done (a rerun of delete), or without a mark."""
    mark = read_mark(conn, pipeline)
    position = read_position(conn, pipeline, settings) if mark is not None else None
    if mark is None or position is None or position.row is None:
        return None
    if position.last_id == mark.last_id and position.last_id != mark.producer_last_id:
        set_position(conn, position.row, mark.producer_last_id)
    return mark.producer_last_id
