"""The offset side of a run: producer_offsets moves past acknowledged batches, and only by this run."""

from __future__ import annotations

from typing import Any

from kafkaops.adapters import pipeline_sql
from kafkaops.errors import RefusedError
from kafkaops.procedures.produce.delivery import Batch, DeliveryTracker
from kafkaops.procedures.produce.options import Hooks
from kafkaops.procedures.produce.position import LivePosition


class OffsetCommitter:
    """Moves the pipeline's row of producer_offsets (``row``) past each acknowledged batch, in order,
    with a compare-and-set from what this run last wrote: if anything else moved it, the run stops.
    Counts what it committed (``sent``) and tells the caller's hooks the progress."""

    def __init__(self, conn: Any, row: int, committed: int, pipeline: str, hooks: Hooks, total: int = 0) -> None:
        self.conn, self.row, self.pipeline, self.hooks = conn, row, pipeline, hooks
        self.committed = committed  # the offset as this run last wrote it
        self.committed_created_at: Any = None
        self.committed_ts: Any = None  # a (timestamp, id) cursor's timestamp (text); None: an id cursor
        self.live: LivePosition | None = None  # a live position (produce --follow), as this run last wrote it
        self.sent = 0  # events acknowledged and committed
        self.total = total  # the events expected, for progress

    def commit(self, batch: Batch) -> None:
        """Compare-and-set: the offset moves from what this run last wrote, or the run stops."""
        last_ts = getattr(batch, "last_ts", None)  # a CursorBatch (--mode timestamp+id)
        position: LivePosition | None = getattr(batch, "position", None)  # a LiveBatch (--follow)
        if position is not None:
            self.move(position, batch.last_created_at)
            self.sent += batch.count
            self.hooks.progress(self.sent, self.total)
            return
        if last_ts is not None:
            moved = pipeline_sql.advance_cursor(self.conn, self.row, (self.committed_ts, self.committed), (last_ts, batch.last_id), batch.last_created_at)
        else:
            moved = self.advance(batch)
        if not moved:
            raise RefusedError(
                f"producer_offsets row id={self.row} ({self.pipeline}) is no longer at {self.committed}: something else changed it during this run",
                hint="find who writes producer_offsets (only one producer may run); then rerun `kafkaops produce`",
            )
        self.committed = batch.last_id
        self.committed_ts = last_ts if last_ts is not None else self.committed_ts
        if batch.last_created_at is not None:
            self.committed_created_at = batch.last_created_at
        self.sent += batch.count
        self.hooks.progress(self.sent, self.total)

    def advance(self, batch: Batch) -> bool:
        """The compare-and-set itself (the exactly-once committer moves its transaction token too)."""
        return pipeline_sql.advance_offset(self.conn, self.row, self.committed, batch.last_id, batch.last_created_at)

    def move(self, position: LivePosition, created_at: Any = None) -> None:
        """Compare-and-set of the live position: from what this run last wrote to ``position``."""
        old = self.live or LivePosition(self.committed, self.committed)
        if not pipeline_sql.advance_live(self.conn, self.row, (old.last_id, old.upto), (position.last_id, position.upto, position.text()), created_at):
            raise RefusedError(
                f"producer_offsets row id={self.row} ({self.pipeline}) is no longer at {old.last_id} (read up to {old.upto}): something else changed it during this run",
                hint="find who writes producer_offsets (only one producer may run); then rerun `kafkaops produce`",
            )
        self.live, self.committed = position, position.last_id
        if created_at is not None:
            self.committed_created_at = created_at

    def finish(self, tracker: DeliveryTracker) -> None:
        """However the run ends: what is in flight gets its reports (bounded) and the acknowledged
        prefix is committed, before the session (and its lock) goes away."""
        if tracker.inflight and tracker.producer is not None:
            tracker.flush()
            for batch in tracker.acknowledged():
                self.commit(batch)
