"""kafkaops produce --exactly-once: SIGKILL at random points over a large backlog, the window between
the Kafka commit and the offset update, the broker stopped mid-run, and a second producer that fences
the first. What a read_committed consumer (kafkaops consume's default) sees: every row exactly once.
Real PostgreSQL, real brokers, real processes."""

from __future__ import annotations

import json
import random
import subprocess
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from kafkaops.adapters.kafka import client_config
from kafkaops.adapters.transactions import TXN_HEADER, transactional_id
from kafkaops.procedures import db
from kafkaops.settings import Settings
from tests.conftest import run_kafkaops
from tests.pg_fixtures import make_pipeline, start_produce, stop_broker_once_past


def row_ids(settings: Settings, topic: str, isolation: str, timeout: float = 120.0) -> Counter[int]:
    """How many times each row id is in the topic, for a consumer with ``isolation``: read from the
    beginning to each partition's end (EOF: the last stable offset under read_committed)."""
    from confluent_kafka import Consumer, KafkaError, TopicPartition

    conf = {"group.id": "t-" + uuid.uuid4().hex, "enable.auto.commit": False, "isolation.level": isolation, "enable.partition.eof": True}
    c = Consumer(client_config(settings, **conf))
    try:
        parts = sorted(c.list_topics(topic, timeout=10).topics[topic].partitions)
        c.assign([TopicPartition(topic, p, 0) for p in parts])
        left, seen = set(parts), Counter[int]()
        deadline = time.monotonic() + timeout
        while left:
            assert time.monotonic() < deadline, f"{topic}: not read to the end in {timeout}s"
            for m in c.consume(10000, timeout=0.5):
                if m.error():
                    if m.error().code() == KafkaError._PARTITION_EOF:
                        left.discard(m.partition())
                    continue
                seen[int(json.loads(m.value())["after"]["id"])] += 1
        return seen
    finally:
        c.close()


def _kill_repeatedly(p: Any, rows: int, kills: int, rng: random.Random, *args: str) -> list[int]:
    """Start produce, let it make progress, SIGKILL it at a random moment; ``kills`` times."""
    killed_at: list[int] = []
    for _ in range(kills):
        before = p.offset()
        if before >= rows:
            break
        proc = start_produce(p, *args)
        deadline = time.monotonic() + 90
        while p.offset() == before and proc.poll() is None:  # it is producing
            assert time.monotonic() < deadline, "no progress"
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.3))
        proc.kill()
        proc.communicate()
        killed_at.append(p.offset())
    return killed_at


def test_sigkill_at_random_points_duplicates_nothing(shared_stack, database_url: str, tmp_path: Path) -> None:
    """10 SIGKILLs over a 100k backlog, then a run to the end: a read_committed reader sees every row
    exactly once (the same kills without --exactly-once: bench/bench_produce_eos.py --kills)."""
    rows, kills = 100_000, 10
    seed = random.randrange(1 << 30)
    p = make_pipeline(shared_stack, database_url, tmp_path, partitions=2)
    db.init(p.settings, demo=True)
    db.seed(p.settings, rows)

    killed_at = _kill_repeatedly(p, rows, kills, random.Random(seed), "--exactly-once", "--batch-size", "1000")
    assert any(0 < k < rows for k in killed_at), f"seed {seed}: never killed mid-run ({killed_at})"
    r = run_kafkaops(["produce", "--exactly-once", "--batch-size", "1000"], p.env, p.root)
    assert r.returncode == 0, r.stderr
    assert p.offset() == rows
    assert p.sql("SELECT exactly_once FROM producer_offsets WHERE id = 1") == [(True,)]

    seen = row_ids(p.settings, p.topic, "read_committed")
    assert sorted(seen) == list(range(1, rows + 1)), f"seed {seed}: rows missing"
    duplicates = sum(n - 1 for n in seen.values())
    aborted = sum(row_ids(p.settings, p.topic, "read_uncommitted").values()) - rows
    print(f"exactly-once, seed {seed}: killed at {killed_at}; {duplicates} duplicates read_committed, {aborted} aborted events read_uncommitted")
    assert duplicates == 0, f"seed {seed}: {duplicates} duplicates"


def test_the_window_between_the_kafka_commit_and_the_offset_update(shared_stack, database_url: str, tmp_path: Path) -> None:
    """A run that died after Kafka committed its transaction but before the offset moved (made here
    exactly: the transaction is committed with the pipeline's own transactional.id and header): the
    next run moves the offset to the transaction's end and re-sends nothing."""
    from confluent_kafka import Producer

    p = make_pipeline(shared_stack, database_url, tmp_path, partitions=2)
    db.init(p.settings, demo=True)
    db.seed(p.settings, 3000)
    r = run_kafkaops(["produce", "--exactly-once", "--max-rows", "1000"], p.env, p.root)
    assert r.returncode == 0, r.stderr
    (token,) = p.sql("SELECT txn_token FROM producer_offsets WHERE id = 1")[0]
    values = p.sql("SELECT id, row_to_json(l)::text FROM livedb l WHERE id > 1000 AND id <= 1500 ORDER BY id")

    producer = Producer(client_config(p.settings, **{"transactional.id": transactional_id("public.livedb", p.topic)}))
    producer.init_transactions(30)
    producer.begin_transaction()
    for row_id, after in values:
        producer.produce(p.topic, f'{{"after":{after}}}', str(row_id), headers=[(TXN_HEADER, f"{token}:1000:1500".encode())])
    producer.commit_transaction(30)
    assert p.offset() == 1000  # the row still says 1000: the crash window

    r = run_kafkaops(["produce", "--exactly-once"], p.env, p.root)
    assert r.returncode == 0, r.stderr
    assert "was committed in Kafka; offset moved to 1500, nothing re-sent" in r.stderr, r.stderr
    assert p.offset() == 3000
    seen = row_ids(p.settings, p.topic, "read_committed")
    assert sorted(seen) == list(range(1, 3001)) and set(seen.values()) == {1}

    db.seed(p.settings, 10)  # the same pipeline without the flag: allowed, and said
    r = run_kafkaops(["produce"], p.env, p.root)
    assert r.returncode == 0, r.stderr
    assert f"public.livedb -> {p.topic} ran with --exactly-once before; this run is at-least-once" in r.stderr, r.stderr


def test_a_newer_producer_fences_the_running_one(shared_stack, database_url: str, tmp_path: Path) -> None:
    """A second producer with the pipeline's transactional.id (a newer run whose database session does
    not see the first one's lock, e.g. after a network split) fences the running one: it stops with
    exit 5 and says why; a rerun finishes with every row once."""
    from confluent_kafka import Producer

    rows = 200_000
    p = make_pipeline(shared_stack, database_url, tmp_path)
    db.init(p.settings, demo=True)
    db.seed(p.settings, rows)
    proc = start_produce(p, "--exactly-once", "--batch-size", "50")
    deadline = time.monotonic() + 90
    while p.offset() < 1000:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    newer = Producer(client_config(p.settings, **{"transactional.id": transactional_id("public.livedb", p.topic)}))
    newer.init_transactions(60)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 5, err
    assert "this producer was fenced: another producer with transactional.id kafkaops-public.livedb-" in err, err
    assert "Traceback" not in err
    stopped_at = p.offset()
    assert stopped_at < rows

    r = run_kafkaops(["produce", "--exactly-once"], p.env, p.root, timeout=300)
    assert r.returncode == 0, r.stderr
    seen = row_ids(p.settings, p.topic, "read_committed")
    assert sorted(seen) == list(range(1, rows + 1)) and set(seen.values()) == {1}


def test_broker_stopped_mid_run(running_stack, database_url: str, tmp_path: Path) -> None:
    """The broker goes away during an exactly-once run: exit 4 with a clear message; once it is back,
    a rerun ends with every row exactly once for a read_committed reader."""
    from kafkaops.adapters import processes
    from kafkaops.procedures import services

    rows = 100_000
    p = make_pipeline(running_stack, database_url, tmp_path)
    db.init(p.settings, demo=True)
    db.seed(p.settings, rows)
    proc = start_produce(p, "--exactly-once", "--batch-size", "50", "--delivery-timeout", "10")
    broker_pid = stop_broker_once_past(p, proc, 1000, within=90)
    _, err = proc.communicate(timeout=120)
    print(f"exit {proc.returncode}: {err}")
    assert proc.returncode == 4, err
    assert "rerun `kafkaops produce --exactly-once`" in err, err
    assert "Traceback" not in err
    stopped_at = p.offset()
    assert 1000 <= stopped_at < rows
    assert processes.wait_exit(broker_pid, None, 60)

    services.up(p.settings)
    r = run_kafkaops(["produce", "--exactly-once"], p.env, p.root, timeout=300)
    assert r.returncode == 0, r.stderr
    assert p.offset() == rows
    seen = row_ids(p.settings, p.topic, "read_committed")
    assert sorted(seen) == list(range(1, rows + 1)) and set(seen.values()) == {1}


def test_consume_isolation_agrees_with_the_jvm_console_consumer(shared_stack, kafka_home: Path) -> None:
    """One aborted and one committed transaction: kafkaops consume shows the committed events only by
    default and all of them with --isolation read_uncommitted; Kafka's console consumer agrees at
    each level (its own default is read_uncommitted)."""
    from confluent_kafka import Producer

    from kafkaops.procedures.topics import ensure_topic
    from tests.integration.test_consume import jvm_tool

    topic = "eos-consume-" + uuid.uuid4().hex[:8]
    ensure_topic(shared_stack.settings, topic, 1, 1)
    producer = Producer(client_config(shared_stack.settings, **{"transactional.id": "t-" + uuid.uuid4().hex}))
    producer.init_transactions(30)
    for values, commit in ((["a1", "a2"], False), (["c1", "c2", "c3"], True)):  # aborted first: a reader that stops after 3 has skipped it
        producer.begin_transaction()
        for v in values:
            producer.produce(topic, v.encode())
        producer.flush(30)
        (producer.commit_transaction if commit else producer.abort_transaction)(30)

    def ours(*args: str) -> list[str]:
        r = run_kafkaops(["consume", topic, "--from-beginning", "--exit-at-end", "--format", "raw", *args], shared_stack.env, shared_stack.root)
        assert r.returncode == 0, r.stderr
        return r.stdout.split()

    def jvm(level: str, count: int) -> list[str]:
        args = ("--bootstrap-server", shared_stack.broker, "--topic", topic, "--from-beginning", "--max-messages", str(count), "--isolation-level", level)
        r = subprocess.run(
            [*jvm_tool(kafka_home, "org.apache.kafka.tools.consumer.ConsoleConsumer"), *args, "--timeout-ms", "20000"],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=120,
            env=shared_stack.env,
        )
        return r.stdout.split()

    assert ours() == ours("--isolation", "read_committed") == ["c1", "c2", "c3"]
    assert ours("--isolation", "read_uncommitted") == ["a1", "a2", "c1", "c2", "c3"]
    assert jvm("read_committed", 3) == ["c1", "c2", "c3"]
    assert jvm("read_uncommitted", 5) == ["a1", "a2", "c1", "c2", "c3"]


def test_a_role_that_cannot_add_the_columns_gets_one_clear_message(shared_stack, database_url: str, tmp_path: Path) -> None:
    """The first exactly-once run adds two columns to producer_offsets; a role that may write offsets
    but not alter the table gets exit 3 naming the fix, and the offset is untouched."""
    from urllib.parse import urlsplit, urlunsplit

    p = make_pipeline(shared_stack, database_url, tmp_path)
    db.init(p.settings, demo=True)
    db.seed(p.settings, 10)
    role = "writer_" + uuid.uuid4().hex[:8]
    p.sql(f"CREATE ROLE {role} LOGIN PASSWORD 'pw-{role}'")
    p.sql(f"GRANT SELECT, INSERT, UPDATE ON producer_offsets TO {role}")
    p.sql(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role}")
    p.sql(f"GRANT SELECT ON livedb TO {role}")
    parts = urlsplit(database_url)
    env = {**p.env, "DATABASE_URL": urlunsplit(parts._replace(netloc=f"{role}:pw-{role}@{parts.hostname}:{parts.port}"))}

    r = run_kafkaops(["produce", "--exactly-once"], env, p.root)
    assert r.returncode == 3, r.stderr
    assert "cannot add the column exactly_once that --exactly-once needs to producer_offsets: " in r.stderr, r.stderr
    assert "run `kafkaops produce --exactly-once` once as the owner of producer_offsets" in r.stderr
    assert f"pw-{role}" not in r.stderr and "Traceback" not in r.stderr
    assert p.offset() == 0


def test_a_fenced_tracker_stops_as_fenced_when_poll_learns_it(shared_stack) -> None:
    """confluent-kafka raises a fatal error (fenced, here) from poll() instead of handing it to error_cb. The run
    learns of the fence in send()'s poll or from produce()'s _FATAL; either way it stops as fenced (FencedError,
    exit 5), never with the raw KafkaException (CI saw 'unexpected KafkaException ... _FENCED', exit 1)."""
    from types import SimpleNamespace

    from confluent_kafka import Producer

    from kafkaops.adapters import transactions as txn
    from kafkaops.procedures.produce.delivery import Batch
    from kafkaops.procedures.produce.exactly_once import TransactionalTracker
    from kafkaops.procedures.topics import ensure_topic

    s = shared_stack.settings
    topic, tid = "fence-" + uuid.uuid4().hex[:10], "kafkaops-test-fence-" + uuid.uuid4().hex[:10]
    ensure_topic(s, topic, 1, 1)
    transactions = txn.Transactions(s, tid, 30.0)
    transactions.open(1_000_000)
    committer = SimpleNamespace(commit=lambda batch: None, token="t", committed=0)  # the offset side is not reached
    tracker = TransactionalTracker(committer, transactions, topic=topic, table="public.t", broker=s.kafka_broker, delivery_timeout=30.0)  # type: ignore[arg-type]
    rows = [(str(i), None, b"{}") for i in range(50)]
    tracker.send(Batch(50, None, 50), rows)
    Producer(client_config(s, **{"transactional.id": tid})).init_transactions(30)  # fences the tracker's producer

    sent, deadline = 1, time.monotonic() + 30
    with pytest.raises(txn.FencedError, match=f"transactional.id {tid}"):
        while time.monotonic() < deadline:  # each send's produce or poll may be the call that learns of the fence
            tracker.send(Batch(50 * (sent + 1), None, 50), rows)
            sent += 1
    assert time.monotonic() < deadline, f"{sent} batches sent after the fence and none stopped"
