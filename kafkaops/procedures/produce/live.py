"""Live rounds of an id cursor (``produce --follow``, and any run whose position is live): committed
rows are sent at once, whatever slower writers do, and nothing is skipped or sent twice.

Each round, without waiting for anyone:

1. the checkpoints (L, the writers at that moment) whose writers have all ended are *cleared*;
2. the high-water mark L is read, then the writers (transactions holding a write lock on the table
   or its id sequence);
3. the rows the position has not sent up to L (its holes, and ``(upto, L]``) are read and sent; each
   acknowledged batch commits the position with what it sent (see position.py);
4. once the round is read and acknowledged: ``(upto, L]`` is read (ids not seen are holes), and the
   low-water mark moves to L if there were no writers at step 2, else to the highest cleared
   checkpoint (a read made after its writers ended covered its holes); (L, writers) becomes a
   checkpoint.

Between rounds the run waits for a notification (LISTEN on ``kafkaops.<schema>.<table>``, sent by
the trigger `db init --demo` installs) or ``--interval`` seconds, whichever comes first: without the
trigger it polls. A run without --follow whose position is live first waits at the settle gate as
before (its writers have then ended: the checkpoint is cleared), then reads one round.
"""

from __future__ import annotations

from typing import Any

from kafkaops.adapters import pipeline_sql
from kafkaops.procedures.produce.gate import high_water
from kafkaops.procedures.produce.options import ProduceOptions, ProduceResult
from kafkaops.procedures.produce.position import LivePosition


def live_round(run: Any, level: int, settled: int | None, limit: int | None) -> int:
    """One round up to ``level`` (then the low-water mark moves to ``settled`` if given): the events sent."""
    c = run.committer
    run.work = c.live or LivePosition(c.committed, c.committed)
    n = run.round(level, limit)
    if run.live_reader.exhausted and not run.stop.is_set():
        position = (c.live or run.work).copy()
        before = (position.last_id, position.upto, position.text())
        position.read_to(level)
        if settled is not None:
            position.settle_to(settled)
        if (position.last_id, position.upto, position.text()) != before:
            c.move(position)
    run.work = None
    return int(n)


class Checkpoints:
    """(L, writers at that moment) not yet cleared, oldest first; ``probe`` takes a new one and says
    how far the low-water mark may move after the round that follows.

    They clear in order: a writer that keeps one checkpoint open was open (holding its lock) at
    every later probe too, so a later one never clears first. A slow writer leaves one checkpoint
    a round behind it; when it ends they all clear at once, found by bisection (a handful of
    probes, not one per checkpoint: asking each one stalled a round for a second after a 25 s
    transaction in bench/bench_latency.py)."""

    def __init__(self) -> None:
        self.open: list[tuple[int, list[str]]] = []

    def probe(self, conn: Any, ref: Any) -> tuple[int, int | None]:
        """(level, settled): read before the round; settled is None when no checkpoint cleared."""
        cleared: list[int] = []
        if self.open and pipeline_sql.ended(conn, self.open[0][1]):  # a cleared prefix: find its end in log(n) probes
            lo, hi = 0, len(self.open)  # open[lo] cleared; open[hi:] unknown or not
            while hi - lo > 1:
                mid = (lo + hi) // 2
                lo, hi = (mid, hi) if pipeline_sql.ended(conn, self.open[mid][1]) else (lo, mid)
            cleared = [lvl for lvl, _vx in self.open[:hi]]
            del self.open[:hi]
        level = high_water(conn, ref)
        writers = pipeline_sql.writers(conn, ref.quoted)
        if not writers:  # nobody can still commit an id up to level: the round's read covers them all
            self.open = []
            return level, level
        self.open.append((level, writers))
        return level, max(cleared, default=None)


def follow(run: Any, opts: ProduceOptions, result: ProduceResult, listener: Any) -> None:
    """Round after round until stopped (or --max-rows is reached), waking on a notification."""
    checkpoints = Checkpoints()
    while not run.stop.is_set():
        level, settled = checkpoints.probe(run.conn, run.ref)
        rows_left = None if opts.max_rows is None else opts.max_rows - run.committer.sent
        n = live_round(run, level, settled, rows_left)
        result.rounds += 1
        run.hooks.round(n, run.committer.committed)
        if opts.max_rows is not None and run.committer.sent >= opts.max_rows:
            return
        if n == 0:
            _wait(run, opts.interval, listener)


def _wait(run: Any, interval: float, listener: Any) -> None:
    """Until a notification, ``interval`` seconds, or a stop (checked every 0.2 s)."""
    import time

    deadline = time.monotonic() + interval
    while not run.stop.is_set():
        left = deadline - time.monotonic()
        if left <= 0:
            return
        if listener is None:
            run.stop.wait(min(left, 0.2))
        elif pipeline_sql.notified(listener, min(left, 0.2)):
            return
