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
from kafkaops.procedures.produce.events import EventBuilder
from kafkaops.procedures.produce.options import READ_AHEAD, READERS


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
