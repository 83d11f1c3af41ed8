"""procedures/services helpers that status, reset, cluster and doctor share."""

from __future__ import annotations

from kafkaops.adapters.processes import ProcInfo
from kafkaops.procedures import services


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
