"""kafkaops groups list | describe | reset against a real broker (the shared stack), as subprocesses."""

from __future__ import annotations

import dataclasses
import json
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from tests.conftest import Stack, run_kafkaops
from tests.integration.test_consume import committed, new_topic, produce, run_jvm_tool, wait_for_line


def kafkaops(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    return run_kafkaops(list(args), env=stack.env, cwd=stack.root, timeout=90)


def group_with_progress(stack: Stack, shown: int, total: int = 10) -> tuple[str, str]:
    """A topic with `total` messages and a group that has been shown (and committed) the first `shown`."""
    topic, group = new_topic(stack, prefix="groups"), f"g-{uuid.uuid4().hex[:8]}"
    produce(stack, topic, [f'{{"i": {i}}}'.encode() for i in range(total)])
    r = kafkaops(stack, "consume", topic, "--group", group, "--from-beginning", "--max-messages", str(shown))
    assert r.returncode == 0, r.stderr
    assert committed(stack, group, topic) == {0: shown}
    return topic, group


def test_list_and_describe_show_the_lag(shared_stack: Stack) -> None:
    topic, group = group_with_progress(shared_stack, shown=4)
    listed = kafkaops(shared_stack, "groups", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert {"group": group, "state": "empty", "simple": False} in json.loads(listed.stdout)["groups"]

    r = kafkaops(shared_stack, "groups", "describe", group, "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["state"] == "empty" and doc["members"] == []
    assert doc["partitions"] == [{"topic": topic, "partition": 0, "committed": 4, "end": 10, "lag": 6, "member": None}]
    assert doc["total_lag"] == 6

    table = kafkaops(shared_stack, "groups", "describe", group)
    assert table.returncode == 0
    assert f"group {group}: state empty, 0 member(s), total lag 6" in table.stderr
    assert f"group {group} has no active members" in table.stderr
    row = next(line for line in table.stdout.splitlines() if line.startswith(topic))
    assert row.split("│") == [f"{topic} ", " 0         ", " 4         ", " 10  ", " 6   ", " -     "]


def test_describe_a_missing_group_names_close_matches(shared_stack: Stack) -> None:
    _, group = group_with_progress(shared_stack, shown=1, total=2)
    r = kafkaops(shared_stack, "groups", "describe", group[:-1])
    assert r.returncode == 2
    assert f"error: consumer group {group[:-1]} does not exist" in r.stderr
    assert f"did you mean {group}" in r.stderr


def test_reset_dry_run_changes_nothing_and_execute_does(shared_stack: Stack) -> None:
    topic, group = group_with_progress(shared_stack, shown=4)
    dry = kafkaops(shared_stack, "groups", "reset", group, "--topic", topic, "--to-earliest")
    assert dry.returncode == 0, dry.stderr
    assert f"dry run: nothing changed; add --execute to reset group {group} on {topic} to earliest" in dry.stderr
    row = next(line for line in dry.stdout.splitlines() if line.startswith(topic))
    assert [c.strip() for c in row.split("│")] == [topic, "0", "4", "0", "0..10"]
    assert committed(shared_stack, group, topic) == {0: 4}

    done = kafkaops(shared_stack, "groups", "reset", group, "--topic", topic, "--to-earliest", "--execute")
    assert done.returncode == 0, done.stderr
    assert f"group {group}: offsets on {topic} reset to earliest (1 partition(s) changed)" in done.stderr
    assert committed(shared_stack, group, topic) == {0: 0}

    to_offset = kafkaops(shared_stack, "groups", "reset", group, "--topic", topic, "--to-offset", "99", "--execute", "--json")
    assert to_offset.returncode == 0, to_offset.stderr
    plan = json.loads(to_offset.stdout)
    assert plan["executed"] is True and plan["rows"][0]["new"] == 10
    assert f"warning: {topic} partition 0: 99 is past the end 10: using 10" in to_offset.stderr
    assert committed(shared_stack, group, topic) == {0: 10}

    latest = kafkaops(shared_stack, "groups", "reset", group, "--topic", topic, "--to-offset", "3", "--execute")
    assert latest.returncode == 0
    again = kafkaops(shared_stack, "consume", topic, "--group", group, "--exit-at-end")
    assert [json.loads(x)["offset"] for x in again.stdout.splitlines()] == list(range(3, 10))


def test_reset_is_refused_while_the_group_has_active_members(shared_stack: Stack) -> None:
    topic, group = group_with_progress(shared_stack, shown=10)  # caught up: the member commits nothing new
    proc = subprocess.Popen(
        [sys.executable, "-m", "kafkaops", "consume", topic, "--group", group],
        env=shared_stack.env,
        cwd=shared_stack.root,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_line(proc.stderr, "waiting for messages")
        deadline = time.monotonic() + 30
        while True:  # joining the group takes a moment after the "waiting" line
            d = json.loads(kafkaops(shared_stack, "groups", "describe", group, "--json").stdout)
            if d["members"] or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert len(d["members"]) == 1 and d["state"] == "stable"
        assert d["partitions"][0]["member"] is not None

        for extra in ([], ["--execute"]):
            r = kafkaops(shared_stack, "groups", "reset", group, "--topic", topic, "--to-earliest", *extra)
            assert r.returncode == 5, r.stderr
            assert f"error: group {group} has 1 active member(s)" in r.stderr
        assert committed(shared_stack, group, topic) == {0: 10}
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    assert proc.returncode == 130


def test_reset_needs_exactly_one_target(shared_stack: Stack) -> None:
    r = kafkaops(shared_stack, "groups", "reset", "some-group", "--to-earliest", "--to-latest")
    assert r.returncode == 2
    assert (
        "error: give exactly one of --to-earliest, --to-latest, --to-offset N, --to-datetime TIME, --by-duration DURATION, --shift-by N (got --to-earliest, --to-latest)"
        in r.stderr
    )


def test_describe_a_group_that_joined_but_never_committed(shared_stack: Stack) -> None:
    topic, group = new_topic(shared_stack, prefix="groups"), f"g-{uuid.uuid4().hex[:8]}"
    r = kafkaops(shared_stack, "consume", topic, "--group", group, "--timeout", "1")
    assert r.returncode == 0, r.stderr
    assert f"group {group} has no committed offsets: only messages that arrive from now on are shown" in r.stderr
    d = kafkaops(shared_stack, "groups", "describe", group)
    assert d.returncode == 0, d.stderr
    assert d.stdout == ""
    assert d.stderr.splitlines()[1:] == [
        f"group {group} has no committed offsets and no assigned partitions",
        f"group {group} has no active members",
    ]


def group_on_three_topics(stack: Stack) -> tuple[str, list[str]]:
    """Topics a (2 partitions, the oldest 5 records of partition 0 deleted), b and c (1 each), 10
    records per partition; a group with committed offsets on a-0, a-1 and b-0 only (never on c)."""
    a, b, c = new_topic(stack, 2, prefix="groups-a"), new_topic(stack, prefix="groups-b"), new_topic(stack, prefix="groups-c")
    for topic, parts in ((a, 2), (b, 1), (c, 1)):
        for p in range(parts):
            produce(stack, topic, [b'{"i": %d}' % i for i in range(10)], partition=p)
    admin = AdminClient({"bootstrap.servers": stack.broker})
    for fut in admin.delete_records([TopicPartition(a, 0, 5)]).values():
        fut.result(timeout=30)
    group = f"g-{uuid.uuid4().hex[:8]}"
    consumer = Consumer({"bootstrap.servers": stack.broker, "group.id": group})
    try:
        consumer.commit(offsets=[TopicPartition(a, 0, 7), TopicPartition(a, 1, 6), TopicPartition(b, 0, 3)], asynchronous=False)
    finally:
        consumer.close()
    return group, [a, b, c]


def kafka_tool_plan(stack: Stack, kafka_home: Path, group: str, *args: str) -> list[tuple[str, int, int]]:
    """Kafka's own kafka-consumer-groups --reset-offsets --dry-run: (topic, partition, new offset), sorted."""
    stdout = run_jvm_tool(
        stack, kafka_home, "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand", "--group", group, "--reset-offsets", "--dry-run", *args
    )
    words = stdout[stdout.index("GROUP ") :].split()  # after any "Warn: ... Falling back to latest known offset."
    assert words[:4] == ["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"], stdout
    rows = [words[i : i + 4] for i in range(4, len(words), 4)]
    assert all(w[0] == group for w in rows)
    return sorted((w[1], int(w[2]), int(w[3])) for w in rows)


def test_reset_without_topic_or_all_topics_is_refused_even_with_kafka_topic_set(shared_stack: Stack) -> None:
    group, (a, b, c) = group_on_three_topics(shared_stack)
    env = {**shared_stack.env, "KAFKA_TOPIC": c}  # a topic the group never read
    for extra in ([], ["--execute"]):
        r = run_kafkaops(["groups", "reset", group, "--to-earliest", *extra], env=env, cwd=shared_stack.root, timeout=90)
        assert r.returncode == 2, r.stderr
        assert r.stdout == ""
        assert r.stderr == (
            "error: give --topic T or --all-topics: a reset names the topics it moves (KAFKA_TOPIC is not assumed)\n"
            f"hint: e.g. kafkaops groups reset {group} --topic {c} --to-earliest; "
            f"--all-topics takes every partition group {group} has a committed offset for\n"
        )
    assert committed(shared_stack, group, c) == {0: -1001}  # still no offset on c
    assert committed(shared_stack, group, a, 2) == {0: 7, 1: 6}


def test_an_offset_out_of_range_is_clamped_as_kafkas_tool_does(shared_stack: Stack, kafka_home: Path) -> None:
    group, (a, _, c) = group_on_three_topics(shared_stack)
    for offset, expected in (("-1", [(a, 0, 5), (a, 1, 0), (c, 0, 0)]), ("99", [(a, 0, 10), (a, 1, 10), (c, 0, 10)])):
        r = kafkaops(shared_stack, "groups", "reset", group, "--topic", a, "--topic", c, "--to-offset", offset, "--json")
        assert r.returncode == 0, r.stderr
        ours = sorted((row["topic"], row["partition"], row["new"]) for row in json.loads(r.stdout)["rows"])
        assert ours == sorted(expected)
        assert ours == kafka_tool_plan(shared_stack, kafka_home, group, "--topic", a, "--topic", c, "--to-offset", offset)
        assert f"warning: {a} partition 0: {offset} is " in r.stderr
    assert f"warning: {c} partition 0: 99 is past the end 10: using 10" in r.stderr
    done = kafkaops(shared_stack, "groups", "reset", group, "--topic", a, "--to-offset", "-1", "--execute")
    assert done.returncode == 0, done.stderr
    assert f"warning: {a} partition 0: -1 is older than the oldest kept offset 5: using 5" in done.stderr
    assert committed(shared_stack, group, a, 2) == {0: 5, 1: 0}


def test_all_topics_takes_the_partitions_with_offsets_as_kafkas_tool_does(shared_stack: Stack, kafka_home: Path) -> None:
    group, (a, b, c) = group_on_three_topics(shared_stack)

    low = kafkaops(shared_stack, "groups", "reset", group, "--all-topics", "--to-offset", "-1", "--json")
    assert low.returncode == 0, low.stderr
    plan = json.loads(low.stdout)
    assert plan["topics"] == sorted([a, b]) and plan["executed"] is False
    ours = sorted((r["topic"], r["partition"], r["new"]) for r in plan["rows"])
    assert ours == sorted([(a, 0, 5), (a, 1, 0), (b, 0, 0)])  # -1 is clamped to each partition's oldest kept offset
    assert f"warning: {a} partition 0: -1 is older than the oldest kept offset 5: using 5" in low.stderr
    assert f"warning: {b} partition 0: -1 is older than the oldest kept offset 0: using 0" in low.stderr
    assert ours == kafka_tool_plan(shared_stack, kafka_home, group, "--all-topics", "--to-offset", "-1")

    high = kafkaops(shared_stack, "groups", "reset", group, "--all-topics", "--to-offset", "99")
    assert high.returncode == 0, high.stderr
    table = sorted(tuple(c.strip() for c in line.split("│")) for line in high.stdout.splitlines() if line.startswith("groups-"))
    assert table == sorted([(a, "0", "7", "10", "5..10"), (a, "1", "6", "10", "0..10"), (b, "0", "3", "10", "0..10")])
    assert f"dry run: nothing changed; add --execute to reset group {group} on {', '.join(sorted([a, b]))} to offset 99" in high.stderr
    ours = sorted((t, int(p), int(n)) for t, p, _, n, _ in table)
    assert ours == kafka_tool_plan(shared_stack, kafka_home, group, "--all-topics", "--to-offset", "99")
    two = kafkaops(shared_stack, "groups", "reset", group, "--topic", a, "--topic", c, "--to-earliest", "--json")
    assert two.returncode == 0, two.stderr
    ours = sorted((r["topic"], r["partition"], r["new"]) for r in json.loads(two.stdout)["rows"])
    assert ours == sorted([(a, 0, 5), (a, 1, 0), (c, 0, 0)])
    assert ours == kafka_tool_plan(shared_stack, kafka_home, group, "--topic", a, "--topic", c, "--to-earliest")
    assert committed(shared_stack, group, a, 2) == {0: 7, 1: 6}  # dry runs changed nothing

    done = kafkaops(shared_stack, "groups", "reset", group, "--all-topics", "--to-offset", "-1", "--execute")
    assert done.returncode == 0, done.stderr
    assert f"group {group}: offsets on {', '.join(sorted([a, b]))} reset to offset -1 (3 partition(s) changed)" in done.stderr
    assert committed(shared_stack, group, a, 2) == {0: 5, 1: 0}
    assert committed(shared_stack, group, b) == {0: 0}
    assert committed(shared_stack, group, c) == {0: -1001}  # never read: --all-topics leaves it alone


def test_all_topics_for_a_group_without_offsets_is_a_clear_usage_error(shared_stack: Stack) -> None:
    group, _ = group_on_three_topics(shared_stack)
    r = kafkaops(shared_stack, "groups", "reset", group[:-1], "--all-topics", "--to-earliest")
    assert r.returncode == 2, r.stderr
    assert f"error: consumer group {group[:-1]} does not exist (no members, no committed offsets)" in r.stderr
    # Other tests' groups on the shared stack (g-<8 hex>) can be close too: ours comes first.
    assert any(line.startswith(f"hint: did you mean {group}") for line in r.stderr.splitlines()), r.stderr


def timed_topic(stack: Stack, hours: dict[int, int], base_ms: int) -> str:
    """A topic whose partition p holds hours[p] messages, message i stamped base_ms + i hours (CreateTime)."""
    from confluent_kafka import Producer

    topic = new_topic(stack, len(hours), prefix="groups-time")
    producer = Producer({"bootstrap.servers": stack.broker, "linger.ms": 0, "log_level": 2})
    for p, count in hours.items():
        for i in range(count):
            producer.produce(topic, b'{"i": %d}' % i, partition=p, timestamp=base_ms + i * HOUR)
    assert producer.flush(30) == 0
    return topic


HOUR = 3_600_000


def wall(ms: int) -> str:
    """UTC wall-clock time to the millisecond, no zone: the form Kafka's tool reads (YYYY-MM-DDTHH:mm:SS.sss)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}"


def commit(stack: Stack, group: str, offsets: dict[tuple[str, int], int]) -> None:
    consumer = Consumer({"bootstrap.servers": stack.broker, "group.id": group})
    try:
        consumer.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()], asynchronous=False)
    finally:
        consumer.close()


def test_reset_by_time_and_shift_plans_as_kafkas_tool_does(shared_stack: Stack, kafka_home: Path) -> None:
    """Partition 0 holds 10 messages, partition 1 five, one an hour from 10 hours ago (explicit
    timestamps): every time and shift below lands the same as Kafka's kafka-consumer-groups --dry-run."""
    base = int(time.time() * 1000) - 10 * HOUR  # durations below land half an hour from any message
    topic = timed_topic(shared_stack, {0: 10, 1: 5}, base)
    group = f"g-{uuid.uuid4().hex[:8]}"
    commit(shared_stack, group, {(topic, 0): 6, (topic, 1): 2})
    cases = [
        (["--to-datetime", wall(base + 3 * HOUR) + "Z"], ["--to-datetime", wall(base + 3 * HOUR) + "Z"], [3, 3]),
        (["--to-datetime", wall(base + 3 * HOUR + 1) + "Z"], ["--to-datetime", wall(base + 3 * HOUR + 1) + "Z"], [4, 4]),
        (["--to-datetime", wall(base + 7 * HOUR - 1000) + "+00:00"], ["--to-datetime", wall(base + 7 * HOUR - 1000) + "+00:00"], [7, 5]),
        (["--to-datetime", f"@{base - HOUR}"], ["--to-datetime", wall(base - HOUR) + "Z"], [0, 0]),
        (["--by-duration", "PT6H30M"], ["--by-duration", "PT6H30M"], [4, 4]),
        (["--by-duration", "2h"], ["--by-duration", "PT2H"], [9, 5]),
        (["--shift-by", "-2"], ["--shift-by", "-2"], [4, 0]),
        (["--shift-by", "-9"], ["--shift-by", "-9"], [0, 0]),
        (["--shift-by", "7"], ["--shift-by", "7"], [10, 5]),
    ]
    for ours_args, theirs_args, expected in cases:
        r = kafkaops(shared_stack, "groups", "reset", group, "--topic", topic, *ours_args, "--json")
        assert r.returncode == 0, r.stderr
        ours = sorted((row["topic"], row["partition"], row["new"]) for row in json.loads(r.stdout)["rows"])
        assert ours == [(topic, 0, expected[0]), (topic, 1, expected[1])], ours_args
        assert ours == kafka_tool_plan(shared_stack, kafka_home, group, "--topic", topic, *theirs_args), theirs_args
    late = kafkaops(shared_stack, "groups", "reset", group, "--topic", topic, "--to-datetime", wall(base + 7 * HOUR) + "Z")
    assert f"warning: {topic} partition 1: no message at or after the time: using the end 5" in late.stderr
    assert f"dry run: nothing changed; add --execute to reset group {group} on {topic} to datetime {wall(base + 7 * HOUR)}Z" in late.stderr
    assert committed(shared_stack, group, topic, 2) == {0: 6, 1: 2}  # dry runs changed nothing

    done = kafkaops(shared_stack, "groups", "reset", group, "--topic", topic, "--shift-by", "-9", "--execute")
    assert done.returncode == 0, done.stderr
    assert f"warning: {topic} partition 0: 6 - 9 = -3 is older than the oldest kept offset 0: using 0" in done.stderr
    assert f"group {group}: offsets on {topic} reset to shift by -9 (2 partition(s) changed)" in done.stderr
    assert committed(shared_stack, group, topic, 2) == {0: 0, 1: 0}
    by_time = kafkaops(shared_stack, "groups", "reset", group, "--topic", topic, "--by-duration", "PT6H30M", "--execute")
    assert by_time.returncode == 0, by_time.stderr
    assert committed(shared_stack, group, topic, 2) == {0: 4, 1: 4}


def test_a_time_without_a_zone_is_refused_because_kafkas_tool_reads_it_as_utc(shared_stack: Stack, kafka_home: Path) -> None:
    """Kafka's tool reads 2026-...T10:00:00.000 as UTC whatever the machine's zone (TZ here: UTC+05:30),
    kafkaops consume as local time: groups reset refuses the ambiguous form and names both fixes."""
    base = int(time.time() * 1000) - 10 * HOUR
    topic = timed_topic(shared_stack, {0: 10}, base)
    group = f"g-{uuid.uuid4().hex[:8]}"
    commit(shared_stack, group, {(topic, 0): 1})
    stack = dataclasses.replace(shared_stack, env={**shared_stack.env, "TZ": "Asia/Kolkata"})
    utc = wall(base + 4 * HOUR)
    assert kafka_tool_plan(stack, kafka_home, group, "--topic", topic, "--to-datetime", utc) == [(topic, 0, 4)]  # read as UTC
    r = kafkaops(stack, "groups", "reset", group, "--topic", topic, "--to-datetime", utc, "--execute")
    assert r.returncode == 2, r.stderr
    assert r.stdout == ""
    assert f"error: --to-datetime '{utc}' has no time zone: Kafka's kafka-consumer-groups reads that as UTC" in r.stderr
    assert f"hint: say which: {utc}Z for UTC, or an offset like {utc}+02:00" in r.stderr
    assert committed(shared_stack, group, topic) == {0: 1}
    r = kafkaops(stack, "groups", "reset", group, "--topic", topic, "--to-datetime", utc + "Z", "--json")
    assert [row["new"] for row in json.loads(r.stdout)["rows"]] == [4]


def test_shift_by_on_a_partition_without_a_committed_offset_is_refused(shared_stack: Stack) -> None:
    topic = timed_topic(shared_stack, {0: 3, 1: 3}, int(time.time() * 1000) - 10 * HOUR)
    group = f"g-{uuid.uuid4().hex[:8]}"
    commit(shared_stack, group, {(topic, 0): 1})
    r = kafkaops(shared_stack, "groups", "reset", group, "--topic", topic, "--shift-by", "1", "--execute")
    assert r.returncode == 2, r.stderr
    assert f"error: --shift-by moves committed offsets, and group {group} has none on {topic} partition 1" in r.stderr
    assert committed(shared_stack, group, topic, 2) == {0: 1, 1: -1001}
