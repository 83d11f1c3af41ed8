"""kafkaops cdc deploy --from-producer: the hand-over from kafkaops produce to Debezium on a real Connect worker,
a real broker and the embedded PostgreSQL switched to wal_level=logical, while inserts go on."""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Stack, free_port, make_stack, run_kafkaops, teardown_stack


@pytest.fixture
def cdc_stack(tmp_path: Path, kafka_home: Path, connect_home: Path) -> Iterator[Stack]:
    s = make_stack(tmp_path, kafka_home)
    s.env.update(
        {
            "KAFKAOPS_EMBEDDED_DB": "auto",
            "KAFKAOPS_EMBEDDED_DB_PORT": str(free_port()),
            "KAFKAOPS_CONNECT_HOME": str(connect_home),
            "KAFKAOPS_START_TIMEOUT": "150",
            "KAFKA_TOPIC": "cdc-" + uuid.uuid4().hex[:8],
        }
    )
    yield s
    run_kafkaops(["connect", "down", "--force"], s.env, s.root)
    teardown_stack(s)


class Inserter(threading.Thread):
    """One row per transaction until stopped; reconnects when the database restarts under it."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.stop, self.done = url, threading.Event(), 0

    def run(self) -> None:
        import psycopg

        while not self.stop.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True, connect_timeout=3) as conn:
                    while not self.stop.is_set():
                        conn.execute("INSERT INTO livedb (name, amount) VALUES ('during', 1.5)")
                        self.done += 1
            except psycopg.OperationalError:
                self.stop.wait(0.2)


def _sql(url: str, statement: str) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(statement)
        return cur.fetchall() if cur.description else []


def _events(broker: str, topic: str, done: Any, timeout: float = 120.0) -> list[tuple[str, dict[str, Any]]]:
    """Every event of the topic, read until ``done(events)`` holds (or the timeout)."""
    import time

    from confluent_kafka import Consumer

    consumer = Consumer({"bootstrap.servers": broker, "group.id": "t-" + uuid.uuid4().hex, "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    events: list[tuple[str, dict[str, Any]]] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and not done(events):
            for msg in consumer.consume(1000, 1.0):
                if msg.error() is None and msg.value() is not None:
                    value = json.loads(msg.value())
                    events.append((value["op"], value))
    finally:
        consumer.close()
    return events


def _row_id(value: dict[str, Any]) -> int:
    return int((value.get("after") or value.get("before"))["id"])


def test_hand_over_while_inserts_go_on_then_updates_and_deletes(cdc_stack: Stack) -> None:
    env, root = cdc_stack.env, cdc_stack.root
    topic = env["KAFKA_TOPIC"]
    for args in (["up"], ["db", "init", "--demo"], ["db", "seed", "3000"], ["produce", "--envelope", "debezium"]):
        res = run_kafkaops(args, env, root)
        assert res.returncode == 0, (args, res.stderr)
    from kafkaops.adapters import embedded_pg

    url = embedded_pg.database_url(cdc_stack.settings)
    assert _sql(url, "SELECT last_id FROM producer_offsets") == [(3000,)]

    up = run_kafkaops(["connect", "up", "--port", str(free_port())], env, root)
    assert up.returncode == 0, up.stderr

    refused = run_kafkaops(["cdc", "deploy", "--from-producer"], env, root)
    assert refused.returncode == 5, refused.stderr
    assert "wal_level=replica: Debezium needs wal_level=logical" in refused.stderr and "--yes" in refused.stderr

    inserter = Inserter(url)
    inserter.start()
    try:
        deploy = run_kafkaops(["cdc", "deploy", "--from-producer", "--yes", "--json"], env, root)
        assert deploy.returncode == 0, deploy.stderr
        assert "handed over after id 3000" in deploy.stderr
        doc = json.loads(deploy.stdout)
        assert doc["state"] == "RUNNING" and doc["handover"]["producer_last_id"] == 3000 and doc["slot"]["name"].startswith("kafkaops_public_livedb_")
        while inserter.done < doc["handover"]["rows_bridged"] + 200:  # inserts after the slot too
            inserter.stop.wait(0.1)
    finally:
        inserter.stop.set()
        inserter.join(30)

    again = run_kafkaops(["produce", "--envelope", "debezium"], env, root)
    assert again.returncode == 5 and "was handed over to Kafka Connect" in again.stderr and "kafkaops cdc delete" in again.stderr

    all_ids = [r[0] for r in _sql(url, "SELECT id FROM livedb ORDER BY id")]
    updated, deleted = all_ids[:5], all_ids[-3:]  # rows sent by the producer, and rows Debezium sent
    _sql(url, f"UPDATE livedb SET note = 'changed' WHERE id IN ({','.join(map(str, updated))})")
    _sql(url, f"DELETE FROM livedb WHERE id IN ({','.join(map(str, deleted))})")

    def complete(events: list[tuple[str, dict[str, Any]]]) -> bool:
        return sum(op == "u" for op, _ in events) >= 5 and sum(op == "d" for op, _ in events) >= 3

    events = _events(cdc_stack.broker, topic, complete)
    inserts = Counter(_row_id(v) for op, v in events if op in ("c", "r"))
    assert max(all_ids) > doc["handover"]["last_id"]  # inserts committed after the slot: streamed by Debezium
    assert set(inserts) == set(all_ids), f"missing {sorted(set(all_ids) - set(inserts))[:10]}, extra {sorted(set(inserts) - set(all_ids))[:10]}"
    assert [i for i, n in inserts.items() if n > 1] == [], "an insert was sent twice"
    assert sorted(_row_id(v) for op, v in events if op == "u") == updated
    assert sorted(_row_id(v) for op, v in events if op == "d") == deleted
    assert all(v["after"]["note"] == "changed" for op, v in events if op == "u")

    st = run_kafkaops(["cdc", "status", "--json"], env, root)
    assert st.returncode == 0, st.stderr
    from kafkaops.adapters.replication_sql import dsn_parts

    doctor = run_kafkaops(["doctor", "--json", "connect.workers", "connect.connector", "connect.slot"], env, root)
    found = {c["id"]: c["status"] for c in json.loads(doctor.stdout)["checks"]}
    assert [found.get(i) for i in ("connect.workers", "connect.connector", "connect.slot")] == ["PASS", "PASS", "PASS"], doctor.stdout
    password = dsn_parts(url)["password"]
    assert password and all(password not in text for text in (deploy.stdout, deploy.stderr, st.stdout, st.stderr))
    assert json.loads(st.stdout)["slot"]["active"] is True

    back = run_kafkaops(["cdc", "delete", "--yes"], env, root)
    assert back.returncode == 0 and "replication slot" in back.stderr and "hand-over mark removed" in back.stderr, back.stderr
    assert _sql(url, "SELECT count(*) FROM pg_replication_slots") == [(0,)]
    resumed = run_kafkaops(["produce", "--envelope", "debezium"], env, root)
    assert resumed.returncode == 0, resumed.stderr


def test_killing_the_worker_that_runs_the_task_moves_it_and_loses_nothing(cdc_stack: Stack) -> None:
    import os
    import signal
    import time
    import urllib.request

    env, root = cdc_stack.env, cdc_stack.root
    for args in (["up"], ["db", "init", "--demo"], ["db", "seed", "100"], ["connect", "up", "--workers", "2", "--port", str(free_port())]):
        res = run_kafkaops(args, env, root)
        assert res.returncode == 0, (args, res.stderr)
    workers = json.loads(run_kafkaops(["connect", "status", "--json"], env, root).stdout)["workers"]
    assert [w["state"] for w in workers] == ["running", "running"] and workers[0]["url"] != workers[1]["url"]

    deploy = run_kafkaops(["cdc", "deploy", "--yes", "--json"], env, root)  # no hand-over: Debezium snapshots the 100 rows
    assert deploy.returncode == 0, deploy.stderr
    doc = json.loads(deploy.stdout)
    runner = doc["tasks"][0]["worker"]
    victim = next(w for w in workers if w["url"].endswith(":" + runner.rsplit(":", 1)[1]))
    survivor = next(w for w in workers if w is not victim)
    os.kill(victim["pid"], signal.SIGKILL)

    from kafkaops.adapters import embedded_pg

    url = embedded_pg.database_url(cdc_stack.settings)
    _sql(url, "INSERT INTO livedb (name, amount) SELECT 'after-kill', 2 FROM generate_series(1, 100)")
    deadline = time.monotonic() + 120
    moved = None
    while time.monotonic() < deadline:
        with urllib.request.urlopen(survivor["url"] + f"/connectors/{doc['connector']}/status", timeout=5) as resp:  # noqa: S310
            tasks = json.loads(resp.read())["tasks"]
        if tasks and tasks[0]["state"] == "RUNNING" and survivor["url"].endswith(":" + tasks[0]["worker_id"].rsplit(":", 1)[1]):
            moved = tasks[0]
            break
        time.sleep(0.5)
    assert moved is not None, "the task did not move to the surviving worker"

    events = _events(cdc_stack.broker, env["KAFKA_TOPIC"], lambda ev: len({_row_id(v) for _op, v in ev}) >= 200)
    ids = Counter(_row_id(v) for _op, v in events)
    assert set(ids) == set(range(1, 201))
    duplicates = sum(n - 1 for n in ids.values())
    print(f"at-least-once after killing {victim['name']}: {duplicates} duplicate event(s) of 200 rows")
    st = json.loads(run_kafkaops(["connect", "status", "--json"], env, root).stdout)["workers"]
    assert {w["name"]: w["state"] for w in st}[victim["name"]] == "stale"
