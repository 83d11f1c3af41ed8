"""install / up / down / status / logs against a real ZooKeeper and Kafka broker, started by kafkaops."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from kafkaops.adapters import processes
from kafkaops.adapters import zookeeper as zk
from kafkaops.errors import RefusedError
from kafkaops.procedures import services
from tests.conftest import Stack, run_kafkaops

pytestmark = pytest.mark.integration


def _produce(broker: str, topic: str, n: int) -> None:
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": broker, "enable.idempotence": True})
    for i in range(n):
        p.produce(topic, key=str(i), value=json.dumps({"n": i}))
    assert p.flush(30) == 0


def _consume_all(broker: str, topic: str, expect: int, timeout: float = 30) -> list[bytes]:
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": broker, "group.id": f"t-{uuid.uuid4()}", "enable.auto.commit": False})
    c.assign([TopicPartition(topic, 0, 0)])
    got: list[bytes] = []
    deadline = time.monotonic() + timeout
    while len(got) < expect and time.monotonic() < deadline:
        msg = c.poll(0.5)
        if msg is not None and msg.error() is None:
            got.append(msg.value())
    c.close()
    return got


def test_up_then_status_shows_both_healthy(stack: Stack) -> None:
    res = run_kafkaops(["up"], stack.env, stack.root)
    assert res.returncode == 0, res.stderr
    assert "ZooKeeper started" in res.stderr
    assert "Kafka broker started" in res.stderr
    assert "topic db_live_events created (1 partition(s), replication factor 1)" in res.stderr

    st = run_kafkaops(["status", "--json"], stack.env, stack.root)
    assert st.returncode == 0, st.stderr
    doc = json.loads(st.stdout)
    assert doc["up"] is True
    zk_s, kafka_s = doc["services"]
    assert (zk_s["service"], zk_s["state"], zk_s["port"]) == ("zookeeper", "running", stack.zk_port)
    assert zk_s["health"]["mode"] == "standalone" and zk_s["health"]["version"].startswith("3.8")
    assert (kafka_s["service"], kafka_s["state"], kafka_s["port"]) == ("kafka", "running", stack.broker_port)
    assert kafka_s["health"]["broker_ids"] == [0] and kafka_s["health"]["controller"] == 0
    assert kafka_s["health"]["kafka_version"] == "3.9.2"
    assert kafka_s["pid"] == services.read_pid(stack.settings, "kafka").pid

    table = run_kafkaops(["status"], stack.env, stack.root)
    assert table.returncode == 0
    assert "running" in table.stdout and "standalone" in table.stdout

    # Each service writes its own log file under KAFKAOPS_HOME.
    logs = run_kafkaops(["logs", "kafka", "-n", "200"], stack.env, stack.root)
    assert logs.returncode == 0 and "started (kafka.server.KafkaServer)" in logs.stdout
    zlogs = run_kafkaops(["logs", "zookeeper", "-n", "500"], stack.env, stack.root)
    assert "binding to port" in zlogs.stdout and "kafka.server" not in zlogs.stdout


def test_up_twice_is_safe(running_stack: Stack) -> None:
    before = {s: services.read_pid(running_stack.settings, s).pid for s in ("zookeeper", "kafka")}
    res = run_kafkaops(["up"], running_stack.env, running_stack.root)
    assert res.returncode == 0, res.stderr
    assert f"ZooKeeper already running (pid {before['zookeeper']})" in res.stderr
    assert f"Kafka broker already running (pid {before['kafka']})" in res.stderr
    assert "topic db_live_events exists" in res.stderr
    assert len(processes.find_processes("kafka.Kafka")) >= 1
    after = {s: services.read_pid(running_stack.settings, s).pid for s in ("zookeeper", "kafka")}
    assert after == before


def test_down_stops_the_broker_before_zookeeper(running_stack: Stack) -> None:
    settings = running_stack.settings
    res = run_kafkaops(["down"], running_stack.env, running_stack.root)
    assert res.returncode == 0, res.stderr
    assert res.stderr.index("Kafka broker stopped cleanly") < res.stderr.index("ZooKeeper stopped cleanly")
    assert "shut down completed (kafka.server.KafkaServer)" in services.log_path(settings, "kafka").read_text()
    assert services.read_pid(settings, "kafka") is None and services.read_pid(settings, "zookeeper") is None
    assert (running_stack.log_dir / ".kafka_cleanshutdown").exists()
    # Proof of the order: had ZooKeeper stopped first, the broker's ephemeral registration would be in
    # ZooKeeper's data and come back with it. Start ZooKeeper alone: no registration is left.
    cfg = services.read_stack_config(settings)
    services.start_zookeeper(settings, cfg, "java", lambda _m: None)
    with zk.connect(f"localhost:{running_stack.zk_port}") as client:
        assert zk.broker_znode(client, 0) is None
        assert zk.cluster_id(client) is not None  # the data itself survived
    res = run_kafkaops(["down"], running_stack.env, running_stack.root)
    assert "Kafka broker was not running" in res.stderr and "ZooKeeper stopped cleanly" in res.stderr


def test_port_taken_by_another_process_is_refused_with_its_pid(stack: Stack) -> None:
    squatter = subprocess.Popen(
        [sys.executable, "-c", f"import socket,time; s=socket.socket(); s.bind(('127.0.0.1',{stack.zk_port})); s.listen(); print('ok', flush=True); time.sleep(120)"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert squatter.stdout.readline().strip() == "ok"
        res = run_kafkaops(["up"], stack.env, stack.root)
        assert res.returncode == 5, res.stderr
        assert f"cannot start zookeeper: port {stack.zk_port} is in use by" in res.stderr
        assert f"(pid {squatter.pid})" in res.stderr
        assert services.read_pid(stack.settings, "zookeeper") is None  # nothing was started
        assert "see: kafkaops runbook failures port-in-use" in res.stderr
    finally:
        squatter.kill()
        squatter.wait()


def test_stale_registration_after_sigkill_is_waited_out(running_stack: Stack) -> None:
    settings = running_stack.settings
    rec = services.read_pid(settings, "kafka")
    processes.kill(rec.pid)
    assert processes.wait_exit(rec.pid, rec.create_time, 10)
    with zk.connect(f"localhost:{running_stack.zk_port}") as client:
        assert zk.broker_znode(client, 0) is not None  # the ghost registration is there
    res = run_kafkaops(["up"], running_stack.env, running_stack.root)
    assert res.returncode == 0, res.stderr
    assert "stale registration of broker 0 to expire" in res.stderr
    assert "Kafka broker started" in res.stderr
    text = services.log_path(settings, "kafka").read_text()
    assert "NodeExistsException" not in text


def test_cluster_id_mismatch_is_refused_with_the_remedy(running_stack: Stack) -> None:
    settings = running_stack.settings
    assert run_kafkaops(["down"], running_stack.env, running_stack.root).returncode == 0
    shutil.rmtree(running_stack.zk_data)  # ZooKeeper's data wiped, Kafka's log dirs kept
    res = run_kafkaops(["up"], running_stack.env, running_stack.root)
    assert res.returncode == 5, res.stderr
    assert "cluster id mismatch" in res.stderr
    assert "kafkaops reset --confirm" in res.stderr
    assert "ZooKeeper was left running" in res.stderr
    assert services.read_pid(settings, "kafka") is None  # the broker was never started into the failure
    assert services.live_process(services.read_pid(settings, "zookeeper")) is not None


def test_messages_survive_down_and_up(running_stack: Stack) -> None:
    topic = running_stack.settings.kafka_topic
    _produce(running_stack.broker, topic, 25)
    assert run_kafkaops(["down"], running_stack.env, running_stack.root).returncode == 0
    res = run_kafkaops(["up"], running_stack.env, running_stack.root)
    assert res.returncode == 0, res.stderr
    assert "topic db_live_events exists" in res.stderr
    got = _consume_all(running_stack.broker, topic, 25)
    assert [json.loads(v)["n"] for v in got] == list(range(25))


def test_broker_start_failure_shows_log_and_known_failure(tmp_path: Path, kafka_home: Path) -> None:
    from tests.conftest import make_stack, teardown_stack

    s = make_stack(tmp_path, kafka_home)
    # A routable advertised address is mandatory: 0.0.0.0 makes the broker exit at once.
    (tmp_path / "conf" / "server.properties").write_text(
        (tmp_path / "conf" / "server.properties").read_text().replace(
            f"advertised.listeners=PLAINTEXT\\://localhost\\:{s.broker_port}", ""
        ).replace(f"advertised.listeners=PLAINTEXT://localhost:{s.broker_port}", "")
        + f"\nlisteners=PLAINTEXT://0.0.0.0:{s.broker_port}\n"
    )
    try:
        res = run_kafkaops(["up"], s.env, s.root)
        assert res.returncode == 1, res.stderr
        assert "kafka exited while starting: advertised.listeners uses 0.0.0.0" in res.stderr
        assert "last lines of" in res.stderr
        assert "ZooKeeper was left running" in res.stderr
        assert "see: kafkaops runbook failures advertised-listeners" in res.stderr
    finally:
        teardown_stack(s)


def test_stale_pid_file_is_never_killed(stack: Stack) -> None:
    settings = stack.settings
    me = processes.proc_info(os.getpid())
    # A pid file naming a live process that is not what kafkaops started (here: this test process).
    services.write_pid(
        settings,
        services.PidRecord("kafka", me.pid, me.create_time - 1000, "kafka.Kafka", "", "", "", 0, 0.0, ""),
    )
    st = run_kafkaops(["status", "--json"], stack.env, stack.root)
    assert st.returncode == 3
    kafka_s = json.loads(st.stdout)["services"][1]
    assert kafka_s["state"] == "stale-pid-file"
    res = run_kafkaops(["down"], stack.env, stack.root)
    assert res.returncode == 0, res.stderr
    assert "removed its stale pid file" in res.stderr
    assert processes.is_alive(me.pid)  # still here: never signalled


def test_procedure_api_errors_are_kafkaops_errors(stack: Stack) -> None:
    """A foreign broker on the port: up refuses (RefusedError); a wrong KAFKA_HOME is a clear error."""
    squatter = subprocess.Popen(
        [sys.executable, "-c", f"import socket,time; s=socket.socket(); s.bind(('127.0.0.1',{stack.broker_port})); s.listen(); print('ok', flush=True); time.sleep(120)"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert squatter.stdout.readline().strip() == "ok"
        with pytest.raises(RefusedError) as exc:
            services.up(stack.settings)
        assert f"port {stack.broker_port} is in use" in exc.value.message
    finally:
        squatter.kill()
        squatter.wait()
    bad = dict(stack.env, KAFKA_HOME=str(stack.root / "nowhere"))
    res = run_kafkaops(["up"], bad, stack.root)
    assert res.returncode == 2
    assert "is not a Kafka installation" in res.stderr and "kafkaops install" in res.stderr
    assert "Traceback" not in res.stderr
