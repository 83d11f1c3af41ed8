"""kafkaops groups list | describe | reset against a real broker (the shared stack), as subprocesses."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid

import pytest

from tests.conftest import Stack, run_kafkaops
from tests.integration.test_consume import committed, new_topic, produce, wait_for_line

pytestmark = pytest.mark.integration


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
    assert "partition 0: 99 is past the end 10: using 10" in to_offset.stderr
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
    assert "error: give exactly one of --to-earliest, --to-latest, --to-offset N (got --to-earliest, --to-latest)" in r.stderr


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
