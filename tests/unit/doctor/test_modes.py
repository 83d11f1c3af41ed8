"""doctor picks its checks by what the cluster is: ZooKeeper mode, KRaft, or a cluster of unknown mode;
and the pure parts of the metadata-quorum layer (settings, log signatures, the DescribeQuorum wire format).
No service runs here."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from kafkaops import doctor as d
from kafkaops.adapters import quorum
from kafkaops.adapters.javaprops import write_properties
from kafkaops.doctor import kraft, registry
from kafkaops.doctor import quorum as d_quorum
from kafkaops.doctor import runner as d_runner
from kafkaops.settings import load_settings

ZOOKEEPER_ONLY = ["zookeeper.process", "zookeeper.serving", "broker.registration", "broker.controller", "broker.cluster_id", "logs.zookeeper"]
QUORUM = ["quorum.controller", "quorum.voters", "quorum.leader", "quorum.log"]


def ids(mode: str | None) -> list[str]:
    return [c.id for c in d.checks(canary=False, mode=mode)]


def test_zookeeper_mode_runs_todays_checks_and_no_quorum_check() -> None:
    zk = ids("zookeeper")
    assert zk[:2] == ["zookeeper.process", "zookeeper.serving"]
    assert all(i in zk for i in ZOOKEEPER_ONLY)
    assert not set(QUORUM) & set(zk)
    assert len(zk) == 34  # today's 30 without the canary (migration.state included), plus the 4 of the Connect layer


def test_kraft_mode_replaces_the_zookeeper_layer_with_the_quorum_layer() -> None:
    kr = ids("kraft")
    assert kr[:4] == QUORUM  # first, where the ZooKeeper layer was
    assert not set(ZOOKEEPER_ONLY) & set(kr)
    assert kr[4:] == [i for i in ids("zookeeper") if i not in ZOOKEEPER_ONLY]  # every other check, in the same order


def test_a_cluster_of_unknown_mode_runs_only_the_checks_every_mode_has() -> None:
    unknown = ids(None)
    assert not (set(ZOOKEEPER_ONLY) | set(QUORUM)) & set(unknown)
    assert "broker.metadata" in unknown and "database.reachable" in unknown
    assert ids("any") == [c.id for c in d.all_checks() if not c.canary_only]


def test_modes_follow_applies_layer_locality_and_requirements() -> None:
    by_id = {c.id: c for c in d.all_checks()}
    assert registry.modes(by_id["broker.cluster_id"]) == ("zookeeper",)  # it requires zookeeper.serving
    assert registry.modes(by_id["logs.zookeeper"]) == ("zookeeper",)  # ZooKeeper's own files
    assert registry.modes(by_id["quorum.leader"]) == ("kraft",)
    assert registry.modes(by_id["broker.metadata"]) == ("zookeeper", "kraft")
    assert registry.applies_label(by_id["quorum.controller"]) == "local, kraft"
    assert registry.applies_label(by_id["zookeeper.serving"]) == "zookeeper"
    assert registry.applies_label(by_id["host.disk"]) == "local"
    assert registry.describe(by_id["quorum.voters"])["modes"] == ["kraft"]


def test_a_remote_clusters_local_checks_say_remote_cluster() -> None:
    assert d_runner._remote("not the local stack: KAFKA_BROKER=x:9092 is not this machine") == "remote cluster: KAFKA_BROKER=x:9092 is not this machine"
    assert d_runner._remote("remote cluster: already said") == "remote cluster: already said"


def test_the_healthy_verdict_names_the_modes_first_layer() -> None:
    assert d_runner._verdict([], "kraft").why.startswith("every check passed: metadata quorum, broker")
    assert d_runner._verdict([], "zookeeper").why.startswith("every check passed: ZooKeeper, broker")


def test_the_local_mode_comes_from_process_roles(tmp_path: Path) -> None:
    path = tmp_path / "server.properties"
    assert kraft.local_mode(path) is None
    write_properties(path, {"broker.id": "0", "zookeeper.connect": "localhost:2181"})
    assert kraft.local_mode(path) == "zookeeper"
    write_properties(path, {"process.roles": "broker,controller", "node.id": "1"})
    assert kraft.local_mode(path) == "kraft"


def kraft_config(tmp_path: Path, **props: str) -> kraft.KraftConfig:
    base = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": "1@localhost:9093",
        "listeners": "PLAINTEXT://localhost:9092,CONTROLLER://localhost:9093",
        "controller.listener.names": "CONTROLLER",
        "log.dirs": str(tmp_path / "data"),
    }
    base.update(props)
    write_properties(tmp_path / "server.properties", {k: v for k, v in base.items() if v != "-"})
    settings = load_settings(env={"KAFKAOPS_HOME": str(tmp_path), "KAFKAOPS_SERVER_PROPERTIES": str(tmp_path / "server.properties")}, cwd=tmp_path)
    return kraft.read_kraft_config(settings)


def test_a_sound_combined_node_has_no_quorum_problem(tmp_path: Path) -> None:
    kc = kraft_config(tmp_path)
    assert kc.roles == ("broker", "controller") and kc.node_id == 1
    assert [lst.port for lst in kc.client_listeners] == [9092] and [lst.port for lst in kc.controller_listeners] == [9093]
    assert d_quorum.voters_problems(kc) == []


@pytest.mark.parametrize(
    ("props", "problem"),
    [
        ({"controller.quorum.voters": "2@localhost:9093"}, "node.id 1 is not among controller.quorum.voters=2@localhost:9093"),
        ({"controller.quorum.voters": "1@localhost:9999"}, "names this node as 1@localhost:9999, but its controller listener is on port 9093"),
        ({"controller.quorum.voters": "1@localhost:9093,1@otherhost:9093"}, "names node 1 more than once"),
        ({"controller.quorum.voters": "localhost:9093"}, "'localhost:9093' is not id@host:port"),
        ({"controller.quorum.voters": "-"}, "neither controller.quorum.voters nor controller.quorum.bootstrap.servers is set"),
        ({"controller.listener.names": "-"}, "controller.listener.names is not set"),
        ({"controller.listener.names": "CTRL"}, "controller.listener.names=CTRL names no listener"),
        ({"node.id": "-"}, "node.id is not set"),
        (
            {"process.roles": "broker", "listeners": "PLAINTEXT://localhost:9092"},
            "node.id 1 is a voter in controller.quorum.voters, but this node is a broker only",
        ),
    ],
)
def test_quorum_misconfigurations_are_named(tmp_path: Path, props: dict[str, str], problem: str) -> None:
    problems = d_quorum.voters_problems(kraft_config(tmp_path, **props))
    assert any(problem in p for p in problems), problems


def test_voters_parse() -> None:
    assert [str(v) for v in kraft.parse_voters("1@localhost:9093, 2@[::1]:9094")] == ["1@localhost:9093", "2@::1:9094"]
    with pytest.raises(ValueError, match="'x' is not id@host:port"):
        kraft.parse_voters("x")


# Kafka 4.4.0's own lines (from a real node on this machine)
LOG = """\
[2026-12-02 16:38:09,100] INFO Registered `kafka:type=kafka.Log4jController` MBean (org.apache.kafka.server.logger.Log4jControllerRegistration)
[2026-12-02 16:38:09,480] ERROR Exiting Kafka due to fatal exception (kafka.Kafka$)
java.lang.RuntimeException: No readable meta.properties files found.
\tat org.apache.kafka.metadata.properties.MetaPropertiesEnsemble.verify(MetaPropertiesEnsemble.java:480) ~[kafka-server-common-4.4.0.jar:?]
[2026-12-02 16:38:19,000] INFO Registered `kafka:type=kafka.Log4jController` MBean (org.apache.kafka.server.logger.Log4jControllerRegistration)
[2026-12-02 16:38:19,503] ERROR Exiting Kafka due to fatal exception (kafka.Kafka$)
java.lang.RuntimeException: Stored node id 1 doesn't match previous node id 2 in /d/meta.properties. If you moved your data, make sure your configured node id matches.
"""


def test_kraft_log_signatures_since_the_last_start() -> None:
    found = d_quorum.scan_kraft(LOG, first_line=10)
    assert [(f.signature.id, f.line_no) for f in found] == [("kraft-node-id-mismatch", 15)]  # the older run is history
    assert found[0].text.startswith("java.lang.RuntimeException: Stored node id 1 doesn't match previous node id 2")


@pytest.mark.parametrize(
    ("line", "signature"),
    [
        ("java.lang.RuntimeException: No readable meta.properties files found.", "kraft-unformatted"),
        ("java.lang.RuntimeException: Invalid cluster.id in: /d/meta.properties. Expected AAAA, but read BBBB", "kraft-cluster-id-mismatch"),
        (
            "java.lang.IllegalArgumentException: requirement failed: If process.roles contains the 'controller' role, the node id 1 must be "
            "included in the set of voters controller.quorum.voters=Set(2)",
            "kraft-voters-misconfigured",
        ),
        ("org.apache.kafka.common.errors.DuplicateBrokerRegistrationException: Another broker is registered with that broker id.", "kraft-node-id-conflict"),
    ],
)
def test_each_kraft_signature(line: str, signature: str) -> None:
    text = f"[2026-12-02 16:38:00,000] ERROR Exiting Kafka due to fatal exception (kafka.Kafka$)\n{line}\n"
    assert [f.signature.id for f in d_quorum.scan_kraft(text)] == [signature]


def test_info_lines_that_mention_the_settings_are_not_failures() -> None:
    text = "[2026-12-02 16:38:00,000] INFO KafkaConfig values:\n\tcontroller.quorum.voters = [1@localhost:9093]\n"
    assert d_quorum.scan_kraft(text) == []


def _uv(n: int) -> bytes:
    return quorum._uvarint(n)


def test_describe_quorum_request_and_response_wire_format() -> None:
    frame = quorum.encode_request(7, client_id="c")
    (size,) = struct.unpack(">i", frame[:4])
    assert size == len(frame) - 4
    assert frame[4:16] == struct.pack(">hhih", 55, 0, 7, 1) + b"c" + b"\x00"  # header v2: key, version, correlation, client id, no tags
    assert b"__cluster_metadata" in frame

    def replica(rid: int, leo: int) -> bytes:
        return struct.pack(">iq", rid, leo) + b"\x00"

    topic = b"__cluster_metadata"
    partition = struct.pack(">ihiiq", 0, 0, 1, 5, 120) + _uv(3) + replica(1, 120) + replica(2, 100) + _uv(2) + replica(3, 119) + b"\x00"
    body = struct.pack(">i", 7) + b"\x00" + struct.pack(">h", 0) + _uv(2) + _uv(len(topic) + 1) + topic + _uv(2) + partition + b"\x00" + b"\x00"
    info = quorum.decode_response(body, 7)
    assert (info.leader_id, info.leader_epoch, info.high_watermark) == (1, 5, 120)
    assert [(v.id, info.lag(v)) for v in info.voters] == [(1, 0), (2, 20)]
    assert info.max_voter_lag == 20 and [o.id for o in info.observers] == [3]

    error = struct.pack(">i", 7) + b"\x00" + struct.pack(">h", 41)
    with pytest.raises(quorum.QuorumError, match="NOT_CONTROLLER"):
        quorum.decode_response(error, 7)


def test_the_jvm_tools_status_output_parses() -> None:
    text = """ClusterId:              0kezJqQtSzyUs0EW6T8wDA
LeaderId:               1
LeaderEpoch:            3
HighWatermark:          32
MaxFollowerLag:         7
MaxFollowerLagTimeMs:   0
CurrentVoters:          [{"id": 1, "endpoints": ["CONTROLLER://localhost:19093"]}, {"id": 2, "endpoints": ["CONTROLLER://localhost:19094"]}]
CurrentObservers:       []
"""
    info = quorum.parse_status(text)
    assert (info.leader_id, info.leader_epoch, info.high_watermark) == (1, 3, 32)
    assert [v.id for v in info.voters] == [1, 2] and info.max_voter_lag == 7
    with pytest.raises(quorum.QuorumError, match="unexpected kafka-metadata-quorum output"):
        quorum.parse_status("Error: something")


def test_client_security_handed_to_the_java_tool() -> None:
    assert d_quorum.java_client_config({}) == {}
    conf = d_quorum.java_client_config(
        {"security.protocol": "sasl_ssl", "sasl.mechanism": "SCRAM-SHA-256", "sasl.username": "u", "sasl.password": 'p"w', "ssl.ca.location": "/ca.pem"}
    )
    assert conf == {
        "security.protocol": "SASL_SSL",
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": "/ca.pem",
        "sasl.mechanism": "SCRAM-SHA-256",
        "sasl.jaas.config": 'org.apache.kafka.common.security.scram.ScramLoginModule required username="u" password="p\\"w";',
    }
    assert d_quorum.java_client_config({"security.protocol": "SSL", "ssl.certificate.location": "/c.pem"}) is None
    assert d_quorum.java_client_config({"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "GSSAPI"}) is None
