"""kafkaops reset in KRaft mode, against real Kafka 4.x nodes started through kafkaops (each test its own stack).

What a user would check: as in ZooKeeper mode, a reset stops the node kafkaops started (cleanly), empties
exactly the configured log.dirs / metadata.log.dir (sentinels beside them stay), and the next `up`
formats a new cluster (a new cluster id) that holds no topic of the old one. A node kafkaops did not
start is refused (unit tests: tests/unit/procedures/test_reset.py).
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration import test_kraft
from tests.integration.test_kraft import FORMATTED, KraftStack, meta

# test_kraft.py's fixtures: Kafka 4.x installed once, a stack on free ports in tmp_path per test.
kraft_home, kraft_stack, split_stack = test_kraft.kraft_home, test_kraft.kraft_stack, test_kraft.split_stack


def _produce(broker: str, topic: str, n: int) -> None:
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": broker, "enable.idempotence": True})
    for i in range(n):
        p.produce(topic, key=str(i), value=json.dumps({"n": i}))
    assert p.flush(30) == 0


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def _topics(s: KraftStack) -> set[str]:
    listed = s.kafkaops("topics", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    return {t["name"] for t in json.loads(listed.stdout)["topics"]}


def test_reset_stops_the_node_empties_its_folders_and_the_next_up_is_a_new_empty_cluster(kraft_stack: KraftStack) -> None:
    s = kraft_stack
    up = s.kafkaops("up")
    assert up.returncode == 0, up.stderr
    old_cluster = meta(s.log_dir)["cluster.id"]
    created = s.kafkaops("topics", "create", "kraft-reset-orders", "--partitions", "2")
    assert created.returncode == 0, created.stderr
    _produce(s.env["KAFKA_BROKER"], "kraft-reset-orders", 20)
    assert (s.log_dir / "kraft-reset-orders-0").is_dir() and (s.log_dir / "__cluster_metadata-0" / "quorum-state").is_file()
    sentinels = [s.log_dir.parent / "next-to-the-log-dir.txt", s.root / "conf" / "mine.txt"]
    for f in sentinels:
        f.write_text("sentinel")

    # The plan while the node runs: it will be stopped first, as in ZooKeeper mode; nothing changes yet.
    before = _files(s.log_dir)
    plan = s.kafkaops("reset", "--dry-run")
    assert plan.returncode == 0, plan.stderr
    assert "  1. KRaft node       running, pid " in plan.stdout
    assert f"  kafka log dir  {s.log_dir}  " in plan.stdout
    assert "topics on disk: db_live_events, kraft-reset-orders" in plan.stdout
    assert f"the cluster id {old_cluster}: the next `kafkaops up` formats the folders with a new one" in plan.stdout
    assert "ZooKeeper" not in plan.stdout
    assert before <= _files(s.log_dir) and "kraft-reset-orders" in _topics(s)

    res = s.kafkaops("reset", "--confirm", "--yes")
    assert res.returncode == 0, res.stderr
    assert "KRaft node stopped cleanly" in res.stderr
    assert f"emptied kafka log dir {s.log_dir}" in res.stderr
    assert f"forgot cluster id {old_cluster}" in res.stderr
    assert s.log_dir.is_dir() and list(s.log_dir.iterdir()) == []
    assert all(f.read_text() == "sentinel" for f in sentinels)
    assert not (s.root / "ops" / "run" / "kraft-cluster.json").exists()
    assert json.loads((s.root / "ops" / "reset-audit.log").read_text().splitlines()[-1])["outcome"] == "done"

    again = s.kafkaops("up")
    assert again.returncode == 0, again.stderr
    new_cluster = meta(s.log_dir)["cluster.id"]
    assert new_cluster != old_cluster and f"{FORMATTED} {new_cluster}" in again.stderr
    status = json.loads(s.kafkaops("status", "--json").stdout)
    assert status["services"][0]["health"]["cluster_id"] == new_cluster
    assert "kraft-reset-orders" not in _topics(s)
    assert s.kafkaops("down").returncode == 0


def test_the_split_layout_empties_the_controllers_and_the_brokers_dirs(split_stack: KraftStack) -> None:
    s = split_stack
    assert s.controller_dir is not None
    assert s.kafkaops("up").returncode == 0
    old_cluster = meta(s.controller_dir)["cluster.id"]
    assert s.kafkaops("down").returncode == 0

    res = s.kafkaops("reset", "--confirm", "--yes")
    assert res.returncode == 0, res.stderr
    assert "  1. KRaft broker     not running" in res.stdout and "  2. KRaft controller not running" in res.stdout
    assert f"emptied KRaft metadata dir {s.controller_dir}" in res.stderr and f"emptied kafka log dir {s.log_dir}" in res.stderr
    assert list(s.controller_dir.iterdir()) == [] and list(s.log_dir.iterdir()) == []

    again = s.kafkaops("up", "--no-topic")
    assert again.returncode == 0, again.stderr
    assert FORMATTED in again.stderr
    new_cluster = meta(s.controller_dir)["cluster.id"]
    assert new_cluster != old_cluster and meta(s.log_dir)["cluster.id"] == new_cluster
    assert s.kafkaops("down").returncode == 0
