"""doctor on KRaft stacks that kafkaops itself started (combined node and split layout): healthy, exit 0,
the metadata-quorum layer instead of the ZooKeeper one. (A KRaft node kafkaops did not start:
tests/integration/test_doctor_kraft.py.)"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_kraft import KraftStack, kraft_home
from tests.kraft_fixtures import started_kraft_stack

__all__ = ["kraft_home"]  # the session fixture, shared with test_kraft.py


@pytest.fixture(params=["combined", "split"])
def started(request: pytest.FixtureRequest, kraft_home: Path, database_url: str) -> Iterator[KraftStack]:
    """A KRaft stack after `kafkaops up`, with the demo table sent once (so every layer has work); under
    /var/tmp, since doctor rightly warns about data under /tmp."""
    with started_kraft_stack(kraft_home, database_url, split=request.param == "split", prefix="kafkaops-kraft-doctor-") as stack:
        yield stack


def test_doctor_is_healthy_on_a_kraft_stack_kafkaops_started(started: KraftStack) -> None:
    res = started.kafkaops("doctor", "--json")
    doc = json.loads(res.stdout)
    statuses = {c["id"]: c["status"] for c in doc["checks"]}
    assert res.returncode == 0, ({k: v for k, v in statuses.items() if v != "PASS"}, [(c["id"], c["finding"]) for c in doc["checks"] if c["status"] == "FAIL"])
    assert doc["verdict"]["status"] == "ok", [(c["id"], c["finding"]) for c in doc["checks"] if c["status"] == "WARN"]
    assert doc["cluster"]["mode"] == "kraft" and doc["cluster"]["local"] is True
    assert not any(i.startswith("zookeeper.") for i in statuses), statuses
    assert statuses["quorum.controller"] == "PASS", statuses
    assert statuses["quorum.leader"] == "PASS", statuses
    assert "FAIL" not in statuses.values(), statuses
