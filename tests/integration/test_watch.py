"""status --watch / groups describe --watch without a terminal: one JSON line per refresh, against a real stack."""

from __future__ import annotations

import json

from tests.conftest import Stack, start_kafkaops
from tests.integration.test_consume import produce
from tests.integration.test_groups import group_with_progress, kafkaops


def test_status_watch_prints_a_json_line_per_refresh_with_rate_and_lag_trend(shared_stack: Stack) -> None:
    topic, group = group_with_progress(shared_stack, shown=4)  # 10 messages, the group at 4: lag 6
    env = {**shared_stack.env, "KAFKA_TOPIC": topic}
    proc = start_kafkaops(["status", "--watch", "--interval", "0.5", "--count", "2"], env, shared_stack.root)
    assert proc.stdout is not None
    first = json.loads(proc.stdout.readline())  # waits for the first refresh, then 5 more messages arrive
    produce(shared_stack, topic, [b"{}"] * 5)
    second = json.loads(proc.stdout.readline())
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out == ""  # exactly --count lines

    assert first["up"] is True and {s["service"]: s["state"] for s in first["services"]} == {"zookeeper": "running", "kafka": "running"}
    assert first["topic"] == topic
    assert first["end_offsets"] == {"0": 10}
    assert first["messages_per_s"] is None  # nothing to compare with yet
    g1 = next(g for g in first["groups"] if g["group"] == group)
    assert (g1["lag"], g1["trend"]) == (6, None)
    assert "database" in first["errors"] and first["pending"] is None  # this stack has no database: said, not fatal

    assert second["end_offsets"] == {"0": 15}
    assert second["messages_per_s"] > 0
    g2 = next(g for g in second["groups"] if g["group"] == group)
    assert (g2["lag"], g2["trend"]) == (11, "up")


def test_groups_describe_watch_one_group_with_its_partitions(shared_stack: Stack) -> None:
    topic, group = group_with_progress(shared_stack, shown=3, total=5)
    r = kafkaops(shared_stack, "groups", "describe", group, "--watch", "--count", "1")
    assert r.returncode == 0, r.stderr
    (line,) = r.stdout.splitlines()
    doc = json.loads(line)
    assert doc["services"] is None  # groups only: no service probing
    assert [(g["group"], g["state"], g["lag"], g["trend"]) for g in doc["groups"]] == [(group, "empty", 2, None)]
    assert doc["groups"][0]["partitions"] == [{"topic": topic, "partition": 0, "committed": 3, "end": 5, "lag": 2, "member": None}]
