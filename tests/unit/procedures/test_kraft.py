"""KRaft mode without a running Kafka: layouts read from the configs, storage states, log signatures."""

from __future__ import annotations

from pathlib import Path

import pytest

from kafkaops.adapters.javaprops import write_properties
from kafkaops.errors import ConfigError, RefusedError
from kafkaops.procedures import signatures
from kafkaops.procedures.layout import kraft_broker_config, kraft_combined_config, kraft_controller_config
from kafkaops.procedures.services import kraft
from kafkaops.settings import Settings, load_settings


def settings_for(tmp_path: Path, server: dict[str, str], controller: dict[str, str] | None = None) -> Settings:
    conf = tmp_path / "conf"
    write_properties(conf / "server.properties", server)
    if controller is not None:
        write_properties(conf / "controller.properties", controller)
    return load_settings(env={"KAFKAOPS_HOME": str(tmp_path / "ops"), "KAFKAOPS_SERVER_PROPERTIES": str(conf / "server.properties")}, cwd=tmp_path)


def test_the_combined_layout(tmp_path: Path) -> None:
    s = settings_for(tmp_path, kraft_combined_config(tmp_path / "logs", 19092, 19093))
    assert s.kraft and s.kafka_broker == "localhost:19092"
    layout = kraft.read_layout(s)
    assert layout.name == "combined" and layout.controller is layout.broker
    node = layout.broker
    assert node.service == "kafka" and node.node_id == 1 and node.roles == ("broker", "controller")
    assert node.port == 19092 and node.controller_listener is not None and node.controller_listener.port == 19093
    assert node.voters == ((1, "localhost", 19093),) and node.dirs == (tmp_path / "logs",)


def test_the_split_layout_is_picked_by_the_files(tmp_path: Path) -> None:
    broker = kraft_broker_config(tmp_path / "b", 19092, 19093, node_id=2, controller_id=1)
    s = settings_for(tmp_path, broker, kraft_controller_config(tmp_path / "c", 19093, node_id=1))
    layout = kraft.read_layout(s)
    assert layout.name == "split" and [n.service for n in layout.nodes] == ["controller", "kafka"]
    assert layout.nodes[0].port == 19093 and layout.nodes[1].port == 19092
    (tmp_path / "conf" / "controller.properties").unlink()  # a broker whose controllers run elsewhere
    assert kraft.read_layout(s).name == "combined" and kraft.read_layout(s).controller is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"controller.quorum.voters": "1@localhost:29999"}, "says node 1 listens on port 29999, but its CONTROLLER listener is port 19093"),
        ({"controller.quorum.voters": "7@localhost:19093"}, "this controller (node.id=1) is not in controller.quorum.voters"),
        ({"controller.quorum.voters": "localhost:19093"}, "is not id@host:port"),
        ({"controller.listener.names": "CTRL"}, "no listener is named in controller.listener.names (CTRL)"),
        ({"node.id": ""}, "has no node.id"),
        ({"process.roles": "broker,zookeeper"}, "must be broker, controller or both"),
    ],
)
def test_quorum_and_listener_misconfigurations_are_setting_errors(tmp_path: Path, change: dict[str, str], message: str) -> None:
    s = settings_for(tmp_path, {**kraft_combined_config(tmp_path / "logs", 19092, 19093), **change})
    with pytest.raises(ConfigError) as info:
        kraft.read_layout(s)
    assert message in info.value.message


def test_a_node_id_conflict_in_the_split_layout(tmp_path: Path) -> None:
    broker = kraft_broker_config(tmp_path / "b", 19092, 19093, node_id=1, controller_id=1)
    s = settings_for(tmp_path, broker, kraft_controller_config(tmp_path / "c", 19093, node_id=1))
    with pytest.raises(ConfigError, match="node.id conflict"):
        kraft.read_layout(s)


def _format(d: Path, cluster_id: str, node_id: int = 1) -> None:
    d.mkdir(parents=True, exist_ok=True)
    (d / "meta.properties").write_text(f"version=1\nnode.id={node_id}\ncluster.id={cluster_id}\ndirectory.id=x\n")


def test_storage_states(tmp_path: Path) -> None:
    logs, meta = tmp_path / "logs", tmp_path / "meta"
    s = settings_for(tmp_path, {**kraft_combined_config(logs, 19092, 19093), "metadata.log.dir": str(meta)})
    layout = kraft.read_layout(s)
    assert layout.broker.dirs == (meta, logs)
    assert kraft.check_storage(s, layout) is None  # nothing there: format

    _format(meta, "C1")
    with pytest.raises(RefusedError, match="half-formatted"):
        kraft.check_storage(s, layout)
    _format(logs, "C2")
    with pytest.raises(RefusedError, match="cluster id mismatch between the log dirs"):
        kraft.check_storage(s, layout)
    _format(logs, "C1")
    assert kraft.check_storage(s, layout) == "C1"  # and remembered as this stack's cluster
    _format(logs, "C9")
    _format(meta, "C9")
    with pytest.raises(RefusedError, match="belongs to cluster C9, but kafkaops formatted this stack as cluster C1"):
        kraft.check_storage(s, layout)
    _format(logs, "C1", node_id=5)
    _format(meta, "C1", node_id=5)
    with pytest.raises(RefusedError, match="is for node.id 5"):
        kraft.check_storage(s, layout)


def test_an_unformatted_dir_with_files_is_refused(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "junk").write_text("x")
    s = settings_for(tmp_path, kraft_combined_config(logs, 19092, 19093))
    with pytest.raises(RefusedError) as info:
        kraft.check_storage(s, kraft.read_layout(s))
    assert "was never formatted" in info.value.message and "kafkaops reset --confirm" in (info.value.hint or "")


def test_new_cluster_ids_look_like_kafkas() -> None:
    ids = {kraft.new_cluster_id() for _ in range(200)}
    assert len(ids) == 200 and all(len(i) == 22 and not i.startswith("-") for i in ids)


@pytest.mark.parametrize(
    ("line", "sig"),
    [
        ("java.lang.RuntimeException: No readable meta.properties files found.", "kraft.unformatted"),
        ("org.apache.kafka.common.errors.DuplicateBrokerRegistrationException: Another broker is registered with that broker id.", "kraft.node_id_conflict"),
        ("java.lang.IllegalArgumentException: requirement failed: controller.listener.names must contain at least one value", "kraft.quorum_config"),
        ("java.lang.RuntimeException: Invalid cluster.id in: /d/meta.properties. Expected A, but read B", "kafka.cluster_id_mismatch"),
    ],
)
def test_kraft_failure_signatures(line: str, sig: str) -> None:
    finding = signatures.classify(f"[2026-12-02 16:44:16,189] ERROR Exiting Kafka due to fatal exception (kafka.Kafka$)\n{line}\n")
    assert finding is not None and finding.id == sig


def test_whose_log_logs_shows(tmp_path: Path) -> None:
    from kafkaops.errors import UsageError
    from kafkaops.procedures.logs import log_service

    combined = settings_for(tmp_path / "a", kraft_combined_config(tmp_path / "logs", 19092, 19093))
    assert log_service(combined, "controller") == "kafka" and log_service(combined, "kafka") == "kafka"
    with pytest.raises(UsageError, match="no ZooKeeper in KRaft mode"):
        log_service(combined, "zookeeper")
    broker = kraft_broker_config(tmp_path / "b", 19092, 19093)
    split = settings_for(tmp_path / "s", broker, kraft_controller_config(tmp_path / "c", 19093))
    assert log_service(split, "controller") == "controller"
    zk = load_settings(env={"KAFKAOPS_HOME": str(tmp_path / "z")}, cwd=tmp_path)
    with pytest.raises(UsageError, match="no controller process in ZooKeeper mode"):
        log_service(zk, "controller")
    assert log_service(zk, "zookeeper") == "zookeeper"


def test_a_missing_kraft_install_names_the_kraft_install_command(tmp_path: Path) -> None:
    from kafkaops.procedures.services import check_kafka_home

    s = load_settings(env={"KAFKAOPS_HOME": str(tmp_path), "KAFKAOPS_MODE": "kraft"}, cwd=tmp_path)
    with pytest.raises(ConfigError) as info:
        check_kafka_home(s)
    assert "kafkaops install --mode kraft" in (info.value.hint or "") and str(tmp_path / "kafka" / "4.4.0") in info.value.message


def test_java_11_runs_a_kraft_stack_on_3_9_but_not_on_4_x(tmp_path: Path) -> None:
    # A migrated stack is KRaft on the 3.9 binaries, which run on Java 11: only 4.x needs Java 17.
    from kafkaops.adapters.java import JavaInfo
    from kafkaops.errors import KafkaopsError
    from kafkaops.procedures.services.stack import check_kraft_java

    java11 = JavaInfo("/usr/bin/java", 11, 'openjdk version "11.0.22"')
    for version in ("3.9.2", "4.4.0"):
        (tmp_path / version / "libs").mkdir(parents=True)
        (tmp_path / version / "libs" / f"kafka_2.13-{version}.jar").write_bytes(b"")
    settings = settings_for(tmp_path, {"process.roles": "broker,controller", "node.id": "1"})
    check_kraft_java(settings.with_overrides(kafka_home=tmp_path / "3.9.2"), java11)
    with pytest.raises(KafkaopsError, match=r"Java 11 at /usr/bin/java is too old for Kafka 4\.4\.0 \(KRaft mode\): it needs Java 17 or newer"):
        check_kraft_java(settings.with_overrides(kafka_home=tmp_path / "4.4.0"), java11)
    check_kraft_java(settings.with_overrides(kafka_home=tmp_path / "4.4.0"), JavaInfo("/j", 17, ""))
