"""doctor and a broker that accepts connections but does not answer: stopped with SIGSTOP, and wedged
for real by a topic whose partition assignment ZooKeeper refuses to store (the broker retries forever).

Both used to pass for "the broker is not running" (or, with metadata answered from the broker's cache,
for healthy); doctor now says the broker is stuck and how to restart it.
"""

from __future__ import annotations

import json
import os
import signal
import time
from typing import Any

import pytest

from kafkaops.procedures import services
from tests.conftest import Stack, run_kafkaops

STUCK = "accepts connections but does not answer requests"


def _doctor(stack: Stack) -> tuple[int, dict[str, Any]]:
    proc = run_kafkaops(["doctor", "--json"], stack.env, stack.root, timeout=90)
    assert proc.stdout.strip(), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def _checks(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in doc["checks"]}


def _broker_pid(stack: Stack) -> int:
    rec = services.read_pid(stack.settings, services.KAFKA)
    assert rec is not None
    return rec.pid


def test_doctor_reports_a_stopped_broker_process_as_not_answering(running_stack: Stack) -> None:
    _, doc = _doctor(running_stack)
    assert _checks(doc)["broker.metadata"]["status"] == "PASS", json.dumps(doc)[:3000]

    pid = _broker_pid(running_stack)
    os.kill(pid, signal.SIGSTOP)
    try:
        code, doc = _doctor(running_stack)
    finally:
        os.kill(pid, signal.SIGCONT)
    meta = _checks(doc)["broker.metadata"]
    assert code == 3
    assert meta["status"] == "FAIL"
    assert meta["finding"] == (f"the broker at {running_stack.broker} {STUCK}: a metadata request got no answer in 3 s")
    assert meta["next"] == "kafkaops logs kafka"
    assert (doc["verdict"]["layer"], doc["verdict"]["check"]) == ("broker", "broker.metadata")

    # Resumed: it answers again.
    deadline = time.monotonic() + 30
    while True:
        code, doc = _doctor(running_stack)
        if _checks(doc)["broker.metadata"]["status"] == "PASS" or time.monotonic() > deadline:
            break
    assert _checks(doc)["broker.metadata"]["status"] == "PASS"
    assert _checks(doc)["broker.requests"]["status"] == "PASS"


def test_doctor_reports_a_broker_wedged_by_an_oversized_zookeeper_write(running_stack: Stack) -> None:
    """The defect itself: 100,000 partitions asked of the broker directly (kafkaops now refuses them)."""
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": running_stack.broker})
    future = admin.create_topics([NewTopic("wedge", 100_000, 1)], request_timeout=15, operation_timeout=15)["wedge"]
    with pytest.raises(Exception):  # noqa: B017 - the broker never finishes it: a timeout of one kind or another
        future.result(20)
    code, doc = _doctor(running_stack)
    stuck = [c for c in doc["checks"] if c["layer"] == "broker" and c["status"] == "FAIL" and STUCK in c["finding"]]
    assert code == 3, json.dumps(doc)[:3000]
    assert stuck, json.dumps(doc)[:3000]
    assert doc["verdict"]["layer"] == "broker"
