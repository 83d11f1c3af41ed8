"""procedures/services helpers that status, reset, cluster and doctor share."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest

from kafkaops.adapters.processes import ProcInfo
from kafkaops.procedures import services
from kafkaops.settings import Settings


def _proc(pid: int, name: str, *args: str) -> ProcInfo:
    return ProcInfo(pid=pid, name=name, cmdline=(name, *args), create_time=0.0)


def test_probe_host_connects_to_loopback_for_a_wildcard_bind() -> None:
    assert services.probe_host("") == "127.0.0.1"
    assert services.probe_host("0.0.0.0") == "127.0.0.1"
    assert services.probe_host("::") == "127.0.0.1"
    assert services.probe_host("localhost") == "localhost"
    assert services.probe_host("10.1.2.3") == "10.1.2.3"


def test_owner_label_names_the_service_or_the_program() -> None:
    zk = _proc(11, "java", "-cp", "x", services.MAIN_CLASS[services.ZOOKEEPER], "zookeeper.properties")
    broker = _proc(12, "java", "-cp", "x", services.MAIN_CLASS[services.KAFKA], "server.properties")
    assert services.owner_label(zk) == "pid 11 (ZooKeeper)"
    assert services.owner_label(broker) == "pid 12 (Kafka broker)"
    assert services.owner_label(_proc(13, "nginx")) == "pid 13 (nginx)"


def _stack(tmp_path: Path, zk_port: int, broker_port: int) -> Settings:
    from kafkaops.settings import load_settings

    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "zookeeper.properties").write_text(f"dataDir={tmp_path / 'zk'}\nclientPort={zk_port}\nclientPortAddress=127.0.0.1\n")
    (conf / "server.properties").write_text(f"listeners=PLAINTEXT://127.0.0.1:{broker_port}\nlog.dirs={tmp_path / 'logs'}\n")
    env = {
        "KAFKAOPS_HOME": str(tmp_path / "ops"),
        "KAFKA_HOME": str(tmp_path / "kafka"),
        "KAFKAOPS_SERVER_PROPERTIES": str(conf / "server.properties"),
        "KAFKAOPS_ZOOKEEPER_PROPERTIES": str(conf / "zookeeper.properties"),
    }
    return load_settings(env=env, cwd=tmp_path)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_probe_says_who_holds_a_port_in_the_status_wording(tmp_path: Path) -> None:
    zk_port, broker_port = _free_port(), _free_port()
    settings = _stack(tmp_path, zk_port, broker_port)
    cfg = services.read_stack_config(settings)
    services.write_pid(settings, services.PidRecord("zookeeper", 2**22 + 7, 0.0, "", "", "", "", 0, 0.0, ""))
    with socket.socket() as held:  # this test's process holds the broker's port and ZooKeeper's
        held.bind(("127.0.0.1", broker_port))
        held.listen(1)
        broker = services.probe(settings, cfg, services.KAFKA)
        assert (broker.state, broker.port, broker.proc) == ("foreign", broker_port, None)
        assert broker.owner is not None and broker.owner.pid == os.getpid()
        assert broker.owner_text == f"pid {os.getpid()} ({broker.owner.name})"
        zk = services.probe(settings, cfg, services.ZOOKEEPER)
        assert (zk.state, zk.record.pid, zk.check.verdict, zk.owner) == ("stale-pid-file", 2**22 + 7, "gone", None)
        assert zk.owner_text == "a process kafkaops cannot see"
        other = services.probe(settings, cfg, services.ZOOKEEPER, address=("127.0.0.1", broker_port))
        assert (other.state, other.port) == ("foreign", broker_port)
        with socket.socket() as zk_held:
            zk_held.bind(("127.0.0.1", zk_port))
            zk_held.listen(1)
            # ZooKeeper's port held by a program that is no ZooKeeper: status says who, as for the broker.
            st = services.zookeeper_status(settings, cfg)
    assert (st.state, st.pid) == ("foreign", os.getpid())
    assert st.detail == f"port {zk_port} held by pid {os.getpid()} ({broker.owner.name}), not started by kafkaops"
    services.remove_pid(settings, zk.record)
    assert services.probe(settings, cfg, services.ZOOKEEPER).state == "stopped"


def test_a_service_that_died_while_starting_is_reported_with_its_exit_code_or_signal(tmp_path: Path) -> None:
    """`exited while starting` now says how: the exit code, or the signal that killed it (a JVM killed before its
    first log line left nothing else to go on in CI)."""
    import signal
    import sys
    import time

    from kafkaops.adapters import processes
    from kafkaops.procedures.services.launch import exited_while_starting
    from kafkaops.procedures.services.pidfiles import PidRecord, read_pid, write_pid
    from kafkaops.settings import load_settings

    settings = load_settings(env={"KAFKAOPS_HOME": str(tmp_path / "home")}, cwd=tmp_path)
    for code, script, expected in ((3, "import sys; sys.exit(3)", "(exit code 3)"), (-9, "import time; time.sleep(30)", "(killed by SIGKILL)")):
        info = processes.launch([sys.executable, "-c", script], stdout_path=tmp_path / "out.txt", cwd=tmp_path)
        record = PidRecord("zookeeper", info.pid, info.create_time, "x", "", str(tmp_path / "server.log"), str(tmp_path / "out.txt"), 0, time.time(), "")
        write_pid(settings, record)
        if code < 0:
            os.kill(info.pid, signal.SIGKILL)
        while processes.is_alive(info.pid, info.create_time):
            time.sleep(0.01)
        err = exited_while_starting(settings, record)
        assert err.message == f"zookeeper exited while starting {expected}"
        assert read_pid(settings, "zookeeper") is None  # its pid file is gone with it


@pytest.mark.skipif(sys.platform != "linux", reason="a thread group whose leader is gone before the rest: Linux /proc")
def test_a_service_whose_main_thread_is_gone_before_its_other_threads_is_still_reported_with_its_exit_code(tmp_path: Path) -> None:
    """CI (stop 23): "kafka exited while starting" without its exit code. A JVM's threads leave one by one when it
    exits; its main thread shows as a zombie while the others still run, so the wait sees it gone, but waitpid has no
    code for it yet. The report now waits briefly for the code. The child here ends its main thread first and exits 3
    from another thread 0.5 s later; before the fix the report said no code."""
    import time

    from kafkaops.adapters import processes
    from kafkaops.procedures.services.launch import exited_while_starting
    from kafkaops.procedures.services.pidfiles import PidRecord, write_pid
    from kafkaops.settings import load_settings

    script = (
        "import ctypes, os, threading, time\n"
        "threading.Thread(target=lambda: (time.sleep(0.5), os._exit(3))).start()\n"
        "ctypes.CDLL(None).pthread_exit(None)\n"  # ctypes releases the GIL first: the other thread goes on
    )
    settings = load_settings(env={"KAFKAOPS_HOME": str(tmp_path / "home")}, cwd=tmp_path)
    info = processes.launch([sys.executable, "-c", script], stdout_path=tmp_path / "out.txt", cwd=tmp_path)
    record = PidRecord("kafka", info.pid, info.create_time, "x", "", str(tmp_path / "server.log"), str(tmp_path / "out.txt"), 0, time.time(), "")
    write_pid(settings, record)
    while processes.is_alive(info.pid, info.create_time):
        time.sleep(0.01)
    assert processes.reap(info.pid) is None  # the state the CI run met: gone to the wait, no exit code yet
    err = exited_while_starting(settings, record)
    assert err.message == "kafka exited while starting (exit code 3)"
