"""Shared fixtures: a real Kafka installation, free ports, and stacks started through kafkaops itself.

Nothing here mocks ZooKeeper, Kafka or PostgreSQL. When the Kafka installation cannot be had, the
integration tests fail (they never skip).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kafkaops.adapters.javaprops import write_properties
from kafkaops.settings import DEFAULT_KAFKA_VERSION, Settings, load_settings

REPO = Path(__file__).resolve().parent.parent
pytest_plugins = ["tests.pg_fixtures", "tests.secure_broker", "tests.kraft_fixtures", "tests.connect_fixtures"]

# A user's own profiles.toml (and its default profile) must not reach the tests: settings built from an
# explicit environment fall back to the platform's config folder, which follows XDG_CONFIG_HOME on Linux.
os.environ["XDG_CONFIG_HOME"] = str(Path(__import__("tempfile").mkdtemp(prefix="kafkaops-test-config-")))
os.environ.pop("KAFKAOPS_CONFIG_DIR", None)
os.environ.pop("KAFKAOPS_PROFILE", None)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The integration marker comes from the folder: every test under tests/integration/ needs real services."""
    integration = REPO / "tests" / "integration"
    for item in items:
        if integration in item.path.parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def kafka_home() -> Path:
    """A real Kafka installation: KAFKAOPS_TEST_KAFKA_HOME, or one installed now with `kafkaops install`."""
    explicit = os.environ.get("KAFKAOPS_TEST_KAFKA_HOME")
    if explicit:
        home = Path(explicit)
        assert any((home / "libs").glob("kafka_2.*.jar")), f"KAFKAOPS_TEST_KAFKA_HOME={home} is not a Kafka installation"
        return home
    ops_home = Path(os.environ.get("KAFKAOPS_TEST_HOME", Path.home() / ".cache" / "kafkaops-test"))
    from kafkaops.procedures.install import install

    result = install(dists_dir=ops_home / "kafka", data_dir=ops_home / "data", version=DEFAULT_KAFKA_VERSION)
    return result.kafka_home


@dataclass
class Stack:
    """A stack's files and settings: configs on free ports in a temporary folder."""

    root: Path
    env: dict[str, str]
    zk_port: int
    broker_port: int
    log_dir: Path
    zk_data: Path

    @property
    def settings(self) -> Settings:
        return load_settings(env=self.env, cwd=self.root)

    @property
    def broker(self) -> str:
        return f"localhost:{self.broker_port}"


def make_stack(root: Path, kafka_home: Path, **server_overrides: str) -> Stack:
    zk_port, broker_port = free_port(), free_port()
    conf = root / "conf"
    log_dir, zk_data = root / "data" / "kafka-logs", root / "data" / "zookeeper"
    write_properties(
        conf / "zookeeper.properties",
        {"dataDir": str(zk_data), "clientPort": str(zk_port), "admin.enableServer": "false", "maxClientCnxns": "0"},
    )
    server = {
        "broker.id": "0",
        "listeners": f"PLAINTEXT://localhost:{broker_port}",
        "advertised.listeners": f"PLAINTEXT://localhost:{broker_port}",
        "log.dirs": str(log_dir),
        "zookeeper.connect": f"localhost:{zk_port}",
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "false",
    }
    server.update(server_overrides)
    write_properties(conf / "server.properties", server)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", str(root)),
        "KAFKA_HOME": str(kafka_home),
        "KAFKAOPS_HOME": str(root / "ops"),
        "KAFKAOPS_CONFIG_DIR": str(root / "config"),  # the test's own profiles.toml, never the user's
        "KAFKAOPS_SERVER_PROPERTIES": str(conf / "server.properties"),
        "KAFKAOPS_ZOOKEEPER_PROPERTIES": str(conf / "zookeeper.properties"),
        "KAFKA_BROKER": f"localhost:{broker_port}",
        "ZOOKEEPER_CONNECT": f"localhost:{zk_port}",
        "KAFKAOPS_KAFKA_HEAP": "384m",
        "KAFKAOPS_ZOOKEEPER_HEAP": "128m",
        "KAFKAOPS_START_TIMEOUT": "90",
        # Stacks need no database unless a test asks for one (the embedded one has its own test).
        "KAFKAOPS_EMBEDDED_DB": "off",
    }
    if os.environ.get("JAVA_HOME"):
        env["JAVA_HOME"] = os.environ["JAVA_HOME"]
    return Stack(root, env, zk_port, broker_port, log_dir, zk_data)


def teardown_stack(stack: Stack) -> None:
    """Stop whatever a test left running: cleanly if possible, then by force."""
    import shutil

    from kafkaops.adapters import embedded_pg, processes
    from kafkaops.errors import KafkaopsError
    from kafkaops.procedures import services

    settings = stack.settings.with_overrides(stop_timeout=30.0)
    try:
        services.down(settings, force=True)
    except KafkaopsError:
        pass
    for svc in (services.KAFKA, services.ZOOKEEPER):
        rec = services.read_pid(settings, svc)
        if rec and services.live_process(rec):
            processes.kill(rec.pid)
    try:
        embedded_pg.stop(settings)
    except KafkaopsError:
        pass
    # An embedded PostgreSQL started as root keeps its data outside the (0700) temporary home.
    shutil.rmtree(embedded_pg.shared_dir(settings), ignore_errors=True)


@pytest.fixture
def stack(tmp_path: Path, kafka_home: Path) -> Iterator[Stack]:
    """Configs for a fresh stack (not started)."""
    s = make_stack(tmp_path, kafka_home)
    yield s
    teardown_stack(s)


@pytest.fixture
def running_stack(stack: Stack) -> Stack:
    """A fresh stack, started with kafkaops up (the topic included)."""
    from kafkaops.procedures import services

    services.up(stack.settings)
    return stack


@pytest.fixture(scope="session")
def shared_stack(tmp_path_factory: pytest.TempPathFactory, kafka_home: Path) -> Iterator[Stack]:
    """One running stack shared by tests that only need a broker (topics, produce, consume)."""
    from kafkaops.procedures import services

    s = make_stack(tmp_path_factory.mktemp("shared-stack"), kafka_home)
    services.up(s.settings)
    yield s
    teardown_stack(s)


def run_kafkaops(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 180, input: str | None = None) -> subprocess.CompletedProcess[str]:
    """kafkaops as a user runs it: a real process, no terminal."""
    return subprocess.run(
        [sys.executable, "-m", "kafkaops", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
    )


def start_kafkaops(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    """kafkaops running in the background as a user starts it: no terminal, stdout and stderr piped."""
    return subprocess.Popen(  # noqa: S603 - kafkaops itself
        [sys.executable, "-m", "kafkaops", *args], env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True
    )
