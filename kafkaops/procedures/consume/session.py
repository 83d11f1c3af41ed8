"""The consumer session: open it (connect, check the topic, plan the start, assign or subscribe) and
read until a stop condition, handing each batch of messages to the caller, which writes it.

Nothing here prints: the caller renders the :class:`StartPlan` and receives messages in batches.
"""

from __future__ import annotations

import gc
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from kafkaops.adapters.consumer import Message, PartitionOffset, StreamEvent, TopicConsumer, open_consumer
from kafkaops.errors import KafkaopsError
from kafkaops.procedures.consume.plan import ConsumeRequest, StartPlan, missing_topic, plan_start, validate
from kafkaops.procedures.consume.progress import ConsumeResult, GroupCommitter, ReadProgress
from kafkaops.settings import Settings

BATCH = 1000  # messages per consume() call
POLL = 0.1  # seconds one consume() call may wait: the latency of a message arriving one by one
COMMIT_EVERY = 0.5  # seconds between (asynchronous) commits of what was shown; the last one is synchronous
JOIN_PATIENCE = 10.0  # seconds before saying that the group gave this consumer no partition yet
RECHECK_EVERY = 1.0  # seconds of stalled reading before --exit-at-end compares positions with the end


class OutputClosed(Exception):
    """Raised by a sink when its reader went away (a closed pipe): stop, commit nothing more."""


@dataclass
class _Clock:
    """When things last happened in a run (time.monotonic())."""

    started: float
    last_message: float
    last_recheck: float
    last_commit: float = 0.0
    told_about_group: bool = False


class ConsumerSession:
    """An open consumer for one topic with its start plan; :meth:`run` reads until a stop condition.

    The bookkeeping lives in :class:`ReadProgress` (what was shown, whether the end is reached) and
    :class:`GroupCommitter` (what the group has committed); the session runs the loop and answers the
    group's assignments.
    """

    def __init__(self, settings: Settings, req: ConsumeRequest, consumer: TopicConsumer, plan: StartPlan) -> None:
        self.settings = settings
        self.req = req
        self.consumer = consumer
        self.plan = plan
        self.result = ConsumeResult()
        self.progress = ReadProgress(plan, grouped=bool(req.group))
        self.committer = GroupCommitter(consumer, req.group, self.progress, self.result)
        self._first_assignment = True
        self._until_ends_read = False  # --until: the ends were read again once its time came

    # group mode: librdkafka calls these from inside consume()
    def on_assign(self, partitions: list[int]) -> dict[int, int]:
        """The first assignment starts where the plan says; later ones where the group committed."""
        starts = {p.partition: p.start for p in self.plan.partitions} if self._first_assignment else {}
        self._first_assignment = False
        new = [p for p in partitions if p not in self.progress.targets]
        if new:  # only the end marker: without it the partition ends at its end event
            marks = self.consumer.watermarks(new, timeout=5)
            for p in new:
                high = marks[p].high if p in marks else None
                self.progress.targets[p] = high if high is not None else 0
        self.progress.assign(partitions)
        return starts

    def on_revoke(self, partitions: list[int]) -> None:
        self.committer.commit(partitions, asynchronous=False)
        self.progress.unassign(partitions)

    def on_lost(self, partitions: list[int]) -> None:
        self.progress.unassign(partitions)

    def _events(self, events: list[StreamEvent]) -> None:
        """Partition ends (this partition is read to its end) and errors that come in the message stream."""
        for e in events:
            if e.kind == "end":
                self.progress.note_end(e.partition, e.offset)
            elif e.kind == "fatal":
                raise KafkaopsError(f"reading {self.req.topic} failed: {e.text}", hint="run `kafkaops doctor`")
            elif e.text not in self.result.warnings:  # transient: librdkafka retries by itself
                self.result.warnings.append(e.text)

    def _until_has_come(self) -> bool:
        """--until's time has come. The first time, each partition's end is read again: messages stamped
        before the time may have arrived since the start, and reading ends only after them."""
        assert self.req.until_time is not None
        if time.time() * 1000 < self.req.until_time:
            return False
        if not self._until_ends_read:
            self._until_ends_read = True
            marks = self.consumer.watermarks(list(self.progress.targets), timeout=5)
            for part, mark in marks.items():
                if mark.high is not None and mark.high > self.progress.targets.get(part, 0):
                    self.progress.targets[part] = mark.high
                    self.progress.done.discard(part)
        return True

    def _recheck_positions(self) -> None:
        """When reading stalls short of the end: compare the consumer's position with the watermark."""
        pending = self.progress.pending()
        if pending:
            self.progress.note_positions(self.consumer.positions(pending))

    def run(
        self,
        on_batch: Callable[[list[Message]], None],
        stop: threading.Event | None = None,
        notice: Callable[[str], None] | None = None,
    ) -> ConsumeResult:
        """Read until a stop condition; each batch goes to ``on_batch`` (which writes it), then is committed.

        Python's cyclic garbage collector is paused meanwhile: the loop makes no reference cycles, and
        the collector's passes over millions of short-lived objects cost a fifth of the throughput.
        """
        collecting = gc.isenabled()
        gc.disable()
        try:
            return self._run(on_batch, stop, notice or (lambda _: None))
        finally:
            if collecting:
                gc.enable()

    def _finished(self) -> str:
        """Why reading ends now ("" while it goes on): --until passed on every partition, or every
        partition at its end with --exit-at-end, or with --until once that time has come."""
        req, progress = self.req, self.progress
        if req.until_time is not None:
            if progress.all_passed():
                return "until"
            if self._until_has_come() and progress.caught_up():
                return "until"
        if req.exit_at_end and progress.caught_up():
            return "end"
        return ""

    def _cut_at_until(self, batch: list[Message]) -> list[Message]:
        """--until: drop every message of a partition from its first one stamped after the time on, and
        stop fetching that partition. A message without a timestamp never passes it."""
        until, passed = self.req.until_time, self.progress.passed
        assert until is not None
        keep: list[Message] = []
        newly: list[int] = []
        for m in batch:
            p = m.partition()
            if p in passed:
                continue
            kind, ts = m.timestamp()
            if kind and ts > until:
                self.progress.note_passed(p)
                newly.append(p)
                continue
            keep.append(m)
        if newly:
            self.consumer.pause(newly)
        return keep

    def _run(self, on_batch: Callable[[list[Message]], None], stop: threading.Event | None, notice: Callable[[str], None]) -> ConsumeResult:
        req, res = self.req, self.result
        ends = req.exit_at_end or req.until_time is not None
        if ends:
            self.progress.skip_read_ones(self.plan)
        now = time.monotonic()
        clock = _Clock(started=now, last_message=now, last_recheck=now)
        remaining = req.max_messages
        while True:
            if stop is not None and stop.is_set():
                res.stopped_by = "interrupted"
                break
            if ends:
                res.stopped_by = self._finished()
                if res.stopped_by:
                    break
            batch, events = self.consumer.consume(BATCH, POLL)
            if events:
                self._events(events)
            now = time.monotonic()
            if batch and req.until_time is not None:
                clock.last_message = now
                batch = self._cut_at_until(batch)
            if batch:
                remaining = self._show(batch, remaining, on_batch)
                if res.stopped_by:
                    break
                clock.last_message = clock.last_recheck = now
            else:
                self._idle(now, clock, notice)
            if req.group and now - clock.last_commit >= COMMIT_EVERY:
                self.committer.commit()  # nothing to do when nothing new was shown
                clock.last_commit = now
            if req.timeout is not None and now - clock.last_message >= req.timeout:
                res.stopped_by = "timeout"
                break
        return res

    def _show(self, batch: list[Message], remaining: int | None, on_batch: Callable[[list[Message]], None]) -> int | None:
        """Hand the batch (cut to --max-messages) to the caller and note it as shown; what is left to show."""
        if remaining is not None and len(batch) > remaining:
            batch = batch[:remaining]
        try:
            on_batch(batch)
        except OutputClosed:
            self.result.stopped_by = "output-closed"
            return remaining
        self.progress.note_shown(batch)
        self.result.consumed += len(batch)
        if remaining is not None:
            remaining -= len(batch)
            if remaining <= 0:
                self.result.stopped_by = "max-messages"
        return remaining

    def _idle(self, now: float, clock: _Clock, notice: Callable[[str], None]) -> None:
        """No message this time: say once that the group gave nothing yet, or check positions against the end."""
        req = self.req
        if req.group and not self.progress.ever_assigned and not clock.told_about_group and now - clock.started > JOIN_PATIENCE:
            clock.told_about_group = True
            notice(
                f"no partition of {req.topic} assigned by group {req.group} after {JOIN_PATIENCE:g}s: the group "
                "coordinator may be unavailable (run `kafkaops doctor`), or other members hold every partition"
            )
        elif (req.exit_at_end or req.until_time is not None) and now - clock.last_recheck > RECHECK_EVERY:
            self._recheck_positions()
            clock.last_recheck = now

    def close(self) -> None:
        try:
            self.committer.commit(asynchronous=False)
        finally:
            self.consumer.close()


def _watermarks(consumer: TopicConsumer, partitions: Sequence[int], timeout: float = 10.0) -> dict[int, tuple[int, int]]:
    """(low, high) per partition; the first partition whose offsets cannot be read is an error."""
    marks = consumer.watermarks(partitions, timeout)
    ends: dict[int, tuple[int, int]] = {}
    for p in partitions:
        mark = marks[p]
        if mark.low is None or mark.high is None:
            raise KafkaopsError(
                f"cannot read the offsets of {consumer.topic} partition {p}: {mark.error}",
                hint="check the broker with `kafkaops status` or `kafkaops doctor`",
            )
        ends[p] = (mark.low, mark.high)
    return ends


def _start(settings: Settings, req: ConsumeRequest, consumer: TopicConsumer) -> StartPlan:
    """Check the topic exists and compute the start plan from its watermarks (and the group's commits)."""
    parts, names = consumer.topic_partitions(timeout=5.0)
    if parts is None:
        raise missing_topic(req.topic, names, settings.kafka_broker)
    marks = _watermarks(consumer, parts if req.partition is None else [p for p in parts if p == req.partition] or parts)
    committed = consumer.committed(parts) if req.group else {}
    found = consumer.offsets_for_time(list(marks), req.from_time) if req.from_time is not None else None
    return plan_start(req, marks, committed, found)


@contextmanager
def open_session(settings: Settings, req: ConsumeRequest) -> Iterator[ConsumerSession]:
    """Connect, check the topic exists, compute the start plan, and assign or subscribe.

    The session is closed on the way out: the group's offsets for what was shown committed
    (synchronously), then the consumer closed.
    """
    validate(req)
    group = req.group or f"kafkaops-consume-{os.getpid()}-{uuid.uuid4().hex[:8]}"  # never joined, never committed
    consumer = open_consumer(settings, req.topic, group, req.from_beginning, req.isolation)  # bad settings: one readable error, exit 2
    session: ConsumerSession | None = None
    try:
        session = ConsumerSession(settings, req, consumer, _start(settings, req, consumer))
        if req.group:
            consumer.subscribe(session.on_assign, session.on_revoke, session.on_lost)
        else:
            consumer.assign([PartitionOffset(p.partition, p.start) for p in session.plan.partitions])
        yield session
    finally:
        if session is not None:
            session.close()
        else:
            consumer.close()


def consume(
    settings: Settings,
    req: ConsumeRequest,
    on_batch: Callable[[list[Message]], None],
    on_start: Callable[[StartPlan], None] | None = None,
    stop: threading.Event | None = None,
    notice: Callable[[str], None] | None = None,
) -> ConsumeResult:
    """The whole read: open a session, hand its start plan to ``on_start``, read until a stop condition
    (each batch to ``on_batch``), then commit what was shown and close."""
    with open_session(settings, req) as session:
        if on_start is not None:
            on_start(session.plan)
        return session.run(on_batch, stop=stop, notice=notice)
