"""One produce run: the position and the lock, the settle gate, then rounds of batches read, sent
and committed (or, for a dry run, what would be sent)."""

from __future__ import annotations

import gc
import threading
import time
from datetime import datetime
from typing import Any, NoReturn

from kafkaops.adapters import pipeline_sql
from kafkaops.adapters.producer import DEFAULT_MAX_MESSAGE_BYTES, max_event_bytes
from kafkaops.errors import RefusedError
from kafkaops.procedures.db import (
    Offset,
    Pipeline,
    TableRef,
    claim_position,
    read_position,
    record_skipped,
    require_id_column,
    require_table,
    session,
    take_lock,
)
from kafkaops.procedures.handover_mark import refuse_if_handed_over
from kafkaops.procedures.produce import exactly_once
from kafkaops.procedures.produce.committer import OffsetCommitter
from kafkaops.procedures.produce.debezium import event_builder
from kafkaops.procedures.produce.delivery import Batch, DeliveryTracker, check_topic
from kafkaops.procedures.produce.events import SKIP_REASON, EventBuilder, load_mapper, oversize_error, oversize_rows, topic_limit
from kafkaops.procedures.produce.gate import gate_error, settle
from kafkaops.procedures.produce.options import MAX_IN_FLIGHT, Hooks, Plan, ProduceOptions, ProduceResult, validate
from kafkaops.procedures.produce.reader import BatchReader
from kafkaops.settings import Settings

OFFSET_SYNCHRONOUS_COMMIT = "on"  # durable offset updates (bench/bench_produce.py --offset-commit compares "off")


class Run:
    """A run that sends: a :class:`BatchReader` reads the rows, each batch's events are measured
    against the topic's limit, a :class:`DeliveryTracker` sends them and collects their reports, and
    an :class:`OffsetCommitter` moves the offset past what was acknowledged. :meth:`finish` ends it
    whatever happened."""

    def __init__(
        self,
        settings: Settings,
        opts: ProduceOptions,
        conn: Any,
        ref: TableRef,
        builder: EventBuilder,
        hooks: Hooks,
        stop: threading.Event,
        *,
        row: int = 0,
        committed: int = 0,
        limit: int = DEFAULT_MAX_MESSAGE_BYTES,
        dsn: str = "",
    ) -> None:
        self.settings, self.opts, self.conn, self.ref, self.builder, self.hooks, self.stop = settings, opts, conn, ref, builder, hooks, stop
        self.topic = opts.topic or settings.kafka_topic
        self.limit = limit  # the topic's max.message.bytes
        self.skipped = 0
        self.reader = BatchReader(conn, dsn, ref, builder, opts.batch_size, stop)
        self.committer = OffsetCommitter(conn, row, committed, f"{ref.qualified} -> {self.topic}", hooks)
        self.tracker = DeliveryTracker(
            self.committer.commit, topic=self.topic, table=ref.qualified, broker=settings.kafka_broker, delivery_timeout=opts.delivery_timeout
        )

    def open_producer(self) -> None:
        self.tracker.open(self.settings, self.limit)

    def round(self, level: int, limit: int | None) -> int:
        """Everything in (offset, level], batch by batch, in id order: the number of events sent."""
        # Rows, events and delivery reports are short-lived and acyclic: the cyclic collector would
        # only burn CPU scanning them (reference counting frees them). Paused for the round.
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            return self._round(level, limit)
        finally:
            if gc_was_enabled:
                gc.enable()

    def _round(self, level: int, limit: int | None) -> int:
        sent_before, tracker = self.committer.sent, self.tracker
        for rows in self.reader.batches(self.committer.committed, level, limit):
            batch = Batch(int(rows[-1][0]), rows[-1][1], len(rows))
            events = self.check_sizes(self.builder.events(rows))
            batch.count = tracker.send(batch, events)  # events: rows skipped (mapper, --skip-oversize) are not counted
            tracker.inflight.append(batch)
            tracker.drain(until_below=MAX_IN_FLIGHT)
        tracker.drain(until_below=1)
        return self.committer.sent - sent_before

    def check_sizes(self, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """The rows with every event too large for the topic dealt with before anything is sent:
        with --skip-oversize it is recorded in producer_skipped and dropped (the offset passes it);
        else the rows before it are sent and committed and the run stops, naming it."""
        largest = max_event_bytes(self.limit)
        longest_key = max(20, *(len(r[0]) for r in rows)) if rows else 20  # 20 digits; a Debezium key --with-schema: its schema too
        quick = (largest - longest_key) // 4  # UTF-8: at most 4 bytes a character
        out = rows
        for i in [i for i, r in enumerate(rows) if r[2] is not None and len(r[2]) > quick]:
            key, created, v = rows[i]
            size = len(v.encode()) + len(key)
            if size <= largest:
                continue
            if not self.opts.skip_oversize:
                self._stop_before(rows, i, size)
            self._skip(int(key), size)
            if out is rows:
                out = list(rows)
            out[i] = (key, created, None)
        return out

    def _stop_before(self, rows: list[tuple[Any, ...]], i: int, size: int) -> NoReturn:
        """Send and commit the rows before row ``i``, then stop naming it (too large for the topic)."""
        if i:
            head = Batch(int(rows[i - 1][0]), rows[i - 1][1], i)
            head.count = self.tracker.send(head, rows[:i])
            self.tracker.inflight.append(head)
        self.tracker.drain(until_below=1)
        raise oversize_error(self.ref, int(rows[i][0]), size, self.topic, self.limit, self.settings.kafka_broker, self.committer.committed)

    def _skip(self, row_id: int, size: int) -> None:
        record_skipped(self.conn, self.ref.qualified, self.topic, row_id, size, self.limit, SKIP_REASON)
        self.skipped += 1
        self.hooks.skipped(
            f"skipped row id={row_id} of {self.ref.qualified}: its event is {size:,} bytes, over topic {self.topic}'s max.message.bytes of {self.limit:,}; recorded in producer_skipped"
        )

    def finish(self) -> None:
        """Stop the readers; what is in flight gets its reports and the acknowledged prefix is committed."""
        self.reader.close()
        self.committer.finish(self.tracker)

    def result(self, result: ProduceResult) -> ProduceResult:
        """``result`` with what this run sent and committed."""
        result.offset = self.committer.committed
        result.sent = self.committer.sent
        result.skipped = self.skipped
        if self.committer.committed_created_at is not None:
            result.last_created_at = datetime.fromisoformat(self.committer.committed_created_at).isoformat()
        result.interrupted = self.stop.is_set()
        return result


def _position(conn: Any, pipeline: Pipeline, settings: Settings, dry_run: bool) -> Offset:
    """The pipeline's offset; a real run claims its row and takes its producer lock first."""
    if dry_run:  # writes nothing: an old offset table is read as it is, a new pipeline is at 0
        return read_position(conn, pipeline, settings) or Offset(0, None)
    offset = claim_position(conn, pipeline, settings)
    assert offset.row is not None
    take_lock(conn, pipeline, offset.row, refuse=_second_producer)
    return read_position(conn, pipeline, settings) or offset  # as it is now that this run holds the lock


def _second_producer(pipeline: Pipeline, holder: str) -> RefusedError:
    return RefusedError(
        f"another producer is running for {pipeline}{holder}; refusing to run a second one",
        hint="wait for it to finish (or stop it); two producers would send rows twice",
    )


def _ahead_of_table(conn: Any, ref: TableRef, pipeline: Pipeline, offset: Offset) -> RefusedError:
    newest = pipeline_sql.max_id(conn, ref.schema, ref.name)
    return RefusedError(
        f"the offset is ahead of the table: producer_offsets.last_id={offset.last_id} but the newest id in {ref.qualified} is {newest if newest is not None else 'none (empty table)'}; "
        "rows would never be sent",
        hint=f"if the table was truncated and re-seeded, send it again from the start with `kafkaops db rewind --yes{pipeline.flags}`, then `kafkaops produce{pipeline.flags}`",
    )


def _rounds(run: Run, opts: ProduceOptions, level: int, blockers: list[str], result: ProduceResult) -> None:
    """Round after round (one without --follow), each after the settle gate cleared."""
    while True:
        if not blockers:
            rows_left = None if opts.max_rows is None else opts.max_rows - run.committer.sent  # not the topic's max.message.bytes
            n = run.round(level, rows_left)
            result.rounds += 1
            if opts.follow:
                run.hooks.round(n, run.committer.committed)
        else:
            run.hooks.waiting(gate_error(level, blockers, opts.settle_timeout).message)
        if not opts.follow or run.stop.is_set() or (opts.max_rows is not None and run.committer.sent >= opts.max_rows):
            return
        if run.stop.wait(opts.interval):
            return
        level, blockers = settle(run.conn, run.ref, opts.settle_timeout, run.hooks.waiting)
        pending = pipeline_sql.count_rows(run.conn, run.ref.schema, run.ref.name, run.committer.committed, level) if not blockers else 0
        run.committer.total = run.committer.sent + pending


def produce(settings: Settings, opts: ProduceOptions, hooks: Hooks | None = None, stop: threading.Event | None = None) -> ProduceResult:
    """Send the rows above the offset to the topic (see the package's docstring for the steps)."""
    from kafkaops.adapters.embedded_pg import database_url
    from kafkaops.adapters.postgres import shown

    validate(opts)
    hooks = hooks or Hooks()
    stop = stop or threading.Event()
    topic = opts.topic or settings.kafka_topic
    mapper = load_mapper(opts.mapper) if opts.mapper else None

    with session(settings, application_name="kafkaops-produce") as conn:
        ref = require_table(conn, opts.table)
        require_id_column(conn, ref)
        pipeline = Pipeline(ref.qualified, topic)
        offset = _position(conn, pipeline, settings, opts.dry_run)
        refuse_if_handed_over(conn, pipeline)  # Kafka Connect sends this pipeline's changes now (kafkaops cdc)
        check_topic(settings, topic)
        limit = topic_limit(settings, topic)
        builder = event_builder(conn, ref, opts.envelope, opts.with_schema, mapper)
        eos = exactly_once.start(settings, conn, ref, topic, offset, limit, opts, hooks) if opts.exactly_once and not opts.dry_run else None
        offset = eos.offset if eos else offset  # recovered from the topic if the last run's commit got there first
        if not opts.exactly_once and not opts.dry_run:
            exactly_once.warn_if_downgraded(conn, offset, f"{ref.qualified} -> {topic}", hooks)
        # Each offset UPDATE waits for its WAL flush, whatever the server's or role's default: after
        # a PostgreSQL crash the offset is the last one committed, so only the batches in flight are
        # re-sent (off lost up to ~3 x wal_writer_delay of commits: tens of thousands of rows).
        pipeline_sql.set_synchronous_commit(conn, OFFSET_SYNCHRONOUS_COMMIT)

        level, blockers = settle(conn, ref, opts.settle_timeout, hooks.waiting)
        if offset.last_id > level:
            raise _ahead_of_table(conn, ref, pipeline, offset)
        if blockers and not opts.follow:
            raise gate_error(level, blockers, opts.settle_timeout)
        pending = pipeline_sql.count_rows(conn, ref.schema, ref.name, offset.last_id, level, opts.max_rows) if not blockers else 0
        plan = Plan(ref.qualified, topic, shown(database_url(settings)), offset.last_id, level, pending, opts.dry_run)
        created = offset.last_created_at.isoformat() if offset.last_created_at else None
        result = ProduceResult(ref.qualified, topic, offset.last_id, offset.last_id, created, 0, dry_run=opts.dry_run)

        if opts.dry_run:
            hooks.initialized(plan)
            return _dry_run(conn, ref, builder, offset.last_id, level, opts, result, pending, limit)

        run = Run(settings, opts, conn, ref, builder, hooks, stop, row=offset.row or 0, committed=offset.last_id, limit=limit, dsn=database_url(settings))
        if eos:
            eos.install(run)
        run.committer.total = pending
        run.open_producer()
        hooks.initialized(plan)
        try:
            _rounds(run, opts, level, blockers, result)
        finally:
            run.finish()
        return run.result(result)


def _dry_run(
    conn: Any,
    ref: TableRef,
    builder: EventBuilder,
    after: int,
    level: int,
    opts: ProduceOptions,
    result: ProduceResult,
    pending: int,
    limit: int = DEFAULT_MAX_MESSAGE_BYTES,
) -> ProduceResult:
    """What a run would send: the events previewed, rows too large named, the offset it would reach."""
    if pending and builder.sql_built:  # a mapper's (or Debezium's) events are measured when they are built, not here
        result.too_large, result.limit = oversize_rows(conn, ref, after, limit, rows=pending, upper=level), limit
    too_large = {row_id for row_id, _size in result.too_large}
    if too_large and not opts.skip_oversize:  # a real run stops before the first one
        pending = pipeline_sql.count_between(conn, ref.schema, ref.name, after, min(too_large))
    ts_ms = int(time.time() * 1000)
    rows = pipeline_sql.fetch_batch(conn, builder.query(), builder.params(after, level, min(opts.preview, pending), ts_ms)) if pending else []
    result.preview = [(k, v) for k, _created, v in builder.events(rows) if v is not None]
    result.preview = [(k, v) for k, v in result.preview if int(k) not in too_large]
    result.sent = pending - (len(too_large) if opts.skip_oversize else 0)
    if pending:
        last = pipeline_sql.nth_row(conn, ref.schema, ref.name, "created_at" in ref.columns, after, level, pending - 1)
        assert last is not None
        result.offset = last[0]
        if last[1] is not None:
            result.last_created_at = last[1].isoformat()
    return result
