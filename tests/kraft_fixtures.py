"""A Kafka 4.x KRaft node started BY HAND: exactly "a cluster kafkaops did not start".

Nothing of kafkaops starts it. The runtime classpath of ``org.apache.kafka:kafka_2.13`` and
``kafka-tools`` (plus a log4j2 backend: without one Kafka writes no log line) is resolved once with
``mvn dependency:copy-dependencies`` into KAFKAOPS_TEST_HOME/kafka4/<version>/libs and reused; each node
gets its own config on free ports, is formatted with ``kafka.tools.StorageTool`` and started with
``java -cp libs/* kafka.Kafka server.properties``; the fixture waits for the started line and stops the
JVM at teardown.

Loaded from tests/conftest.py (``pytest_plugins``). ``KAFKAOPS_TEST_KAFKA4_VERSION`` picks another
4.x release (4.4.0 by default; it starts on Java 17 here).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.integration.test_kraft import KraftStack

KAFKA4_VERSION = os.environ.get("KAFKAOPS_TEST_KAFKA4_VERSION", "4.4.0")
LOG4J_VERSION = "2.24.3"
SLF4J_VERSION = "2.0.16"  # log4j-slf4j2-impl binds to the SLF4J 2 API only; Kafka's POM brings 1.7.36
STARTED = "Kafka Server started (kafka.server.KafkaRaftServer)"

POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>kafkaops.test</groupId>
  <artifactId>kraft-node</artifactId>
  <version>1</version>
  <dependencies>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId><version>{slf4j}</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>{kafka}</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>{kafka}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j2-impl</artifactId><version>{log4j}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>{log4j}</version></dependency>
  </dependencies>
</project>
"""

LOG4J2 = """Configuration:
  Appenders:
    File:
      name: FILE
      fileName: "{log}"
      PatternLayout:
        Pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: INFO
      AppenderRef:
        - ref: FILE
"""


def kraft_distribution(version: str = KAFKA4_VERSION) -> Path:
    """A folder with libs/ holding Kafka ``version``'s runtime classpath (resolved once with Maven, then reused)."""
    base = Path(os.environ.get("KAFKAOPS_TEST_HOME", Path.home() / ".cache" / "kafkaops-test")) / "kafka4" / version
    libs = base / "libs"
    marker = base / "resolved"
    if marker.is_file() and (libs / f"kafka_2.13-{version}.jar").is_file():
        return base
    base.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="resolve-", dir=base))
    try:
        (work / "pom.xml").write_text(POM.format(kafka=version, log4j=LOG4J_VERSION, slf4j=SLF4J_VERSION), encoding="utf-8")
        out = work / "libs"
        proc = subprocess.run(
            ["mvn", "-q", "-B", "dependency:copy-dependencies", "-DincludeScope=runtime", f"-DoutputDirectory={out}"],
            cwd=work,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert proc.returncode == 0, f"mvn could not resolve Kafka {version}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        assert (out / f"kafka_2.13-{version}.jar").is_file(), sorted(p.name for p in out.iterdir())
        if libs.exists():
            shutil.rmtree(libs)
        out.rename(libs)
        (base / "config").mkdir(exist_ok=True)
        marker.write_text(version + "\n", encoding="utf-8")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return base


@dataclass
class KraftNode:
    """One combined broker+controller node, its files, and the JVM running it (None when stopped)."""

    root: Path
    home: Path  # the distribution (libs/)
    config: Path  # server.properties
    port: int
    controller_port: int
    log_dir: Path
    log: Path  # the log4j2 file: root/ops/logs/kafka/server.log (where kafkaops's settings look for the broker log)
    cluster_id: str
    proc: subprocess.Popen[bytes] | None = None
    props: dict[str, str] = field(default_factory=dict)

    @property
    def broker(self) -> str:
        return f"localhost:{self.port}"

    @property
    def ops_home(self) -> Path:
        return self.root / "ops"

    def java(self, *args: str, log4j: Path | None = None) -> list[str]:
        conf = log4j or self.root / "log4j2.yaml"
        return ["java", "-Xmx384m", "-Xms64m", f"-Dlog4j2.configurationFile={conf}", "-cp", str(self.home / "libs" / "*"), *args]

    def write_config(self, **overrides: str) -> None:
        from kafkaops.adapters.javaprops import write_properties

        self.props.update(overrides)
        write_properties(self.config, self.props)

    def start(self, timeout: float = 120.0, expect_started: bool = True) -> None:
        """Start the JVM and wait for the started line (or, with ``expect_started=False``, for the JVM to exit)."""
        offset = self.log.stat().st_size if self.log.exists() else 0
        out = open(self.root / "stdout.log", "ab")  # noqa: SIM115 - kept open by the child
        self.proc = subprocess.Popen(self.java("kafka.Kafka", str(self.config)), stdout=out, stderr=subprocess.STDOUT, cwd=self.root, start_new_session=True)
        out.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log.read_bytes()[offset:].decode("utf-8", "replace") if self.log.exists() else ""
            if STARTED in text:
                assert expect_started, f"the node started although it should not have:\n{text[-3000:]}"
                return
            if self.proc.poll() is not None:
                assert not expect_started, f"Kafka exited with {self.proc.returncode} before it started:\n{text[-5000:]}"
                self.proc = None
                return
            time.sleep(0.1)
        raise AssertionError(f"Kafka did not log its started line within {timeout:g}s: {self.log}")

    def stop(self, timeout: float = 60.0) -> None:
        """A clean stop (SIGTERM: Kafka's shutdown hook runs), then SIGKILL if it hangs."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)
        self.proc = None

    def adopt(self, env: dict[str, str]) -> None:
        """Record the running JVM in kafkaops's pid file for the settings ``env`` gives (as `kafkaops up` records what it starts)."""
        from kafkaops.adapters import processes
        from kafkaops.procedures import services
        from kafkaops.settings import load_settings

        assert self.proc is not None
        settings = load_settings(env=env, cwd=self.root)
        info = processes.proc_info(self.proc.pid)
        assert info is not None
        record = services.PidRecord(
            services.KAFKA, self.proc.pid, info.create_time, services.MAIN_CLASS[services.KAFKA], str(self.config.resolve()),
            str(self.log), str(self.root / "stdout.log"), 0, time.time(), str(self.home),
        )  # fmt: skip
        services.write_pid(settings, record)


def make_kraft_node(root: Path, home: Path) -> KraftNode:
    """Configs for a combined node on free ports under ``root``, formatted with a new cluster id (not started)."""
    from tests.conftest import free_port

    port, cport = free_port(), free_port()
    log = root / "ops" / "logs" / "kafka" / "server.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    (root / "log4j2.yaml").write_text(LOG4J2.format(log=log), encoding="utf-8")
    node = KraftNode(root, home, root / "conf" / "server.properties", port, cport, root / "data" / "kraft-logs", log, "")
    node.write_config(
        **{
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@localhost:{cport}",
            "listeners": f"PLAINTEXT://localhost:{port},CONTROLLER://localhost:{cport}",
            "advertised.listeners": f"PLAINTEXT://localhost:{port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(node.log_dir),
            "num.partitions": "1",
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "false",
        }
    )
    fmt_log = root / "log4j2-tools.yaml"
    fmt_log.write_text(LOG4J2.format(log=root / "tools.log"), encoding="utf-8")
    uuid = subprocess.run(node.java("kafka.tools.StorageTool", "random-uuid", log4j=fmt_log), capture_output=True, text=True, timeout=120)
    assert uuid.returncode == 0, uuid.stderr
    node.cluster_id = uuid.stdout.strip().splitlines()[-1]
    fmt = subprocess.run(
        node.java("kafka.tools.StorageTool", "format", "-t", node.cluster_id, "-c", str(node.config), log4j=fmt_log),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert fmt.returncode == 0 and "Formatting metadata directory" in fmt.stdout, fmt.stdout + fmt.stderr
    return node


@pytest.fixture(scope="session")
def kraft_home() -> Path:
    """Kafka 4.x's runtime classpath (KAFKAOPS_TEST_HOME/kafka4/<version>), resolved with Maven on first use."""
    return kraft_distribution()


def _root(prefix: str = "kafkaops-kraft-") -> Path:
    # Outside /tmp on purpose: data under /tmp is a (true) doctor warning, and a healthy node passes every check.
    return Path(tempfile.mkdtemp(prefix=prefix, dir="/var/tmp" if Path("/var/tmp").is_dir() else None))


@contextmanager
def started_kraft_stack(
    kafka_home: Path, database_url: str, *, split: bool, prefix: str, prepare: Callable[[Path], None] | None = None
) -> Iterator[KraftStack]:
    """A KRaft stack on ``kafka_home`` after `kafkaops up`, with the demo table sent once (every layer has
    work: doctor checks the pipeline too), under /var/tmp; ``prepare`` gets its root before `up`.
    Stopped and removed at the end."""
    from tests.integration.test_kraft import make_kraft_stack, teardown  # the stack kafkaops starts (this module: nodes by hand)

    root = _root(prefix)
    stack = make_kraft_stack(root, kafka_home, split=split)
    stack.env["DATABASE_URL"] = database_url
    try:
        if prepare is not None:
            prepare(root)
        for cmd in (["up"], ["db", "init", "--demo"], ["db", "seed", "5"], ["produce"]):
            res = stack.kafkaops(*cmd)
            assert res.returncode == 0, (cmd, res.stderr)
        yield stack
    finally:
        teardown(stack)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def kraft_node(kraft_home: Path) -> Iterator[KraftNode]:
    """A running KRaft node started by hand, shared by a test module."""
    root = _root()
    node = make_kraft_node(root, kraft_home)
    try:
        node.start()
        yield node
    finally:
        node.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def fresh_kraft_node(kraft_home: Path) -> Iterator[KraftNode]:
    """A KRaft node of its own (formatted, not started) for a test that breaks it."""
    root = _root()
    node = make_kraft_node(root, kraft_home)
    try:
        yield node
    finally:
        node.stop()
        shutil.rmtree(root, ignore_errors=True)
