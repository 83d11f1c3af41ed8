"""kafkaops consume --from / --until against a real broker, on messages with explicit timestamps
(one an hour from ten hours ago), compared with Kafka's own GetOffsetShell --time where cheap."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from tests.conftest import Stack
from tests.integration.test_consume import committed, consume, lines, run_jvm_tool
from tests.integration.test_groups import HOUR, timed_topic, wall


def kafka_offsets_for_time(stack: Stack, kafka_home: Path, topic: str, ms: int) -> dict[int, int]:
    """Kafka's GetOffsetShell --time: partition -> the offset it names (partitions it leaves out or gives -1 are absent)."""
    stdout = run_jvm_tool(stack, kafka_home, "org.apache.kafka.tools.GetOffsetShell", "--topic", topic, "--time", str(ms))
    out = {}
    for line in stdout.split():
        _, partition, offset = line.rsplit(":", 2)
        if offset and int(offset) >= 0:
            out[int(partition)] = int(offset)
    return out


def test_from_starts_each_partition_at_its_first_message_at_or_after_the_time(shared_stack: Stack, kafka_home: Path) -> None:
    base = int(time.time() * 1000) - 10 * HOUR
    topic = timed_topic(shared_stack, {0: 10, 1: 5}, base)
    at = wall(base + 7 * HOUR) + "Z"
    r = consume(shared_stack, topic, "--from", at, "--exit-at-end", "--format", "json")
    assert r.returncode == 0, r.stderr
    assert [(m["partition"], m["offset"]) for m in lines(r.stdout)] == [(0, 7), (0, 8), (0, 9)]
    assert f"partition 0: first message at or after {at} is offset 7" in r.stderr
    assert f"partition 1: no message at or after {at}: starting at the end (offset 5)" in r.stderr
    assert "partition 0: offsets 0..9; starting at 7 (time, 3 to read now)" in r.stderr
    assert "Consumed 3 messages (reached the end)" in r.stderr
    assert kafka_offsets_for_time(shared_stack, kafka_home, topic, base + 7 * HOUR) == {0: 7}


def test_from_and_until_read_a_window_and_a_group_goes_on_after_it(shared_stack: Stack) -> None:
    base = int(time.time() * 1000) - 10 * HOUR
    topic = timed_topic(shared_stack, {0: 10, 1: 5}, base)
    group = f"g-{uuid.uuid4().hex[:8]}"
    r = consume(shared_stack, topic, "--group", group, "--from", f"@{base + 2 * HOUR}", "--until", f"@{base + 4 * HOUR}", "--format", "json")
    assert r.returncode == 0, r.stderr
    assert sorted((m["partition"], m["offset"]) for m in lines(r.stdout)) == [(0, 2), (0, 3), (0, 4), (1, 2), (1, 3), (1, 4)]
    assert f"stopping at the first message after {wall(base + 4 * HOUR)}Z" in r.stderr
    assert "Consumed 6 messages (passed --until)" in r.stderr
    assert committed(shared_stack, group, topic, 2) == {0: 5, 1: 5}

    rest = consume(shared_stack, topic, "--group", group, "--until", "now", "--format", "json")
    assert rest.returncode == 0, rest.stderr
    assert [(m["partition"], m["offset"]) for m in lines(rest.stdout)] == [(0, 5), (0, 6), (0, 7), (0, 8), (0, 9)]
    assert "Consumed 5 messages (passed --until)" in rest.stderr


def test_contradictions_and_bad_times_change_nothing(shared_stack: Stack) -> None:
    topic = timed_topic(shared_stack, {0: 3}, int(time.time() * 1000) - 10 * HOUR)
    group = f"g-{uuid.uuid4().hex[:8]}"
    for args, message in (
        (["--from", "-1h", "--from-beginning"], "error: --from and --from-beginning both choose where to start; give one"),
        (["--from", "-1h", "--until", "-2h"], "error: --until ("),
        (["--from", "soon"], "error: --from 'soon' is not a time"),
    ):
        r = consume(shared_stack, topic, "--group", group, *args)
        assert r.returncode == 2, r.stderr
        assert r.stdout == "" and message in r.stderr
    assert committed(shared_stack, group, topic) == {0: -1001}
