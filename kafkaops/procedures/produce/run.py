"""One produce run: the position and the lock, the settle gate, then rounds of batches read, sent
and committed (or, for a dry run, what would be sent)."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, NoReturn

from kafkaops.adapters import pipeline_sql
from kafkaops.adapters.producer import DEFAULT_MAX_MESSAGE_BYTES, max_event_bytes
from kafkaops.errors import RefusedError, UsageError
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
from kafkaops.procedures.produce.debezium import event_builder, partitioner
from kafkaops.procedures.produce.delivery import Batch, DeliveryTracker, check_topic
from kafkaops.procedures.produce.events import SKIP_REASON, EventBuilder, load_mapper, oversize_error, oversize_rows, topic_limit
from kafkaops.procedures.produce.gate import clock_level, gate_error, high_water, settle
from kafkaops.procedures.produce.live import follow, live_round
from kafkaops.procedures.produce.options import MAX_IN_FLIGHT, Hooks, Plan, ProduceOptions, ProduceResult, validate
from kafkaops.procedures.produce.position import LivePosition
from kafkaops.procedures.produce.reader import START, BatchReader, CursorBatch, CursorReader, LiveBatch, LiveReader
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
        committed_ts: str | None = None,
    ) -> None:
        self.settings, self.opts, self.conn, self.ref, self.builder, self.hooks, self.stop = settings, opts, conn, ref, builder, hooks, stop
        self.topic = opts.topic or settings.kafka_topic
        self.limit = limit  # the topic's max.message.bytes
        self.skipped = 0
        self.cursor = opts.mode == "timestamp+id"
        self.reader: BatchReader | CursorReader = (
            CursorReader(conn, ref, builder, opts.batch_size, opts.timestamp_column, stop)
            if self.cursor
            else BatchReader(conn, dsn, ref, builder, opts.batch_size, stop)
        )
        self.committer = OffsetCommitter(conn, row, committed, f"{ref.qualified} -> {self.topic}", hooks)
        self.committer.committed_ts = committed_ts
        self.live_reader = LiveReader(conn, ref, builder, opts.batch_size, stop)
        self.work: LivePosition | None = None  # a live position (see live.py): where the next batch starts
        self._rows: list[tuple[Any, ...]] = []  # the batch being sent, as read
        self.tracker = DeliveryTracker(
            self.committer.commit, topic=self.topic, table=ref.qualified, broker=settings.kafka_broker, delivery_timeout=opts.delivery_timeout
        )

    def open_producer(self) -> None:
        self.tracker.open(self.settings, self.limit, partitioner(self.opts.envelope))

    def round(self, level: Any, limit: int | None) -> int:
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

    def settle(self) -> tuple[Any, list[str]]:
        """The settle gate: (level, blockers); the level is an id, or a time for a timestamp cursor."""
        return settle(self.conn, self.ref, self.opts.settle_timeout, self.hooks.waiting, clock_level if self.cursor else high_water)

    def pending(self, level: Any, limit: int | None = None) -> int:
        """The rows past the position up to the gate's ``level`` (at most ``limit``)."""
        c, ref = self.committer, self.ref
        if self.cursor:
            return pipeline_sql.count_cursor(self.conn, ref.schema, ref.name, self.opts.timestamp_column, (c.committed_ts or START, c.committed), level, limit)
        return pipeline_sql.count_rows(self.conn, ref.schema, ref.name, c.committed, level, limit)

    def _batches(self, level: Any, limit: int | None) -> Iterator[list[tuple[Any, ...]]]:
        """The rows past the position up to ``level``, batch by batch, as the reader gives them."""
        c = self.committer
        if isinstance(self.reader, CursorReader):
            return self.reader.batches((c.committed_ts or START, c.committed), level, limit)
        if self.work is not None:
            return self.live_reader.batches(self.work, level, limit)
        return self.reader.batches(c.committed, level, limit)

    def _batch(self, rows: list[tuple[Any, ...]]) -> Batch:
        """The batch of ``rows`` (as read), with where the position moves once it is acknowledged."""
        last = rows[-1]
        if self.cursor:
            return CursorBatch(int(last[0]), last[1], len(rows), last[3])
        if self.work is not None:  # a live position: what was sent above the low-water mark
            position = self.work.copy()
            position.sent([int(r[0]) for r in rows])
            return LiveBatch(int(last[0]), last[1], len(rows), position)
        return Batch(int(last[0]), last[1], len(rows))

    def _round(self, level: Any, limit: int | None) -> int:
        sent_before, tracker = self.committer.sent, self.tracker
        for rows in self._batches(level, limit):
            self._rows, batch = rows, self._batch(rows)
            events = self.check_sizes(self.builder.events([r[:3] for r in rows] if self.cursor else rows))
            batch.count = tracker.send(batch, events)  # events: rows skipped (mapper, --skip-oversize) are not counted
            tracker.inflight.append(batch)
            if isinstance(batch, LiveBatch):
                self.work = batch.position
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
            head = self._batch((self._rows or rows)[:i])  # the rows as read: a cursor's or live position's batch too
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


def _rounds(run: Run, opts: ProduceOptions, level: Any, blockers: list[str], result: ProduceResult) -> None:
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
        level, blockers = run.settle()
        pending = run.pending(level) if not blockers else 0
        run.committer.total = run.committer.sent + pending


@contextmanager
def _listener(dsn: str, ref: TableRef) -> Iterator[Any]:
    """A connection listening on the table's channel (kafkaops.<schema>.<table>; see live.py)."""
    from kafkaops.adapters.postgres import connect

    conn = connect(dsn, application_name="kafkaops-produce-listen")
    try:
        pipeline_sql.listen(conn, f"kafkaops.{ref.schema}.{ref.name}")
        yield conn
    finally:
        conn.close()


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None


def _refuse_ahead_or_unsettled(conn: Any, ref: TableRef, pipeline: Pipeline, offset: Offset, opts: ProduceOptions, level: Any, blockers: list[str]) -> None:
    """Refuse an id offset ahead of the table, and (without --follow) a gate that did not clear."""
    if isinstance(level, int) and offset.last_id > level:
        raise _ahead_of_table(conn, ref, pipeline, offset)
    if blockers and not opts.follow:
        raise gate_error(level, blockers, opts.settle_timeout)


def _require_cursor(conn: Any, ref: TableRef, pipeline: Pipeline, offset: Offset, opts: ProduceOptions) -> None:
    """--mode timestamp+id needs a timestamptz column; a position is kept in the mode it was made in."""
    if opts.mode == "id":
        if offset.last_ts is not None:
            raise _other_mode(pipeline, "a timestamp+id cursor", "--mode timestamp+id")
        return
    col = opts.timestamp_column
    if ref.columns.get(col) != "timestamptz":
        got = f"is {ref.columns[col]}" if col in ref.columns else "does not exist"
        raise UsageError(
            f"--timestamp-column {col} of {ref.qualified} {got}; --mode timestamp+id needs a timestamptz column set by a trigger from clock_timestamp()",
            hint="`kafkaops db init --demo` gives livedb one (updated_at); see `kafkaops runbook producer` for your own table",
        )
    if offset.last_ts is None and offset.last_id > 0:
        raise _other_mode(pipeline, f"an id cursor at {offset.last_id}", "--mode id")


def _other_mode(pipeline: Pipeline, what: str, mode: str) -> RefusedError:
    return RefusedError(
        f"the position of {pipeline} is {what}: another mode would skip or re-send rows",
        hint=f"keep `kafkaops produce {mode}`, use another --topic, or start this pipeline over with `kafkaops db rewind --yes{pipeline.flags}`",
    )


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
        _require_cursor(conn, ref, pipeline, offset, opts)
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

        if opts.dry_run:
            level, blockers = settle(conn, ref, opts.settle_timeout, hooks.waiting)
            _refuse_ahead_or_unsettled(conn, ref, pipeline, offset, opts, level, blockers)
            pending = pipeline_sql.count_rows(conn, ref.schema, ref.name, offset.last_id, level, opts.max_rows) if not blockers else 0
            hooks.initialized(Plan(ref.qualified, topic, shown(database_url(settings)), offset.last_id, level, pending, opts.dry_run))
            result = ProduceResult(ref.qualified, topic, offset.last_id, offset.last_id, _iso(offset.last_created_at), 0, dry_run=opts.dry_run)
            return _dry_run(conn, ref, builder, offset.last_id, level, opts, result, pending, limit)

        committed_ts = None if offset.last_ts is None else pipeline_sql.timestamp_text(conn, offset.last_ts)
        run = Run(
            settings,
            opts,
            conn,
            ref,
            builder,
            hooks,
            stop,
            row=offset.row or 0,
            committed=offset.last_id,
            limit=limit,
            dsn=database_url(settings),
            committed_ts=committed_ts,
        )
        if eos:
            eos.install(run)
        if offset.sent_upto is not None or offset.holes:
            run.committer.live = LivePosition.parse(offset.last_id, offset.sent_upto, offset.holes)
        unclean = not (run.committer.live is None or run.committer.live.clean)
        if eos and unclean:
            raise RefusedError(
                f"the position of {pipeline} has rows sent above its low-water mark by an earlier `produce --follow` (ids {run.committer.live.text() if run.committer.live else ''})",
                hint="run `kafkaops produce` once without --exactly-once (it closes the live position), then use --exactly-once",
            )
        live = not run.cursor and not eos and ((opts.follow and opts.live) or unclean)
        if live and opts.follow:  # nobody is waited for: see live.py
            level, blockers = high_water(conn, ref), []
        else:
            level, blockers = run.settle()
        _refuse_ahead_or_unsettled(conn, ref, pipeline, offset, opts, level, blockers)
        pending = run.pending(level, opts.max_rows) if not blockers else 0
        result = ProduceResult(ref.qualified, topic, offset.last_id, offset.last_id, _iso(offset.last_created_at), 0)
        run.committer.total = pending
        run.open_producer()
        hooks.initialized(Plan(ref.qualified, topic, shown(database_url(settings)), offset.last_id, level, pending, opts.dry_run))
        try:
            if not live:
                _rounds(run, opts, level, blockers, result)
            elif opts.follow:
                with _listener(database_url(settings), ref) as listener:
                    follow(run, opts, result, listener)
            else:  # the gate cleared: no id up to level can still commit
                live_round(run, level, level, opts.max_rows)
                result.rounds += 1
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
