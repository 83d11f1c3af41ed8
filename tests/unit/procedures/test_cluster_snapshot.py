"""The snapshot migrate and upgrade take before a change and compare after it, without services."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from kafkaops.errors import ServiceFailed
from kafkaops.procedures import cluster_snapshot
from kafkaops.procedures.cluster_snapshot import Snapshot, compare
from kafkaops.procedures.migrate import snapshot as migrate_snapshot
from kafkaops.procedures.migrate.snapshot import before_of, snapshot_of


def snap(**changes: object) -> Snapshot:
    base = Snapshot("c1", {"t": 2}, {"t/0": 10, "t/1": 5}, {"g": {"t/0": 7}}, {"t": {"retention.ms": "100"}})
    for k, v in changes.items():
        setattr(base, k, v)
    return base


def test_compare_treats_every_loss_as_a_problem_and_growth_as_a_note() -> None:
    assert compare(snap(), snap()).ok
    grown = compare(snap(), snap(end_offsets={"t/0": 12, "t/1": 5}))
    assert grown.ok and grown.notes == ["end offset of t/0 grew from 10 to 12 (messages were written during the upgrade)"]
    lost = compare(
        snap(),
        snap(cluster_id="c2", partitions={"t": 1}, end_offsets={"t/0": 9}, group_offsets={"g": {}}, overrides={"t": {}}),
    )
    assert lost.problems == [
        "cluster id changed: c1 before, c2 after",
        "topic t has 1 partition(s), 2 before",
        "end offset of t/0 is 9, 10 before",
        "end offset of t/1 is missing (5 before)",
        "group g's committed offset on t/0 is missing (7 before)",
        "topic t: config override retention.ms=100 is now None",
    ]


def test_settle_waits_while_the_restarted_broker_still_loads_the_group_offsets() -> None:
    # Right after the start the group coordinator may still load __consumer_offsets: a group reads as empty for a moment.
    answers = iter([snap(group_offsets={"g": {}}), snap()])
    said: list[str] = []
    after, cmp = cluster_snapshot.settle(lambda: next(answers), snap(), 30.0, said.append)
    assert cmp.ok and after.group_offsets == {"g": {"t/0": 7}} and len(said) == 1
    _after, cmp = cluster_snapshot.settle(lambda: snap(cluster_id="other"), snap(), 0.01, said.append)
    assert cmp.problems == ["cluster id changed: c1 before, other after"]


def fake_cluster(monkeypatch: pytest.MonkeyPatch, offsets: dict[str, Any]) -> None:
    """The admin calls take makes, answered from memory: topic t (2 partitions), the internal __consumer_offsets (1)."""
    from kafkaops.adapters import kafka, kafka_configs, kafka_groups

    topics = {"t": SimpleNamespace(partitions=[0, 1]), "__consumer_offsets": SimpleNamespace(partitions=[0])}
    monkeypatch.setattr(kafka, "admin", lambda _s: object())
    monkeypatch.setattr(kafka, "metadata", lambda _s, timeout, client: SimpleNamespace(cluster_id="c1", topics=topics))
    monkeypatch.setattr(kafka, "watermarks", lambda _c, name, parts, _t: {p: SimpleNamespace(high=10 * p + 3) for p in parts})
    config = [SimpleNamespace(name="retention.ms", value="100", source="DYNAMIC_TOPIC_CONFIG"), SimpleNamespace(name="x", value="1", source="DEFAULT_CONFIG")]
    monkeypatch.setattr(kafka_configs, "topic_configs", lambda _c, name, _t: config)
    monkeypatch.setattr(kafka_groups, "list_groups", lambda _c, _t: [SimpleNamespace(group=g) for g in offsets])
    monkeypatch.setattr(kafka_groups, "committed_offsets_of", lambda _c, names, _t: {g: offsets[g] for g in names})


def test_take_reads_what_each_command_compares(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_cluster(monkeypatch, {"g": {("t", 0): 7, ("t", 1): None}})
    full = cluster_snapshot.take(None)  # type: ignore[arg-type]
    assert full == Snapshot(
        "c1", {"__consumer_offsets": 1, "t": 2}, {"__consumer_offsets/0": 3, "t/0": 3, "t/1": 13}, {"g": {"t/0": 7}}, {"t": {"retention.ms": "100"}}
    )
    assert migrate_snapshot.read_snapshot(None) == Snapshot("c1", {"t": 2}, {}, {"g": {"t/0": 7}}, {})  # type: ignore[arg-type]


def test_a_group_whose_offsets_cannot_be_read_fails_the_snapshot(monkeypatch: pytest.MonkeyPatch) -> None:
    # Regression: upgrade's snapshot took such a group as one without offsets, so its offsets were never compared.
    fake_cluster(monkeypatch, {"g": None})
    with pytest.raises(ServiceFailed, match="the committed offsets of group g could not be read"):
        cluster_snapshot.take(None)  # type: ignore[arg-type]


def test_the_state_file_keeps_its_format() -> None:
    before = {"cluster_id": "a", "topics": {"t": 3, "u.v-w": 1}, "groups": {"g": {"t:0": 5, "u.v-w:0": 2}}}
    snapshot = snapshot_of(before)
    assert snapshot == Snapshot("a", {"t": 3, "u.v-w": 1}, {}, {"g": {"t/0": 5, "u.v-w/0": 2}}, {})
    assert before_of(snapshot) == before


def test_migrate_verify_names_the_phase_and_what_was_lost(monkeypatch: pytest.MonkeyPatch) -> None:
    before = snapshot_of({"cluster_id": "a", "topics": {"t": 3, "u": 1}, "groups": {"g": {"t:0": 5}}})
    monkeypatch.setattr(migrate_snapshot, "read_snapshot", lambda _s: Snapshot("b", {"t": 2}, {}, {"g": {"t/0": 4}}, {}))
    with pytest.raises(ServiceFailed) as err:
        migrate_snapshot.verify(None, before, phase=4, timeout=0.01)  # type: ignore[arg-type]
    assert err.value.message == "phase 4: the cluster does not hold what it held before the migration (4 difference(s))"
    assert err.value.details == [
        "cluster id changed: a before, b after",
        "topic t has 2 partition(s), 3 before",
        "topic u is missing",
        "group g's committed offset on t/0 is 4, 5 before",
    ]


def test_migrate_verify_accepts_a_group_that_committed_and_a_topic_made_since_phase_1(monkeypatch: pytest.MonkeyPatch) -> None:
    # Regression: migrate compared for equality with what phase 1 read, so a consumer that committed (or a
    # topic created) between `migrate --to kraft` and `--finalize` failed phase 5 (and a rollback) for good.
    before = snapshot_of({"cluster_id": "a", "topics": {"t": 3}, "groups": {"g": {"t:0": 5}}})
    now = Snapshot("a", {"t": 3, "new": 1}, {}, {"g": {"t/0": 9}, "g2": {"new/0": 1}}, {})
    monkeypatch.setattr(migrate_snapshot, "read_snapshot", lambda _s: now)
    assert migrate_snapshot.verify(None, before, phase=5, timeout=0.01) is now  # type: ignore[arg-type]
