"""groups reset's plan by time and by shift (pure), as Kafka's kafka-consumer-groups computes it."""

from __future__ import annotations

import pytest

from kafkaops.errors import UsageError
from kafkaops.procedures.groups import _no_commit_to_shift, plan_rows

TPS = [("t", 0), ("t", 1)]
LOW = {("t", 0): 5, ("t", 1): 0}
HIGH = {("t", 0): 50, ("t", 1): 10}
CURRENT: dict[tuple[str, int], int | None] = {("t", 0): 20, ("t", 1): 8}


def test_by_time_takes_the_first_offset_at_or_after_it_and_the_end_when_there_is_none() -> None:
    rows = plan_rows("datetime", None, TPS, CURRENT, LOW, HIGH, {("t", 0): 12, ("t", 1): None})
    assert [(r.new, r.note) for r in rows] == [(12, ""), (10, "no message at or after the time: using the end 10")]
    assert [r.new for r in plan_rows("duration", None, TPS, CURRENT, LOW, HIGH, {("t", 0): None, ("t", 1): 3})] == [50, 3]


def test_shift_moves_the_committed_offset_and_clamps_to_what_is_kept() -> None:
    assert [(r.new, r.note) for r in plan_rows("shift", -2, TPS, CURRENT, LOW, HIGH)] == [(18, ""), (6, "")]
    rows = plan_rows("shift", -19, TPS, CURRENT, LOW, HIGH)
    assert [(r.new, r.note) for r in rows] == [
        (5, "20 - 19 = 1 is older than the oldest kept offset 5: using 5"),
        (0, "8 - 19 = -11 is older than the oldest kept offset 0: using 0"),
    ]
    assert plan_rows("shift", 3, TPS, CURRENT, LOW, HIGH)[1].note == "8 + 3 = 11 is past the end 10: using 10"


def test_shift_without_a_committed_offset_is_refused_naming_the_partitions() -> None:
    with pytest.raises(UsageError) as caught:
        _no_commit_to_shift("g", {("t", 0): 4, ("t", 1): None}, TPS)
    assert caught.value.message == "--shift-by moves committed offsets, and group g has none on t partition 1"
