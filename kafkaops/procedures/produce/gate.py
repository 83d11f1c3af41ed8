"""The settle gate: rows committed out of id order are never skipped.

Read the high-water mark L (the id sequence's last value, or ``max(id)``), then wait until every
transaction that held a lock on the table or its sequence at that moment has ended. Any row with
``id <= L`` is then committed or gone for good.

A (timestamp, id) cursor (``--mode timestamp+id``) gets the same gate on time: its level is the
server's clock_timestamp() T, read before the writers are probed. A writer that locked the table
after the probe writes a timestamp (the trigger's clock_timestamp() when the row is written, which
is after the lock) later than T; a writer that held the lock at the probe is waited for. Once the
gate clears, every row version with a timestamp before T is committed or gone for good, so a late
commit with an older timestamp (the classic way such pipelines lose updates) cannot fall behind
the cursor: the cursor only reads ``timestamp < T``. It relies on the column being set from
clock_timestamp() by a trigger (as `db init --demo` installs): a timestamp the application sets, or
now() (the transaction's start, possibly long before its lock) breaks it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from kafkaops.adapters import pipeline_sql
from kafkaops.errors import NotReady
from kafkaops.procedures.db import TableRef


def high_water(conn: Any, ref: TableRef) -> int:
    """The highest id any transaction may have taken: the id sequence's last value, or max(id)."""
    return pipeline_sql.high_water(conn, ref.schema, ref.name, ref.quoted)


def _described(still: list[tuple[Any, ...]]) -> list[str]:
    blockers = [
        f"session pid {r[1]} ({r[2] or 'no application_name'}, {r[3] or 'unknown state'}, transaction open {r[4]}s)" if r[1] else f"prepared transaction {r[0]}"
        for r in still
    ]
    return sorted(set(blockers))


def clock_level(conn: Any, ref: TableRef) -> str:
    """The level of a (timestamp, id) cursor: the server's clock now, as exact text."""
    return pipeline_sql.clock(conn)


def _upto(level: Any) -> str:
    return f"id {level}" if isinstance(level, int) else f"timestamps before {level}"


def settle(
    conn: Any, ref: TableRef, timeout: float, waiting: Callable[[str], None] | None = None, level_of: Callable[[Any, TableRef], Any] = high_water
) -> tuple[Any, list[str]]:
    """Read the high-water mark L (``level_of``: an id, or the clock for a timestamp cursor), then
    wait for the transactions in flight at that moment.

    Returns (L, blockers): blockers is empty when the gate cleared, else a description of the
    transactions still open after ``timeout`` (then no row above the offset may be sent).
    """
    level = level_of(conn, ref)
    vxids = pipeline_sql.writers(conn, ref.quoted)
    deadline = time.monotonic() + timeout
    told = False
    while vxids:
        still = pipeline_sql.still_open(conn, vxids)
        if not still:
            break
        vxids = list({r[0] for r in still})
        if time.monotonic() >= deadline:
            return level, _described(still)
        if not told and waiting is not None:
            waiting(f"waiting for {len(vxids)} open transaction(s) that may still commit rows up to {_upto(level)}")
            told = True
        time.sleep(0.05)
    return level, []


def gate_error(level: Any, blockers: list[str], timeout: float) -> NotReady:
    """The gate did not clear: nothing is sent past the offset (exit 3)."""
    return NotReady(
        f"{len(blockers)} open transaction(s) may still commit rows up to {_upto(level)}; not sending past the offset so that none is skipped (waited {timeout:g}s)",
        details=blockers,
        hint="let those transactions finish (or end them), then rerun `kafkaops produce`; raise --settle-timeout to wait longer",
    )
