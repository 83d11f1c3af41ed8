"""The producer offset: the database stays untouched unless --reset-producer-offset."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from kafkaops.errors import RefusedError
from kafkaops.settings import Settings


def read_producer_offset(settings: Settings) -> dict[str, object] | None:
    """The default pipeline's position (livedb -> KAFKA_TOPIC) as it is now, read-only; refuses while
    its producer runs (the plan would be refused at once)."""
    from kafkaops.procedures import db

    with db.session(settings, application_name="kafkaops-reset") as conn:
        pipeline = db.default_pipeline(conn, settings)
        offset = db.read_position(conn, pipeline, settings)
        if offset is not None and offset.row is not None:
            db.ensure_no_producer(conn, pipeline, offset.row)
    if offset is None:
        return {"pipeline": str(pipeline), "last_id": 0, "last_created_at": None}
    return {"pipeline": str(pipeline), "last_id": offset.last_id, "last_created_at": str(offset.last_created_at)}


@contextmanager
def producer_offset_held(settings: Settings) -> Iterator[Callable[[], dict[str, object]]]:
    """Hold the default pipeline's producer lock; yields the rewind (to last_id 0 and the epoch), which
    returns the position it had. A running producer: refused before anything was touched."""
    from kafkaops.procedures import db

    with db.session(settings, application_name="kafkaops-reset") as conn:
        pipeline = db.default_pipeline(conn, settings)
        row = db.claim_position(conn, pipeline, settings).row
        assert row is not None
        try:
            db.take_lock(conn, pipeline, row)
        except RefusedError as refusal:
            refusal.message += "; nothing was stopped or deleted"
            raise

        def rewind() -> dict[str, object]:
            before = db.read_position(conn, pipeline, settings)
            db.set_position(conn, row, 0)
            return {"pipeline": str(pipeline), "last_id": before.last_id if before else 0}

        try:
            yield rewind
        finally:
            db.unlock(conn, row)
