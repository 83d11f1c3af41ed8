"""kafkaops cdc deploy --from-producer: the hand-over from kafkaops produce to Debezium on a real Connect worker,
a real broker and the embedded PostgreSQL switched to wal_level=logical, after 10,000 rows produced, while inserts,
updates and deletes go on; then one of two workers killed."""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from tests.conftest import Stack, free_port, run_kafkaops
from tests.connect_fixtures import assert_cdc_healthy


def _lsn(text: str) -> int:
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) + int(low, 16)


class Writer(threading.Thread):
    """The application while the pipeline is handed over: inserts, updates and deletes, one per transaction (two inserts,
    an update of a produced row, an update of a row it inserted, a delete of a produced row, in turn). Each committed
    change is recorded with the WAL insert position before it began and after it committed: the hand-over point (the
    slot's consistent point) falls before, after or between them, which tells whether Debezium must stream it."""

    def __init__(self, url: str, produced: list[int]) -> None:
        super().__init__(daemon=True)
        self.url, self.stop = url, threading.Event()
        self.error: Exception | None = None
        self.produced = produced  # ids it may update or delete: rows `kafkaops produce` sent
        self.ops: list[tuple[str, int, str, int, int]] = []  # (op, id, note, lsn before, lsn after)

    def run(self) -> None:
        import random

        import psycopg

        rng, own, k = random.Random(17), list[int](), 0
        try:
            with psycopg.connect(self.url, autocommit=True) as conn:
                lsn = "SELECT (pg_current_wal_insert_lsn() - '0/0')::bigint"
                while not self.stop.is_set():
                    k += 1
                    kind = ("c", "u", "c", "u", "d" if len(self.produced) > 5000 else "u")[k % 5]
                    note, args = f"w{k}", tuple[Any, ...]()
                    if kind == "c":
                        stmt, args = "INSERT INTO livedb (name, amount, note) VALUES ('writer', 1.5, %s) RETURNING id", (note,)
                    elif kind == "u":
                        target = own[-1 - rng.randrange(min(len(own), 20))] if own and k % 2 else self.produced[rng.randrange(len(self.produced))]
                        stmt, args = "UPDATE livedb SET note = %s WHERE id = %s RETURNING id", (note, target)
                    else:
                        target = self.produced.pop(rng.randrange(len(self.produced)))
                        stmt, args = "DELETE FROM livedb WHERE id = %s RETURNING id", (target,)
                    before = conn.execute(lsn).fetchone()[0]
                    row = conn.execute(stmt, args).fetchone()
                    after = conn.execute(lsn).fetchone()[0]
                    if row is not None:
                        self.ops.append((kind, int(row[0]), note, int(before), int(after)))
                        if kind == "c":
                            own.append(int(row[0]))
        except Exception as exc:  # noqa: BLE001 - reported by the test
            self.error = exc


def _sql(url: str, statement: str) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(statement)
        return cur.fetchall() if cur.description else []


def _events(broker: str, topic: str, done: Any, timeout: float = 120.0, where: list[tuple[int, bytes]] | None = None) -> list[tuple[str, dict[str, Any]]]:
    """Every event of the topic, read until ``done(events)`` holds (or the timeout); ``where`` gets each one's
    (partition, key bytes)."""
    import time

    from confluent_kafka import Consumer

    consumer = Consumer({"bootstrap.servers": broker, "group.id": "t-" + uuid.uuid4().hex, "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    events: list[tuple[str, dict[str, Any]]] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and not done(events):
            for msg in consumer.consume(1000, 1.0):
                if msg.error() is None and where is not None:
                    where.append((msg.partition(), msg.key()))
                if msg.error() is None and msg.value() is None:  # a tombstone
                    events.append(("tombstone", {"key": json.loads(msg.key())}))
                elif msg.error() is None:
                    value = json.loads(msg.value())
                    events.append((value["op"], value))
    finally:
        consumer.close()
    return events


def _row_id(value: dict[str, Any]) -> int:
    return int((value.get("after") or value.get("before"))["id"])


def _logical_stack(stack: Stack) -> str:
    """The stack, a Connect worker and the demo table; a hand-over refused at wal_level=replica, then the database switched
    to wal_level=logical (by hand: `deploy --yes`'s switch and restart are the second test's). Returns the database URL."""
    from kafkaops.adapters import embedded_pg

    env, root = stack.env, stack.root
    for args in (["up"], ["connect", "up", "--port", str(free_port())], ["db", "init", "--demo"]):
        res = run_kafkaops(args, env, root)
        assert res.returncode == 0, (args, res.stderr)
    refused = run_kafkaops(["cdc", "deploy", "--from-producer"], env, root)
    assert refused.returncode == 5, refused.stderr
    assert "wal_level=replica: Debezium needs wal_level=logical" in refused.stderr and "--yes" in refused.stderr
    url = embedded_pg.database_url(stack.settings)
    _sql(url, "ALTER SYSTEM SET wal_level = logical")
    settings = stack.settings.with_overrides(embedded_db=True)
    embedded_pg.stop(settings)
    embedded_pg.start(settings)
    return url


def _produce_10000_rows(stack: Stack, url: str, held: Any) -> tuple[int, list[int]]:
    """10,000 rows sent by `kafkaops produce --follow --envelope debezium` while the transaction ``held`` keeps id 5001
    open (it also updates row 7): stopped with Ctrl+C, it leaves a live position, everything up to 10001 sent but 5001.
    Returns the position's last_id and the ids the writer may update or delete."""
    import signal
    import subprocess
    import sys
    import time

    env, root = stack.env, stack.root
    assert run_kafkaops(["db", "seed", "5000"], env, root).returncode == 0
    _refuses_other_shapes(env, root, url)  # before `held`: the settle gate would wait for it
    _exactly_once_ahead_of_its_offset(stack, url)
    assert held.execute("INSERT INTO livedb (name, amount, note) VALUES ('held', 2, 'held') RETURNING id").fetchone()[0] == 5001
    held.execute("UPDATE livedb SET note = 'held' WHERE id = 7")
    assert run_kafkaops(["db", "seed", "5000"], env, root).returncode == 0
    follow = subprocess.Popen(
        [sys.executable, "-m", "kafkaops", "produce", "--envelope", "debezium", "--follow"], env=env, cwd=root, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 120
    while _sql(url, "SELECT sent_upto, holes FROM producer_offsets WHERE id = 1") != [(10001, "5001")]:
        assert follow.poll() is None and time.monotonic() < deadline, follow.stderr.read() if follow.stderr else "produce --follow"
        time.sleep(0.1)
    follow.send_signal(signal.SIGINT)
    _out, err = follow.communicate(timeout=60)
    assert follow.returncode == 0, err
    last_id = _sql(url, "SELECT last_id, sent_upto, holes FROM producer_offsets WHERE id = 1")[0]
    assert last_id[0] < 5001 and last_id[1:] == (10001, "5001")  # a live position: 5001 a hole, above it sent
    return int(last_id[0]), [i for i in range(1, 10002) if i not in (5001, 7)]


def _hand_over(env: dict[str, str], root: Path, url: str, writer: Writer, held: Any) -> dict[str, Any]:
    """`cdc deploy --from-producer` while the writer goes on and the transaction ``held``, open since before it began,
    is still open: the slot waits for it, so it commits before the hand-over point. Returns the deploy's JSON."""
    import subprocess
    import sys
    import time

    deploy = subprocess.Popen(
        [sys.executable, "-m", "kafkaops", "cdc", "deploy", "--from-producer", "--json"],
        env=env,
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not _sql(url, "SELECT 1 FROM pg_stat_activity WHERE application_name = 'kafkaops-cdc-slot' AND wait_event_type = 'Lock'"):
        assert deploy.poll() is None and time.monotonic() < deadline, "the slot did not wait for the open transaction"
        time.sleep(0.1)
    held.commit()
    out, err = deploy.communicate(timeout=300)
    assert deploy.returncode == 0, err
    doc = json.loads(out)
    assert doc["state"] == "RUNNING" and doc["slot"]["name"].startswith("kafkaops_public_livedb_")
    assert f"handed over at id {doc['handover']['last_id']}: {doc['handover']['rows_bridged']} row(s) up to it" in err
    done = len(writer.ops)
    while len(writer.ops) < done + 300 and writer.is_alive():  # changes after the hand-over point too
        writer.stop.wait(0.1)
    writer.stop.set()
    writer.join(30)
    assert writer.error is None, writer.error
    return {**doc, "password_text": out + err}


def _check_topic(events: list[tuple[str, dict[str, Any]]], writer: Writer, inserted: set[int], point: int, held_id: int) -> dict[str, int]:
    """What the topic must hold, by the hand-over's rules (runbooks/connect.md); returns the counts."""
    by_debezium = [(i, op, v) for i, (op, v) in enumerate(events) if op != "tombstone" and not v["source"]["version"].endswith("-kafkaops")]
    inserts = Counter(_row_id(v) for op, v in events if op in ("c", "r"))
    assert set(inserts) == inserted, f"missing {sorted(inserted - set(inserts))[:10]}, extra {sorted(set(inserts) - inserted)[:10]}"
    duplicates = sum(n - 1 for n in inserts.values())
    assert duplicates == 0, f"inserts sent twice: {[i for i, n in inserts.items() if n > 1][:10]}"
    notes = Counter(v["after"]["note"] for _i, op, v in by_debezium if op == "u")
    deleted = Counter(_row_id(v) for _i, op, v in by_debezium if op == "d")
    assert all(n == 1 for n in (notes + deleted).values()) and "held" not in notes
    after = [(op, i, note) for op, i, note, b, _a in writer.ops if b >= point and op != "c"]
    before = [(op, i, note) for op, i, note, _b, a in writer.ops if a <= point and op != "c"]
    assert [x for x in after if (x[2] not in notes if x[0] == "u" else x[1] not in deleted)] == [], "a change after the hand-over is missing"
    assert [x for x in before if (x[2] in notes if x[0] == "u" else x[1] in deleted)] == [], "a change before the hand-over was streamed"
    assert sum(op == "tombstone" for op, _v in events) == 0  # tombstones.on.delete=false
    assert all(v["after"] is None and v["before"]["id"] for _i, op, v in by_debezium if op == "d")
    first: dict[int, int] = {}
    for i, (op, v) in enumerate(events):
        if op in ("c", "r"):
            first.setdefault(_row_id(v), i)
    assert all(first[_row_id(v)] < i for i, op, v in by_debezium if op in ("u", "d")), "a change came before its row's insert"
    assert inserts[held_id] == 1 and all(_row_id(v) != held_id for _i, _op, v in by_debezium)  # committed before the point: sent by kafkaops
    return {"events": len(events), "inserts": len(inserts), "updates": sum(notes.values()), "deletes": sum(deleted.values()), "duplicates": duplicates}


def _refuses_other_shapes(env: dict[str, str], root: Path, url: str) -> None:
    """Pipelines whose topic holds another shape are not handed over: one produced with --mode timestamp+id (its cursor
    is no id, its events kafkaops's envelope) and one produced with kafkaops's envelope; nothing is left behind."""
    for args, message in (
        (["--mode", "timestamp+id"], "is produced with --mode timestamp+id"),
        (["--envelope", "kafkaops"], "are not in Debezium's envelope without schemas (the last one's key: 10)"),
    ):
        other = "other-" + uuid.uuid4().hex[:6]
        for cmd in (["topics", "create", other, "--partitions", "1", "--replication-factor", "1"], ["produce", *args, "--topic", other, "--max-rows", "10"]):
            res = run_kafkaops(cmd, env, root)
            assert res.returncode == 0, (cmd, res.stderr)
        refused = run_kafkaops(["cdc", "deploy", "--from-producer", "--topic", other], env, root)
        assert refused.returncode == 5 and message in refused.stderr, refused.stderr
        assert _sql(url, "SELECT (SELECT count(*) FROM pg_replication_slots), (SELECT count(*) FROM pg_publication)") == [(0, 0)]


def _exactly_once_ahead_of_its_offset(stack: Stack, url: str) -> None:
    """A `produce --exactly-once` killed between Kafka's commit and the offset's update (here: the offset and token put
    back as its last transaction's header names them) is handed over after what its topic holds: nothing sent twice."""
    import time

    from confluent_kafka import Consumer, TopicPartition

    env, root, eos = stack.env, stack.root, "eos-" + uuid.uuid4().hex[:6]
    for cmd in (
        ["topics", "create", eos, "--partitions", "1", "--replication-factor", "1"],
        ["produce", "--exactly-once", "--envelope", "debezium", "--topic", eos, "--max-rows", "1000", "--batch-size", "100"],
    ):
        res = run_kafkaops(cmd, env, root)
        assert res.returncode == 0, (cmd, res.stderr)
    c = Consumer({"bootstrap.servers": stack.broker, "group.id": "t-" + uuid.uuid4().hex, "isolation.level": "read_committed"})
    c.assign([TopicPartition(eos, 0, 0)])
    seen: list[Any] = []
    deadline = time.monotonic() + 60
    while len(seen) < 1000 and time.monotonic() < deadline:
        seen += [m for m in c.consume(1000, 1.0) if m.error() is None]
    c.close()
    token, offset, end = dict(seen[-1].headers())["kafkaops.txn"].decode().split(":")
    assert end == "1000"
    _sql(url, f"UPDATE producer_offsets SET last_id = {int(offset)}, txn_token = '{token}' WHERE topic = '{eos}'")
    deploy = run_kafkaops(["cdc", "deploy", "--from-producer", "--topic", eos, "--json"], env, root)
    assert deploy.returncode == 0, deploy.stderr
    assert json.loads(deploy.stdout)["handover"]["producer_last_id"] == 1000
    events = _events(stack.broker, eos, lambda ev: len({_row_id(v) for _op, v in ev}) >= 5000)
    assert Counter(_row_id(v) for _op, v in events) == Counter(range(1, 5001))  # each once
    assert run_kafkaops(["cdc", "delete", "--topic", eos, "--yes"], env, root).returncode == 0


def test_hand_over_after_10000_rows_while_inserts_updates_and_deletes_go_on(connect_stack: Stack) -> None:
    import psycopg

    env, root = connect_stack.env, connect_stack.root
    url = _logical_stack(connect_stack)
    with psycopg.connect(url) as held:
        low, produced = _produce_10000_rows(connect_stack, url, held)
        writer = Writer(url, produced)
        writer.start()
        while len(writer.ops) < 100 and writer.is_alive():  # changes before the hand-over point
            writer.stop.wait(0.05)
        doc = _hand_over(env, root, url, writer, held)
    assert doc["handover"]["producer_last_id"] == low
    point = _lsn(doc["handover"]["slot_lsn"])
    inserted = set(produced) | {7, 5001} | {i for op, i, *_ in writer.ops if op == "c"} | {i for op, i, *_ in writer.ops if op == "d"}
    wanted_notes = {n for op, _i, n, b, _a in writer.ops if op == "u" and b >= point}
    wanted_deletes = {i for op, i, _n, b, _a in writer.ops if op == "d" and b >= point}

    def complete(events: list[tuple[str, dict[str, Any]]]) -> bool:
        seen = {_row_id(v) for op, v in events if op in ("c", "r")}
        return (
            inserted <= seen
            and wanted_notes <= {v["after"]["note"] for op, v in events if op == "u"}
            and wanted_deletes <= {_row_id(v) for op, v in events if op == "d"}
        )

    events = _events(connect_stack.broker, env["KAFKA_TOPIC"], complete)
    counts = _check_topic(events, writer, inserted, point, 5001)
    counts |= {"rows": len(inserted), "producer_last_id": low, "rows_bridged": doc["handover"]["rows_bridged"], "writer_changes": len(writer.ops)}
    print("hand-over:", ", ".join(f"{k}={v}" for k, v in counts.items()))
    assert doc["handover"]["rows_bridged"] == sum(
        1 for op, v in events if op == "c" and v["source"]["version"].endswith("-kafkaops") and (_row_id(v) > 10001 or _row_id(v) == 5001)
    )

    again = run_kafkaops(["produce", "--envelope", "debezium"], env, root)
    assert again.returncode == 5 and "was handed over to Kafka Connect" in again.stderr and "kafkaops cdc delete" in again.stderr
    st = assert_cdc_healthy(env, root)
    from kafkaops.adapters.replication_sql import dsn_parts

    password = dsn_parts(url)["password"]
    assert password and all(password not in text for text in (doc["password_text"], st.stdout, st.stderr))

    back = run_kafkaops(["cdc", "delete", "--yes"], env, root)
    assert back.returncode == 0 and "replication slot" in back.stderr and "hand-over mark removed" in back.stderr, back.stderr
    assert f"may run again, from id {low}" in back.stderr  # the position the hand-over found: nothing it or Debezium sent is skipped
    assert _sql(url, "SELECT count(*) FROM pg_replication_slots") == [(0,)]
    assert _sql(url, "SELECT last_id, sent_upto, holes FROM producer_offsets WHERE id = 1") == [(low, None, None)]
    assert run_kafkaops(["cdc", "delete", "--yes"], env, root).returncode == 0  # again: the position stays
    assert _sql(url, "SELECT last_id FROM producer_offsets WHERE id = 1") == [(low,)]
    resumed = run_kafkaops(["produce", "--envelope", "debezium"], env, root)
    assert resumed.returncode == 0, resumed.stderr
    assert _sql(url, "SELECT last_id = (SELECT max(id) FROM livedb) FROM producer_offsets WHERE id = 1") == [(True,)]


def test_killing_the_worker_that_runs_the_task_moves_it_and_loses_nothing(connect_stack: Stack) -> None:
    import os
    import signal
    import time
    import urllib.request

    env, root = connect_stack.env, connect_stack.root
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

    url = embedded_pg.database_url(connect_stack.settings)
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

    events = _events(connect_stack.broker, env["KAFKA_TOPIC"], lambda ev: len({_row_id(v) for op, v in ev if op != "tombstone"}) >= 200)
    ids = Counter(_row_id(v) for _op, v in events)
    assert set(ids) == set(range(1, 201))
    duplicates = sum(n - 1 for n in ids.values())
    print(f"at-least-once after killing {victim['name']}: {duplicates} duplicate event(s) of 200 rows")
    st = json.loads(run_kafkaops(["connect", "status", "--json"], env, root).stdout)["workers"]
    assert {w["name"]: w["state"] for w in st}[victim["name"]] == "stale"


def _java_partition(key: bytes, partitions: int) -> int:
    """Java's default partitioner for a keyed record, written out (Utils.murmur2, toPositive, modulo): an
    independent check of where Connect's producer and librdkafka's murmur2_random put ``key``."""
    m, h, body = 0x5BD1E995, (0x9747B28C ^ len(key)) & 0xFFFFFFFF, len(key) - len(key) % 4
    for i in range(0, body, 4):
        k = (int.from_bytes(key[i : i + 4], "little") * m) & 0xFFFFFFFF
        k = ((k ^ (k >> 24)) * m) & 0xFFFFFFFF
        h = ((h * m) & 0xFFFFFFFF) ^ k
    for j in reversed(range(len(key) - body)):  # the tail, as Java's switch falls through
        h ^= key[body + j] << (8 * j)
    if len(key) > body:
        h = (h * m) & 0xFFFFFFFF
    h = ((h ^ (h >> 13)) * m) & 0xFFFFFFFF
    return ((h ^ (h >> 15)) & 0x7FFFFFFF) % partitions


def test_a_row_updated_after_the_hand_over_stays_in_its_inserts_partition(connect_stack: Stack) -> None:
    """A 3-partition topic: rows sent by `produce --envelope debezium` (and by the hand-over), the pipeline handed
    over, every row updated through Debezium. Each update has the key bytes of its row's insert and lands in its partition (before kafkaops
    used murmur2_random, librdkafka's CRC32 put about two thirds of the rows elsewhere than Connect's producer)."""
    env, root = connect_stack.env, connect_stack.root
    url, topic = _logical_stack(connect_stack), "three-" + uuid.uuid4().hex[:6]
    for cmd in (
        ["db", "seed", "300"],
        ["topics", "create", topic, "--partitions", "3", "--replication-factor", "1"],
        ["produce", "--envelope", "debezium", "--topic", topic],
        ["db", "seed", "30"],  # sent by the hand-over itself (its step 3)
        ["cdc", "deploy", "--from-producer", "--topic", topic],
    ):
        res = run_kafkaops(cmd, env, root)
        assert res.returncode == 0, (cmd, res.stderr)
    ids = {row[0] for row in _sql(url, "UPDATE livedb SET note = 'after the hand-over' RETURNING id")}
    where: list[tuple[int, bytes]] = []
    events = _events(connect_stack.broker, topic, lambda ev: ids <= {_row_id(v) for op, v in ev if op == "u"}, where=where)
    sent = {_row_id(v): where[i] for i, (op, v) in enumerate(events) if op == "c" and v["source"]["version"].endswith("-kafkaops")}
    updated = {_row_id(v): where[i] for i, (op, v) in enumerate(events) if op == "u"}
    assert set(sent) == set(updated) == ids and len(ids) >= 330
    assert {i: sent[i][1] for i in ids} == {i: updated[i][1] for i in ids}  # the key bytes JsonConverter writes: {"id":5}
    moved = sorted(i for i in ids if sent[i][0] != updated[i][0])
    assert moved == [], f"{len(moved)} of {len(ids)} rows updated in another partition than their insert, e.g. {moved[:5]}"
    assert all(_java_partition(key, 3) == partition for partition, key in sent.values())
    assert {partition for partition, _key in sent.values()} == {0, 1, 2}
