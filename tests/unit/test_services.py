"""procedures/services helpers that status, reset, cluster and doctor share."""

from __future__ import annotations

import os
import socket
from pathlib import Path

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
