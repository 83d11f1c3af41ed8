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
    logs = run_kafkaops(["logs", "kafka", "-n", "1000000"], stack.env, stack.root)
    assert logs.returncode == 0 and "started (kafka.server.KafkaServer)" in logs.stdout
    zlogs = run_kafkaops(["logs", "zookeeper", "-n", "1000000"], stack.env, stack.root)
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
        [
            sys.executable,
            "-c",
            f"import socket,time; s=socket.socket(); s.bind(('127.0.0.1',{stack.zk_port})); s.listen(); print('ok', flush=True); time.sleep(120)",
        ],
        stdout=subprocess.PIPE,
        text=True,
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
        (tmp_path / "conf" / "server.properties")
        .read_text()
        .replace(f"advertised.listeners=PLAINTEXT\\://localhost\\:{s.broker_port}", "")
        .replace(f"advertised.listeners=PLAINTEXT://localhost:{s.broker_port}", "")
        + f"\nlisteners=PLAINTEXT://0.0.0.0:{s.broker_port}\n"
    )
    try:
        res = run_kafkaops(["up"], s.env, s.root)
        assert res.returncode == 1, res.stderr
        assert "kafka exited while starting (exit code 1): advertised.listeners uses 0.0.0.0" in res.stderr
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
        [
            sys.executable,
            "-c",
            f"import socket,time; s=socket.socket(); s.bind(('127.0.0.1',{stack.broker_port})); s.listen(); print('ok', flush=True); time.sleep(120)",
        ],
        stdout=subprocess.PIPE,
        text=True,
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


# --------------------------------------------------------------------------------------------
# Concurrent commands and forged pid files (issue 11, items 5 and 6)


def _stack_jvms(stack: Stack) -> list[processes.ProcInfo]:
    """Every live JVM of this stack: a ZooKeeper or broker whose config is one of the stack's files."""
    confs = {str((stack.root / "conf" / name).resolve()) for name in ("zookeeper.properties", "server.properties")}
    found = processes.find_processes(services.MAIN_CLASS[services.ZOOKEEPER]) + processes.find_processes(services.MAIN_CLASS[services.KAFKA])
    return [p for p in found if confs & set(p.cmdline) and Path(p.cmdline[0]).name == "java"]


def _kill_stack_jvms(stack: Stack) -> None:
    for p in _stack_jvms(stack):
        processes.kill(p.pid)


def test_two_ups_at_once_on_a_cold_stack_both_succeed(stack: Stack) -> None:
    cmd = [sys.executable, "-m", "kafkaops", "up"]
    try:
        ups = [
            subprocess.Popen(cmd, env=stack.env, cwd=stack.root, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)
        ]
        outs = [p.communicate(timeout=300) for p in ups]
        codes = [p.returncode for p in ups]
        assert codes == [0, 0], outs
        errs = [err for _out, err in outs]
        # Exactly one started the stack; the other waited for it, then found it running.
        starter = next(i for i, err in enumerate(errs) if "ZooKeeper started" in err)
        waiter = 1 - starter
        assert f"another kafkaops up is starting the stack (pid {ups[starter].pid}); waiting" in errs[waiter], errs
        assert "Kafka broker started" in errs[starter], errs
        settings = stack.settings
        zk_rec, kafka_rec = services.read_pid(settings, "zookeeper"), services.read_pid(settings, "kafka")
        assert f"ZooKeeper already running (pid {zk_rec.pid})" in errs[waiter], errs
        assert f"Kafka broker already running (pid {kafka_rec.pid})" in errs[waiter], errs
        # The pid files name the stack's only two JVMs, and those are the ones running.
        jvms = _stack_jvms(stack)
        assert sorted(p.pid for p in jvms) == sorted([zk_rec.pid, kafka_rec.pid])
        assert services.live_process(zk_rec) is not None and services.live_process(kafka_rec) is not None
        down = run_kafkaops(["down"], stack.env, stack.root)
        assert down.returncode == 0, down.stderr
        assert "Kafka broker stopped cleanly" in down.stderr and "ZooKeeper stopped cleanly" in down.stderr
        assert _stack_jvms(stack) == []
    finally:
        _kill_stack_jvms(stack)


def _hold_stack_lock(stack: Stack, command: str) -> subprocess.Popen[str]:
    """Another kafkaops process that holds this stack's lock (as `command` does) until it is killed."""
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from kafkaops.settings import load_settings\n"
        "from kafkaops.procedures import services\n"
        f"settings = load_settings(env={stack.env!r}, cwd=Path({str(stack.root)!r}))\n"
        f"with services.stack_lock(settings, {command!r}):\n"
        "    print('held', flush=True)\n"
        "    time.sleep(120)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=stack.root)
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_up_waiting_for_another_up_times_out_clearly(stack: Stack) -> None:
    holder = _hold_stack_lock(stack, "up")
    try:
        env = dict(stack.env, KAFKAOPS_LOCK_TIMEOUT="1")
        res = run_kafkaops(["up"], env, stack.root)
        assert res.returncode == 5, res.stderr
        assert f"another kafkaops up is starting the stack (pid {holder.pid}); waiting" in res.stderr
        assert f"error: kafkaops up (pid {holder.pid}) still holds the stack lock after 1s; nothing was done" in res.stderr
        assert "hint: wait for it to finish, then rerun this command" in res.stderr
        assert services.read_pid(stack.settings, "zookeeper") is None  # nothing was started
    finally:
        holder.kill()
        holder.wait()


def test_down_while_up_is_starting_says_so_and_waits(stack: Stack) -> None:
    holder = _hold_stack_lock(stack, "up")
    try:
        env = dict(stack.env, KAFKAOPS_LOCK_TIMEOUT="1")
        res = run_kafkaops(["down"], env, stack.root)
        assert res.returncode == 5, res.stderr
        assert f"another kafkaops up is starting the stack (pid {holder.pid}); waiting" in res.stderr
        assert f"error: kafkaops up (pid {holder.pid}) still holds the stack lock after 1s; nothing was done" in res.stderr
        # Once the start is over, down goes ahead.
        holder.kill()
        holder.wait()
        res = run_kafkaops(["down"], env, stack.root)
        assert res.returncode == 0, res.stderr
        assert "waiting" not in res.stderr and "Kafka broker was not running" in res.stderr
    finally:
        holder.kill()
        holder.wait()


def test_reset_waits_for_the_stack_lock_too(stack: Stack) -> None:
    stack.log_dir.mkdir(parents=True)
    (stack.log_dir / "meta.properties").write_text("version=0\nbroker.id=0\ncluster.id=abc\n")
    holder = _hold_stack_lock(stack, "down")
    try:
        env = dict(stack.env, KAFKAOPS_LOCK_TIMEOUT="1")
        res = run_kafkaops(["reset", "--confirm", "--yes"], env, stack.root)
        assert res.returncode == 5, res.stderr
        assert f"another kafkaops down is stopping the stack (pid {holder.pid}); waiting" in res.stderr
        assert (stack.log_dir / "meta.properties").exists()  # nothing was deleted
    finally:
        holder.kill()
        holder.wait()


def test_the_lock_is_per_stack(stack: Stack, tmp_path_factory: pytest.TempPathFactory, kafka_home: Path) -> None:
    from tests.conftest import make_stack

    other = make_stack(tmp_path_factory.mktemp("other-stack"), kafka_home)  # another KAFKAOPS_HOME
    holder = _hold_stack_lock(stack, "up")
    try:
        res = run_kafkaops(["down"], dict(other.env, KAFKAOPS_LOCK_TIMEOUT="30"), other.root, timeout=20)
        assert res.returncode == 0, res.stderr
        assert "waiting" not in res.stderr
    finally:
        holder.kill()
        holder.wait()


def test_forged_pid_file_naming_an_unrelated_process_is_never_signalled(stack: Stack) -> None:
    settings = stack.settings
    victim = subprocess.Popen(["sleep", "300"])
    # A process whose arguments even name the broker's main class and config, but which is no JVM.
    lookalike = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)", "kafka.Kafka", str(settings.server_properties.resolve())])
    try:
        for proc, main_class, service in ((victim, "sleep", "kafka"), (lookalike, "kafka.Kafka", "zookeeper")):
            info = None
            while info is None or info.cmdline[:1] == ():
                info = processes.proc_info(proc.pid)
            services.write_pid(
                settings,
                services.PidRecord(
                    service,
                    proc.pid,
                    info.create_time,
                    main_class,
                    str(settings.server_properties),
                    str(stack.root / "forged.log"),
                    str(stack.root / "forged.out"),
                    0,
                    time.time(),
                    str(stack.env["KAFKA_HOME"]),
                ),
            )
        res = run_kafkaops(["down"], stack.env, stack.root)
        assert res.returncode == 5, res.stderr
        assert (
            f"error: the kafka pid file names pid {victim.pid}, which is not the Kafka broker kafkaops started "
            f"(it runs `sleep 300`, not java kafka.Kafka {settings.server_properties.resolve()}); nothing was signalled"
        ) in res.stderr
        assert (f"  the zookeeper pid file names pid {lookalike.pid}, which is not the ZooKeeper kafkaops started (it runs `{sys.executable} -c") in res.stderr
        assert f"look at process {victim.pid}, {lookalike.pid}: if kafkaops did not start it, delete {services.pid_path(settings, 'kafka')}" in res.stderr
        time.sleep(0.5)
        assert victim.poll() is None and lookalike.poll() is None  # both still alive
        # The files were left for a person to look at.
        assert services.read_pid(settings, "kafka").pid == victim.pid
        assert services.read_pid(settings, "zookeeper").pid == lookalike.pid
        st = run_kafkaops(["status", "--json"], stack.env, stack.root)
        kafka_s = json.loads(st.stdout)["services"][1]
        assert kafka_s["state"] == "stale-pid-file"
        # up starts nothing beside a process it cannot account for.
        up = run_kafkaops(["up"], stack.env, stack.root)
        assert up.returncode == 5, up.stderr
        assert f"error: the zookeeper pid file names pid {lookalike.pid}, which is not the ZooKeeper kafkaops started" in up.stderr
        assert _stack_jvms(stack) == [] and services.read_pid(settings, "zookeeper").pid == lookalike.pid
        assert victim.poll() is None and lookalike.poll() is None
    finally:
        for proc in (victim, lookalike):
            proc.kill()
            proc.wait()


def test_down_during_a_real_up_waits_for_the_start_then_stops_everything(stack: Stack) -> None:
    up = subprocess.Popen(
        [sys.executable, "-m", "kafkaops", "up", "--no-topic"],
        env=stack.env,
        cwd=stack.root,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while services.read_pid(stack.settings, "zookeeper") is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert up.poll() is None  # up is starting the stack: ZooKeeper launched, the broker not yet ready
        down = run_kafkaops(["down"], stack.env, stack.root)
        _out, up_err = up.communicate(timeout=120)
        assert up.returncode == 0, up_err
        assert "Kafka broker started" in up_err  # the start was not cut short
        assert down.returncode == 0, down.stderr
        assert f"another kafkaops up is starting the stack (pid {up.pid}); waiting" in down.stderr
        assert "Kafka broker stopped cleanly" in down.stderr and "ZooKeeper stopped cleanly" in down.stderr
        assert _stack_jvms(stack) == []
        assert services.read_pid(stack.settings, "kafka") is None and services.read_pid(stack.settings, "zookeeper") is None
    finally:
        up.kill()
        up.wait()
        _kill_stack_jvms(stack)
