"""kafkaops reset against a real ZooKeeper and broker holding real messages (each test its own stack).

What a user would check: the exit code, the order things stopped in, which files are left on disk
(sentinels next to the data folders and in their parents), that the next start works with a new
cluster id and an empty topic, and that the backups hold the data.
"""

from __future__ import annotations

import json
import socket
import tarfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from kafkaops.errors import RefusedError
from kafkaops.procedures import reset, services
from kafkaops.settings import Settings
from tests.conftest import Stack, run_kafkaops

PARTITION_LOG = "db_live_events-0/00000000000000000000.log"


def _produce(settings: Settings, n: int, topic: str | None = None) -> None:
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": settings.kafka_broker, "enable.idempotence": True})
    for i in range(n):
        p.produce(topic or settings.kafka_topic, key=str(i), value=json.dumps({"n": i}))
    assert p.flush(30) == 0


def _messages(settings: Settings, topic: str, timeout: float = 20.0) -> list[bytes]:
    """Every message in partition 0, read from the beginning up to the end offset seen now."""
    import time

    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": settings.kafka_broker, "group.id": f"t-{uuid.uuid4()}", "enable.auto.commit": False})
    try:
        low, high = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
        c.assign([TopicPartition(topic, 0, low)])
        got: list[bytes] = []
        deadline = time.monotonic() + timeout
        while low + len(got) < high:
            assert time.monotonic() < deadline, f"read {len(got)} of {high - low} messages"
            msg = c.poll(0.5)
            if msg is not None and msg.error() is None:
                got.append(msg.value())
        return got
    finally:
        c.close()


def _cluster_id(log_dir: Path) -> str:
    meta = services.read_meta_properties(log_dir)
    assert meta and meta.get("cluster.id"), f"no cluster id in {log_dir}"
    return meta["cluster.id"]


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def _with_data(stack: Stack, n: int = 5) -> str:
    """Messages in the pipeline topic; the broker's cluster id."""
    _produce(stack.settings, n)
    assert len(_messages(stack.settings, stack.settings.kafka_topic)) == n
    assert (stack.log_dir / PARTITION_LOG).stat().st_size > 0
    return _cluster_id(stack.log_dir)


def test_the_plan_and_a_dry_run_delete_nothing_and_leave_the_stack_running(running_stack: Stack) -> None:
    stack = running_stack
    _with_data(stack)
    before_logs, before_zk = _files(stack.log_dir), _files(stack.zk_data)

    plan = run_kafkaops(["reset"], stack.env, stack.root)
    assert plan.returncode == 5, plan.stderr
    assert "error: nothing was deleted: a reset needs --confirm" in plan.stderr
    kafka_pid = services.read_pid(stack.settings, services.KAFKA).pid  # type: ignore[union-attr]
    assert f"  1. Kafka broker  running, pid {kafka_pid} (port {stack.broker_port})\n" in plan.stdout
    assert f"  kafka log dir      {stack.log_dir}  " in plan.stdout
    assert "  - every topic and message (topics on disk: db_live_events)\n" in plan.stdout

    dry = run_kafkaops(["reset", "--dry-run"], stack.env, stack.root)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith("kafkaops reset plan (nothing has been deleted)\n")

    assert before_logs <= _files(stack.log_dir) and before_zk <= _files(stack.zk_data)
    assert services.status(stack.settings).up
    assert len(_messages(stack.settings, stack.settings.kafka_topic)) == 5
    assert not (stack.root / "ops" / "reset-audit.log").exists()


def test_confirm_yes_stops_in_order_and_empties_exactly_the_configured_folders(running_stack: Stack) -> None:
    stack = running_stack
    old_cluster = _with_data(stack)
    sentinels = [stack.log_dir.parent / "next-to-both.txt", stack.root / "in-the-grandparent.txt", stack.root / "conf" / "mine.txt"]
    for s in sentinels:
        s.write_text("sentinel")
    configs = {p: p.read_text() for p in (stack.root / "conf").glob("*.properties")}

    res = run_kafkaops(["reset", "--confirm", "--yes"], stack.env, stack.root)

    assert res.returncode == 0, res.stderr
    err = res.stderr
    assert err.index("stopping the Kafka broker (pid") < err.index("stopping ZooKeeper (pid") < err.index("emptying kafka log dir")
    assert "✓ Kafka broker stopped cleanly in " in err
    # The broker logged its clean shutdown, which it can only finish while ZooKeeper still runs.
    assert services.SHUTDOWN_LINE in (stack.root / "ops" / "logs" / "kafka" / "server.log").read_text()
    assert stack.log_dir.is_dir() and list(stack.log_dir.iterdir()) == []
    assert stack.zk_data.is_dir() and list(stack.zk_data.iterdir()) == []
    assert all(s.read_text() == "sentinel" for s in sentinels)
    assert {p: p.read_text() for p in configs} == configs
    assert (stack.root / "ops" / "logs" / "kafka" / "server.log").exists()
    [audit] = [json.loads(line) for line in (stack.root / "ops" / "reset-audit.log").read_text().splitlines()]
    assert audit["outcome"] == "done"
    assert [d["path"] for d in audit["deleted"]] == [str(stack.log_dir.resolve()), str(stack.zk_data.resolve())]
    assert audit["deleted"][0]["files"] > 0 and audit["deleted"][0]["size_bytes"] > 0

    up = services.up(stack.settings)  # a new cluster: no cluster id mismatch, the topic created anew
    assert up.topic is not None and up.topic.created  # type: ignore[attr-defined]
    assert _cluster_id(stack.log_dir) != old_cluster
    assert _messages(stack.settings, stack.settings.kafka_topic) == []


@contextmanager
def _listener(port: int) -> Iterator[socket.socket]:
    """A plain process (this one) listening on a port, as a foreign broker or ZooKeeper would."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen()
        yield sock


def test_a_foreign_process_on_the_broker_port_is_refused(running_stack: Stack) -> None:
    stack = running_stack
    _with_data(stack)
    services.down(stack.settings)
    plan_before = reset.build_plan(stack.settings, cwd=stack.root)  # nothing on the ports yet
    assert plan_before.refusals == []

    with _listener(stack.broker_port):
        res = run_kafkaops(["reset", "--confirm", "--yes"], stack.env, stack.root)
        assert res.returncode == 5, res.stderr
        assert f"Kafka broker: port {stack.broker_port} is held by pid " in res.stderr
        assert "which kafkaops did not start" in res.stderr
        # The squatter turning up between the plan and the stop: `down` itself refuses to go on.
        with pytest.raises(RefusedError, match=rf"a broker kafkaops did not start is still running on port {stack.broker_port}"):
            reset.execute(stack.settings, plan_before, cwd=stack.root)

    # A ZooKeeper kafkaops did not start, turning up after the plan: caught after the stop.
    with _listener(stack.zk_port):
        with pytest.raises(RefusedError, match=rf"port {stack.zk_port} \(ZooKeeper\) is still held by pid "):
            reset.execute(stack.settings, plan_before, cwd=stack.root)

    assert (stack.log_dir / "meta.properties").exists() and (stack.log_dir / PARTITION_LOG).stat().st_size > 0
    assert (stack.zk_data / "version-2").is_dir()
    outcomes = [json.loads(line)["outcome"] for line in (stack.root / "ops" / "reset-audit.log").read_text().splitlines()]
    assert outcomes == ["refused", "refused", "refused"]


def test_backup_writes_archives_that_hold_the_data(running_stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> None:
    stack = running_stack
    cluster = _with_data(stack)
    size = (stack.log_dir / PARTITION_LOG).stat().st_size
    backups = tmp_path_factory.mktemp("backups")

    res = run_kafkaops(["reset", "--confirm", "--yes", "--backup", str(backups)], stack.env, stack.root)

    assert res.returncode == 0, res.stderr
    kafka_archive, zk_archive = sorted(backups.iterdir())
    assert kafka_archive.name.endswith("-kafka-logs-0.tar.gz") and zk_archive.name.endswith("-zookeeper-data.tar.gz")
    assert f"✓ backed up {stack.log_dir.resolve()} to {kafka_archive} (" in res.stderr
    with tarfile.open(kafka_archive) as tar:
        assert tar.getmember(PARTITION_LOG).size == size
        meta = tar.extractfile("meta.properties")
        assert meta is not None and f"cluster.id={cluster}" in meta.read().decode()
    with tarfile.open(zk_archive) as tar:
        assert tar.getmember("version-2").isdir()
        assert any(n.startswith("version-2/log.") for n in tar.getnames())
    assert list(stack.log_dir.iterdir()) == []
    [audit] = [json.loads(line) for line in (stack.root / "ops" / "reset-audit.log").read_text().splitlines()]
    assert [b["archive"] for b in audit["backups"]] == [str(kafka_archive), str(zk_archive)]


def test_restart_leaves_a_working_empty_pipeline(running_stack: Stack) -> None:
    stack = running_stack
    old_cluster = _with_data(stack)

    res = run_kafkaops(["reset", "--confirm", "--yes", "--restart"], stack.env, stack.root)

    assert res.returncode == 0, res.stderr
    assert "✓ stack restarted; topic db_live_events created\n" in res.stderr
    assert services.status(stack.settings).up
    assert _cluster_id(stack.log_dir) != old_cluster
    _produce(stack.settings, 1)
    assert _messages(stack.settings, stack.settings.kafka_topic) == [json.dumps({"n": 0}).encode()]


def test_reset_producer_offset_rewinds_and_the_next_produce_sends_every_row_again(running_stack: Stack, database_url: str) -> None:
    stack = running_stack
    env = {**stack.env, "DATABASE_URL": database_url}
    for args in (["db", "init", "--demo"], ["db", "seed", "7"], ["produce"]):
        res = run_kafkaops(args, env, stack.root)
        assert res.returncode == 0, (args, res.stderr)
    assert len(_messages(stack.settings, stack.settings.kafka_topic)) == 7

    res = run_kafkaops(["reset", "--confirm", "--yes", "--reset-producer-offset", "--restart"], env, stack.root)

    assert res.returncode == 0, res.stderr
    assert (
        "  - rewind the producer offset of public.livedb -> db_live_events (last_id 7) to last_id 0, last_created_at 1970-01-01: "
        "every livedb row will be sent again (other pipelines keep theirs)\n"
    ) in res.stdout
    assert (
        "warning: producer offset of public.livedb -> db_live_events rewound from last_id 7 to 0: every livedb row will be sent again at the next produce"
        in res.stderr
    )
    import psycopg

    with psycopg.connect(database_url) as conn:
        last_id, last_created_at = conn.execute("SELECT last_id, last_created_at FROM producer_offsets WHERE id = 1").fetchone()
    assert last_id == 0 and last_created_at.year == 1970
    [audit] = [json.loads(line) for line in (stack.root / "ops" / "reset-audit.log").read_text().splitlines()]
    assert audit["offset_rewound"] is True and audit["offset_before"] == {"pipeline": "public.livedb -> db_live_events", "last_id": 7}
    assert _messages(stack.settings, stack.settings.kafka_topic) == []

    again = run_kafkaops(["produce"], env, stack.root)
    assert again.returncode == 0, again.stderr
    events = [json.loads(v) for v in _messages(stack.settings, stack.settings.kafka_topic)]
    assert sorted(e["after"]["id"] if "after" in e else e["id"] for e in events) == list(range(1, 8))


def test_a_real_brokers_and_zookeepers_data_is_recognised_and_a_users_file_in_it_is_not(running_stack: Stack) -> None:
    """What a real broker and ZooKeeper wrote (a deleted topic, a committed group, internal topics) is accepted as
    theirs; a file a user dropped into the log dir stops the reset until it is named, then everything goes."""
    import time

    from confluent_kafka import Consumer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic

    stack = running_stack
    _with_data(stack)
    admin = AdminClient({"bootstrap.servers": stack.settings.kafka_broker})
    admin.create_topics([NewTopic("gone", 2, 1)])["gone"].result(30)
    _produce(stack.settings, 3, topic="gone")
    admin.delete_topics(["gone"])["gone"].result(30)  # leaves gone-N.<id>-delete folders for a minute
    consumer = Consumer({"bootstrap.servers": stack.settings.kafka_broker, "group.id": "g", "auto.offset.reset": "earliest"})
    consumer.commit(offsets=[TopicPartition(stack.settings.kafka_topic, 0, 2)], asynchronous=False)
    consumer.close()
    deadline = time.monotonic() + 30  # the broker renames a deleted topic's folders a moment later
    while not any(p.name.endswith("-delete") for p in stack.log_dir.iterdir()):
        assert time.monotonic() < deadline, sorted(p.name for p in stack.log_dir.iterdir() if not p.name.startswith("__"))
        time.sleep(0.2)
    names = {p.name for p in stack.log_dir.iterdir()}
    assert {"meta.properties", "__consumer_offsets-0", "db_live_events-0"} <= names, names

    dry = run_kafkaops(["reset", "--dry-run", "--json"], stack.env, stack.root)
    assert dry.returncode == 0, dry.stderr
    plan = json.loads(dry.stdout)["plan"]
    assert [(d["role"], d["looks_like_data"], d["foreign_count"], d["refusal"]) for d in plan["dirs"]] == [
        ("kafka log dir", True, 0, None),
        ("ZooKeeper dataDir", True, 0, None),
    ]

    (stack.log_dir / "notes.txt").write_text("mine")
    refused = run_kafkaops(["reset", "--confirm", "--yes"], stack.env, stack.root)
    assert refused.returncode == 5, refused.stderr
    assert refused.stderr.startswith(
        f"error: reset refused: kafka log dir {stack.log_dir} holds 1 entry Kafka and ZooKeeper never write: notes.txt\nhint: {reset.FOREIGN_HINT}\n"
    )
    assert services.status(stack.settings).up  # refused before stopping anything
    assert (stack.log_dir / "notes.txt").read_text() == "mine" and (stack.log_dir / PARTITION_LOG).exists()

    res = run_kafkaops(["reset", "--confirm", "--yes", "--force-path", str(stack.log_dir / "notes.txt")], stack.env, stack.root)
    assert res.returncode == 0, res.stderr
    assert list(stack.log_dir.iterdir()) == [] and list(stack.zk_data.iterdir()) == []


def test_reset_producer_offset_with_a_producer_running_says_so_and_how_to_stop_it(running_stack: Stack, database_url: str) -> None:
    """Issue 11 item 18: the refusal suggested fixing DATABASE_URL while the database answered fine."""
    import signal
    import subprocess
    import sys
    import time

    import psycopg

    stack = running_stack
    env = {**stack.env, "DATABASE_URL": database_url}
    for args in (["db", "init", "--demo"], ["db", "seed", "5"]):
        res = run_kafkaops(args, env, stack.root)
        assert res.returncode == 0, (args, res.stderr)
    producer = subprocess.Popen(
        [sys.executable, "-m", "kafkaops", "produce", "--follow", "--interval", "0.2"],
        env=env,
        cwd=stack.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            with psycopg.connect(database_url) as conn:
                if conn.execute("SELECT last_id FROM producer_offsets WHERE id = 1").fetchone()[0] == 5:
                    break
            assert producer.poll() is None, producer.communicate()
            assert time.monotonic() < deadline, "the producer sent nothing"
            time.sleep(0.2)

        res = run_kafkaops(["reset", "--dry-run", "--reset-producer-offset"], env, stack.root)

        assert res.returncode == 5, res.stderr
        lines = res.stderr.splitlines()
        assert lines[0].startswith(f"error: reset refused: --reset-producer-offset: a producer is running for public.livedb -> {stack.settings.kafka_topic}"), (
            res.stderr
        )
        assert lines[1:] == [
            f"hint: stop that `kafkaops produce` (table public.livedb, topic {stack.settings.kafka_topic}) first: Ctrl+C in its terminal (or end its process), then rerun",
            "see: kafkaops runbook reset what-kafkaops-does",
        ], res.stderr
        assert "DATABASE_URL" not in res.stdout + res.stderr
    finally:
        producer.send_signal(signal.SIGINT)
        producer.communicate(timeout=60)
    assert (stack.log_dir / PARTITION_LOG).stat().st_size > 0


def _hold_producer_lock(database_url: str) -> object:
    """A database session holding the default pipeline's producer lock, the way `kafkaops produce` holds it."""
    import zlib

    import psycopg

    conn = psycopg.connect(database_url, autocommit=True)
    key = zlib.crc32(b"kafkaops produce producer_offsets") - 2**31  # row id=1's key, before and after positions per pipeline
    assert conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0]
    return conn


def test_a_producer_that_starts_after_the_plan_stops_the_reset_before_anything_is_deleted(running_stack: Stack, database_url: str) -> None:
    stack = running_stack
    env = {**stack.env, "DATABASE_URL": database_url}
    for args in (["db", "init", "--demo"], ["db", "seed", "7"], ["produce"]):
        res = run_kafkaops(args, env, stack.root)
        assert res.returncode == 0, (args, res.stderr)
    from kafkaops.settings import load_settings

    settings = load_settings(env=env, cwd=stack.root)
    assert (stack.log_dir / PARTITION_LOG).stat().st_size > 0
    before = _files(stack.log_dir)
    plan = reset.build_plan(settings, reset_producer_offset=True)
    assert plan.refusals == [] and plan.offset_before is not None and plan.offset_before["last_id"] == 7

    producer = _hold_producer_lock(database_url)  # a `produce --follow` starts between the plan and the reset
    try:
        with pytest.raises(RefusedError) as caught:
            reset.execute(settings, plan)
    finally:
        producer.close()

    assert caught.value.exit_code == 5
    assert caught.value.message.startswith("a producer is running for public.livedb -> db_live_events (database session pid ")
    assert caught.value.message.endswith("it holds that pipeline's producer lock; nothing was stopped or deleted")
    assert "DATABASE_URL" not in (caught.value.hint or "")
    assert _files(stack.log_dir) == before  # nothing deleted
    assert services.status(stack.settings).up  # nothing stopped
    import psycopg

    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT last_id FROM producer_offsets WHERE id = 1").fetchone() == (7,)


def test_reset_refuses_while_a_producer_runs_and_says_so(running_stack: Stack, database_url: str) -> None:
    stack = running_stack
    env = {**stack.env, "DATABASE_URL": database_url}
    assert run_kafkaops(["db", "init", "--demo"], env, stack.root).returncode == 0
    before = _files(stack.log_dir)
    producer = _hold_producer_lock(database_url)
    try:
        res = run_kafkaops(["reset", "--confirm", "--yes", "--reset-producer-offset"], env, stack.root)
    finally:
        producer.close()

    assert res.returncode == 5, res.stderr
    assert "error: reset refused: --reset-producer-offset: a producer is running for public.livedb -> db_live_events" in res.stderr
    assert "hint: stop that `kafkaops produce`" in res.stderr
    assert "DATABASE_URL" not in res.stderr
    assert _files(stack.log_dir) == before
