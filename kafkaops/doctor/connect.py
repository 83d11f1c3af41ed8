"""The Connect layer: Kafka Connect workers (local, or KAFKA_CONNECT_URL), the pipeline's Debezium connector
and its replication slot. Skipped as "not configured" where the pipeline does not use Kafka Connect."""

from __future__ import annotations

from dataclasses import replace

from kafkaops.defaults import DEMO_TABLE
from kafkaops.doctor.context import Context
from kafkaops.doctor.registry import check
from kafkaops.doctor.results import EXTRAS_STEP, FAIL, WARN, Outcome, failed, passed, skipped, warned
from kafkaops.errors import KafkaopsError

RUNBOOK = "connect failures"  # a full reference: the doctor prefixes a bare anchor with "failures "


@check("connect.workers", EXTRAS_STEP, "connect", "Kafka Connect workers answer their REST API", timeout=12.0)
def check_workers(ctx: Context) -> Outcome:
    from kafkaops.procedures.connect.workers import status

    workers = status(ctx.settings)
    if not workers:
        return skipped("Kafka Connect is not in use (no local worker, KAFKA_CONNECT_URL unset)", kind="not-configured")
    details = [f"{w.name}: {w.state} {w.url or ''} {w.detail or ''}".rstrip() for w in workers]
    bad = [w for w in workers if w.state != "running"]
    if bad:
        w = bad[0]
        remedy = "check KAFKA_CONNECT_URL and the remote cluster" if w.state == "unreachable" else "kafkaops connect up (and kafkaops connect logs)"
        return failed(
            f"{w.name} is {w.state}" + (f": {w.detail}" if w.detail else ""), remedy=remedy, runbook=RUNBOOK, details=details, next="kafkaops connect status"
        )
    return passed(f"{len(workers)} Connect worker(s) running", details=details)


@check("connect.logs", EXTRAS_STEP, "connect", "Connect worker logs: known failures since the last start", applies="local")
def check_logs(ctx: Context) -> Outcome:
    """Each local worker's log, as `kafkaops connect logs` reads it: runs whether or not the workers answer,
    since a worker that died or never became ready says why only there."""
    from kafkaops.doctor.logs import check_log
    from kafkaops.procedures.connect import stack, workers
    from kafkaops.procedures.services import log_path

    if ctx.settings.connect_url:
        return skipped(f"the workers at KAFKA_CONNECT_URL={ctx.settings.connect_url} keep their logs on their own machines", kind="not-configured")
    numbers = [n for n in stack.configured(ctx.settings) if log_path(ctx.settings, workers.service(n)).is_file()]
    if not numbers:
        return skipped("no Kafka Connect worker ran here (no log)", kind="not-configured")
    outcomes = [check_log(ctx, workers.service(n), f"kafkaops connect logs --worker {n}") for n in numbers]
    worst = next(((n, o) for status in (FAIL, WARN) for n, o in zip(numbers, outcomes, strict=True) if o.status == status), None)
    if worst is not None:  # every worker's log is server.log: say whose
        return replace(worst[1], finding=f"{workers.service(worst[0])} {worst[1].finding}")
    return passed(f"no known failure signature in the log of {len(numbers)} worker(s) since their last start", details=[o.finding for o in outcomes])


@check("connect.connector", EXTRAS_STEP, "connect", "the pipeline's Debezium connector and its tasks RUNNING", requires=("connect.workers",), timeout=12.0)
def check_connector(ctx: Context) -> Outcome:
    from kafkaops.procedures.connect import cdc

    try:
        st = cdc.status(ctx.settings, DEMO_TABLE, None)
    except KafkaopsError as exc:
        return skipped(f"the pipeline's connector cannot be looked up: {exc.message}", kind="not-configured")
    if st.state == "absent":
        return skipped(f"no Debezium connector for the pipeline ({st.connector})", kind="not-configured")
    failing = [t for t in st.tasks if t.get("state") == "FAILED"]
    if st.state == "FAILED" or failing:
        from kafkaops.procedures.signatures import classify

        trace = ((failing[0] if failing else {}).get("trace") or "").strip()
        first = trace.splitlines()[0] if trace else st.state
        known = classify(trace) if trace else None  # e.g. Debezium's wal_level or replication slot errors, deep in the trace
        return failed(
            f"connector {st.connector} failed: {first}" + (f" ({known.signature.title})" if known else ""),
            remedy=known.signature.remedy if known else "read kafkaops connect logs; fix, then kafkaops cdc delete --yes and deploy again",
            runbook=known.signature.runbook if known else RUNBOOK,
        )
    if st.state != "RUNNING" or not st.tasks or any(t.get("state") != "RUNNING" for t in st.tasks):
        return warned(f"connector {st.connector} is {st.state}", remedy="kafkaops cdc resume", runbook=RUNBOOK, next="kafkaops cdc status")
    return passed(f"connector {st.connector} RUNNING with {len(st.tasks)} task(s)")


@check("connect.slot", EXTRAS_STEP, "connect", "the pipeline's replication slot has a consumer", applies="database", timeout=8.0)
def check_slot(ctx: Context) -> Outcome:
    from kafkaops.procedures.connect import cdc

    try:
        slot = cdc.slot_of(ctx.settings, DEMO_TABLE, None)
    except KafkaopsError as exc:
        return skipped(f"the database cannot be asked: {exc.message}", kind="not-configured")
    if slot is None:
        return skipped("no replication slot for the pipeline", kind="not-configured")
    retained = f"{(slot.retained_bytes or 0) / 1e6:.1f} MB of WAL retained"
    if not slot.active:
        return failed(
            f"replication slot {slot.name} has no consumer: PostgreSQL keeps WAL for it until the disk fills ({retained})",
            remedy="start its connector (kafkaops connect up; kafkaops cdc resume), or drop it: kafkaops cdc delete --yes",
            runbook=RUNBOOK,
        )
    return passed(f"replication slot {slot.name} active, {retained}")
