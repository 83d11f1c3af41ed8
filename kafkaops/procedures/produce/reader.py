"""The database side of a run: the rows above the offset, read ahead in batches, in id order."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any

from kafkaops.adapters import pipeline_sql
from kafkaops.procedures.db import TableRef
from kafkaops.procedures.produce.delivery import Batch
from kafkaops.procedures.produce.events import EventBuilder
from kafkaops.procedures.produce.options import READ_AHEAD, READERS
from kafkaops.procedures.produce.position import LivePosition


class BatchReader:
    """Reads the rows of ``(after, level]`` batch by batch, in id order, ahead of the sending.

    The main connection finds each batch's upper id (an index-only lookup); READERS threads, each
    with its own connection, read up to READ_AHEAD batches ahead in parallel (PostgreSQL building
    the JSON is the costly part). ``stop`` ends the reading after the batch being handed out.
    """

    def __init__(self, conn: Any, dsn: str, ref: TableRef, builder: EventBuilder, batch_size: int, stop: threading.Event) -> None:
        self.conn, self.dsn, self.ref, self.builder, self.batch_size, self.stop = conn, dsn, ref, builder, batch_size, stop
        self.query = builder.query()
        self._pool: Any = None
        self._local = threading.local()
        self._readers: list[Any] = []

    def _read(self, after: int, upper: int, n: int) -> list[tuple[Any, ...]]:
        """One batch, on this reader thread's own connection (made on first use)."""
        from kafkaops.adapters.postgres import connect

        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.dsn, application_name="kafkaops-produce-reader")
            self._local.conn = conn
            self._readers.append(conn)
        return pipeline_sql.fetch_batch(conn, self.query, self.builder.params(after, upper, n, int(time.time() * 1000)))

    def batches(self, after: int, level: int, limit: int | None) -> Iterator[list[tuple[Any, ...]]]:
        """The non-empty batches of ``(after, level]`` (at most ``limit`` rows in all), as they arrive."""
        from concurrent.futures import ThreadPoolExecutor

        if self._pool is None:
            self._pool = ThreadPoolExecutor(READERS, thread_name_prefix="kafkaops-read")
        pool, ref, planned, done = self._pool, self.ref, 0, False
        ahead: deque[Future[list[tuple[Any, ...]]]] = deque()

        def plan() -> None:
            nonlocal after, planned, done
            n = self.batch_size if limit is None else min(self.batch_size, limit - planned)
            if n <= 0 or self.stop.is_set():
                done = True
                return
            upper = pipeline_sql.nth_id(self.conn, ref.schema, ref.name, after, level, n - 1)
            ahead.append(pool.submit(self._read, after, level if upper is None else upper, n))
            planned += n
            after = level if upper is None else upper
            done = upper is None

        while not done and len(ahead) < READ_AHEAD:
            plan()
        while ahead:
            rows = ahead.popleft().result()
            while not done and len(ahead) < READ_AHEAD:
                plan()
            if self.stop.is_set():
                for future in ahead:
                    future.cancel()
                break
            if rows:
                yield rows
        for future in ahead:  # interrupted: let running reads finish before their connections close
            if not future.cancelled():
                future.exception()

    def close(self) -> None:
        """Stop the reader threads and close their connections."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        for conn in self._readers:
            conn.close()
        self._readers.clear()


START = "-infinity"  # a timestamp+id cursor that has not started


class CursorBatch(Batch):
    """A batch of a (timestamp, id) cursor: also its last row's timestamp (where the cursor moves)."""

    __slots__ = ("last_ts",)

    def __init__(self, last_id: int, last_created_at: Any, count: int, last_ts: str) -> None:
        super().__init__(last_id, last_created_at, count)
        self.last_ts = last_ts


def row_op(row: tuple[Any, ...]) -> str:
    """A row's op as the reader saw it: "u" (seen before) or "c". Rows of an id cursor are all "c"."""
    return str(row[4]) if len(row) > 4 else "c"


class CursorReader:
    """Reads the rows past a (timestamp column, id) cursor and before the gate's time, in cursor
    order, batch by batch on the run's connection (``--mode timestamp+id``).

    Each row comes as (id, created_at, event or row JSON, timestamp as text, op). *Seen before*
    (op "u") means: the row's created_at is not after the cursor the batch starts from. A row this
    pipeline sent before had a version whose timestamp the cursor passed, and created_at (its
    insert's now(), the transaction's start) is at or before that version's timestamp (the trigger's
    clock_timestamp()): so such a row is never called "c". The other way round is possible: a row
    inserted by a transaction that began before the cursor's time but committed after it is "u" the
    first time it is sent. A table without created_at: "u" once the cursor has started.
    """

    def __init__(self, conn: Any, ref: TableRef, builder: EventBuilder, batch_size: int, ts_col: str, stop: threading.Event) -> None:
        self.conn, self.builder, self.batch_size, self.stop = conn, builder, batch_size, stop
        self.query = pipeline_sql.cursor_query(ref.schema, ref.name, ref.columns, ts_col, envelope=builder.mapper is None)
        self.mid_u = builder.mid.replace('"op":"c"', '"op":"u"', 1)

    def batches(self, after: tuple[str, int], level: str, limit: int | None) -> Iterator[list[tuple[Any, ...]]]:
        """The non-empty batches past ``after`` (timestamp text, id) with a timestamp before ``level``."""
        planned = 0
        while not self.stop.is_set():
            n = self.batch_size if limit is None else min(self.batch_size, limit - planned)
            if n <= 0:
                return
            params = self.builder.params(after[1], 0, n, int(time.time() * 1000)) | {"mid_u": self.mid_u, "after_ts": after[0], "level": level}
            rows = pipeline_sql.fetch_batch(self.conn, self.query, params)
            if not rows:
                return
            planned += len(rows)
            after = (rows[-1][3], int(rows[-1][0]))
            yield rows
            if len(rows) < n:
                return

    def close(self) -> None:
        """Nothing of its own to close: it reads on the run's connection."""


class LiveBatch(Batch):
    """A batch of a live position (``produce --follow``): the position once it is acknowledged."""

    __slots__ = ("position",)

    def __init__(self, last_id: int, last_created_at: Any, count: int, position: LivePosition) -> None:
        super().__init__(last_id, last_created_at, count)
        self.position = position


class LiveReader:
    """Reads, for a live position, the rows in its holes and in ``(upto, level]``, in id order,
    batch by batch on the run's connection. ``exhausted`` tells whether the last ``batches`` read
    everything (not cut short by a limit or a stop)."""

    def __init__(self, conn: Any, ref: TableRef, builder: EventBuilder, batch_size: int, stop: threading.Event) -> None:
        self.conn, self.builder, self.batch_size, self.stop = conn, builder, batch_size, stop
        # a builder with its own batch query (Debezium's envelope) reads range by range with it: the live query
        # gives kafkaops's event, and a Debezium builder's rows have more columns (its IndexError, before)
        self.by_range = type(builder).query is not EventBuilder.query
        self.query = builder.query() if self.by_range else pipeline_sql.live_query(ref.schema, ref.name, ref.columns, envelope=builder.mapper is None)
        self.exhausted = False

    def batches(self, start: LivePosition, level: int, limit: int | None) -> Iterator[list[tuple[Any, ...]]]:
        """The non-empty batches of what ``start`` has not sent up to ``level`` (at most ``limit`` rows)."""
        if self.by_range:
            yield from self._by_range(start, level, limit)
            return
        lo, hi = start.bounds()
        after, planned, self.exhausted = start.last_id, 0, False
        while not self.stop.is_set():
            n = self.batch_size if limit is None else min(self.batch_size, limit - planned)
            if n <= 0:
                return
            params = self.builder.params(after, level, n, int(time.time() * 1000)) | {"lo": lo, "hi": hi, "upto": start.upto}
            rows = pipeline_sql.fetch_batch(self.conn, self.query, params)
            planned += len(rows)
            if rows:
                after = int(rows[-1][0])
                yield rows
            if len(rows) < n:
                self.exhausted = not self.stop.is_set()
                return

    def _by_range(self, start: LivePosition, level: int, limit: int | None) -> Iterator[list[tuple[Any, ...]]]:
        """:meth:`batches` with the builder's own query, one range of :meth:`LivePosition.ranges` after the other."""
        planned, self.exhausted = 0, False
        for after, upto in start.ranges(level):
            while True:
                n = self.batch_size if limit is None else min(self.batch_size, limit - planned)
                if n <= 0 or self.stop.is_set():
                    return
                rows = pipeline_sql.fetch_batch(self.conn, self.query, self.builder.params(after, upto, n, int(time.time() * 1000)))
                planned += len(rows)
                if rows:
                    after = int(rows[-1][0])
                    yield rows
                if len(rows) < n:
                    break
        self.exhausted = not self.stop.is_set()

    def close(self) -> None:
        """Nothing of its own to close: it reads on the run's connection."""
