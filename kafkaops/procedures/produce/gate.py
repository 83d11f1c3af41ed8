"""The settle gate: rows committed out of id order are never skipped.

Read the high-water mark L (the id sequence's last value, or ``max(id)``), then wait until every
transaction that held a lock on the table or its sequence at that moment has ended. Any row with
``id <= L`` is then committed or gone for good.
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


def settle(conn: Any, ref: TableRef, timeout: float, waiting: Callable[[str], None] | None = None) -> tuple[int, list[str]]:
    """Read the high-water mark L, then wait for the transactions in flight at that moment.

    Returns (L, blockers): blockers is empty when the gate cleared, else a description of the
    transactions still open after ``timeout`` (then no row above the offset may be sent).
    """
    level = high_water(conn, ref)
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
            waiting(f"waiting for {len(vxids)} open transaction(s) that may still commit rows up to id {level}")
            told = True
        time.sleep(0.05)
    return level, []


def gate_error(level: int, blockers: list[str], timeout: float) -> NotReady:
    """The gate did not clear: nothing is sent past the offset (exit 3)."""
    return NotReady(
        f"{len(blockers)} open transaction(s) may still commit rows up to id {level}; not sending past the offset so that none is skipped (waited {timeout:g}s)",
        details=blockers,
        hint="let those transactions finish (or end them), then rerun `kafkaops produce`; raise --settle-timeout to wait longer",
    )
