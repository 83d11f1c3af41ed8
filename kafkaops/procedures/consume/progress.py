"""What a run has read and shown, whether it reached the end, and what it committed for the group.

"Caught up" (``--exit-at-end``) compares the consumer's progress with the high watermark captured at
start, and trusts librdkafka's partition-end events, so offset gaps (transaction markers, compacted
or deleted records) cannot make it wait forever. What was shown is committed after it was written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from kafkaops.adapters.consumer import Message, PartitionOffset, TopicConsumer
from kafkaops.procedures.consume.plan import StartPlan


@dataclass
class ConsumeResult:
    consumed: int = 0
    stopped_by: str = ""  # max-messages | end | until | timeout | interrupted | output-closed
    committed: dict[int, int] = field(default_factory=dict)  # partition -> offset committed for the group
    warnings: list[str] = field(default_factory=list)


class ReadProgress:
    """Per partition: the offset after the last message shown, the end to reach, and whether it is reached.

    Without a group every planned partition is read; in a group, the ones the group assigned now.
    """

    def __init__(self, plan: StartPlan, grouped: bool) -> None:
        self.grouped = grouped
        self.shown: dict[int, int] = {}  # partition -> offset after the last message shown
        self.targets: dict[int, int] = {p.partition: p.high for p in plan.partitions}  # the end captured at start
        self.done: set[int] = set()
        self.assigned: set[int] = set()
        self.ever_assigned = False
        self.passed: set[int] = set()  # partitions that showed a message after --until: done, whatever their end

    def skip_read_ones(self, plan: StartPlan) -> None:
        """Partitions that start at their end have nothing to read."""
        self.done.update(p.partition for p in plan.partitions if p.start >= p.high)

    def assign(self, partitions: Sequence[int]) -> None:
        self.assigned = set(partitions)
        self.ever_assigned = True

    def unassign(self, partitions: Sequence[int]) -> None:
        self.assigned -= set(partitions)

    def _active(self) -> set[int]:
        return self.assigned if self.grouped else set(self.targets)

    def pending(self) -> list[int]:
        """The partitions being read that have not reached their end."""
        return [p for p in (self.assigned if self.grouped else self.targets) if p not in self.done]

    def caught_up(self) -> bool:
        """Every partition read up to the end captured at start (or librdkafka said it ended)."""
        if self.grouped and not self.ever_assigned:
            return False
        active = self._active()
        for p in [p for p in active if p not in self.done]:
            if self.shown.get(p, -1) >= self.targets.get(p, 0):
                self.done.add(p)
        return all(p in self.done for p in active)

    def note_passed(self, partition: int) -> None:
        """``partition`` gave a message after --until: it is done."""
        self.passed.add(partition)
        self.done.add(partition)

    def all_passed(self) -> bool:
        """Every partition being read gave a message after --until."""
        active = self._active()
        return bool(active) and active <= self.passed

    def note_end(self, partition: int, offset: int) -> None:
        """librdkafka reported that ``partition`` is read up to ``offset``."""
        if offset >= self.targets.get(partition, 0):
            self.done.add(partition)

    def note_positions(self, positions: Sequence[PartitionOffset]) -> None:
        """The consumer's own positions: past the end means done, even when the last offsets were gaps."""
        for pos in positions:
            if pos.offset >= 0 and pos.offset >= self.targets.get(pos.partition, 0):
                self.done.add(pos.partition)

    def note_shown(self, batch: Sequence[Message]) -> None:
        """The offset after the last message shown, per partition: from the end of the batch, stopping
        once every partition being read was seen (one step when a single partition is read)."""
        need = len(self.assigned) if self.grouped else len(self.targets)
        seen: dict[int, int] = {}
        for m in reversed(batch):
            p = m.partition()
            if p not in seen:
                seen[p] = m.offset() + 1
                if len(seen) >= need:
                    break
        self.shown.update(seen)


class GroupCommitter:
    """Commits for the group what was shown, each offset once; without a group it does nothing.

    A failed commit is a warning in the result, not an error: the messages were shown, and the next
    commit (or the next run) carries the offsets again.
    """

    def __init__(self, consumer: TopicConsumer, group: str | None, progress: ReadProgress, result: ConsumeResult) -> None:
        self.consumer = consumer
        self.group = group
        self.progress = progress
        self.result = result
        self._committed: dict[int, int] = {}

    def commit(self, partitions: Sequence[int] | None = None, asynchronous: bool = True) -> None:
        if not self.group:
            return
        todo = {p: o for p, o in self.progress.shown.items() if (partitions is None or p in partitions) and self._committed.get(p) != o}
        if not todo:
            return
        problem = self.consumer.commit(todo, asynchronous=asynchronous)
        if problem is not None:
            self.result.warnings.append(f"could not commit offsets for group {self.group}: {problem}")
            return
        self._committed.update(todo)
        self.result.committed.update(todo)
