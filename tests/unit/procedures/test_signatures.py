"""Known failure signatures, on log text in the shape Kafka 3.9 / ZooKeeper 3.8 write it."""

from __future__ import annotations

from kafkaops.procedures.signatures import classify, scan

NODE_EXISTS = """\
[2026-11-28 10:00:01,000] INFO Creating /brokers/ids/0 (is it secure? false) (kafka.zk.KafkaZkClient)
[2026-11-28 10:00:01,010] ERROR Error while creating ephemeral at /brokers/ids/0, node already exists and owner '0x1000019663a0000' does not match current session '0x1000019663a0001' (kafka.zk.KafkaZkClient$CheckedEphemeral)
[2026-11-28 10:00:01,020] ERROR [KafkaServer id=0] Fatal error during KafkaServer startup. Prepare to shutdown (kafka.server.KafkaServer)
org.apache.zookeeper.KeeperException$NodeExistsException: KeeperErrorCode = NodeExists
\tat org.apache.zookeeper.KeeperException.create(KeeperException.java:126)
"""

CLUSTER_ID = """\
[2026-11-28 10:00:01,000] INFO Cluster ID = abc (kafka.server.KafkaServer)
[2026-11-28 10:00:01,020] ERROR Fatal error during KafkaServer startup. Prepare to shutdown (kafka.server.KafkaServer)
java.lang.RuntimeException: Invalid cluster.id in: /tmp/kafka-logs/meta.properties. Expected abc, but read xyz
"""

ZK_TIMEOUT = """\
[2026-11-28 10:00:19,000] ERROR Fatal error during KafkaServer startup. Prepare to shutdown (kafka.server.KafkaServer)
kafka.zookeeper.ZooKeeperClientTimeoutException: Timed out waiting for connection while in state: CONNECTING
"""

BIND = "[2026-11-28 10:00:01,000] ERROR [KafkaServer id=0] Fatal error during KafkaServer startup. Prepare to shutdown (kafka.server.KafkaServer)\norg.apache.kafka.common.KafkaException: Socket server failed to bind to 0.0.0.0:9092: Address already in use.\n"

ZK_BIND = """\
[2026-11-28 10:00:00,000] INFO binding to port 0.0.0.0/0.0.0.0:2181 (org.apache.zookeeper.server.NIOServerCnxnFactory)
[2026-11-28 10:00:00,010] ERROR Unexpected exception, exiting abnormally (org.apache.zookeeper.server.ZooKeeperServerMain)
java.net.BindException: Address already in use
"""

WINDOWS = """\
[2026-11-28 10:00:00,000] ERROR Error while renaming dir for test-0 in log dir C:\\tmp\\kafka-logs (org.apache.kafka.storage.internals.log.LogDirFailureChannel)
java.nio.file.AccessDeniedException: C:\\tmp\\kafka-logs\\test-0 -> C:\\tmp\\kafka-logs\\test-0.57b7-delete
[2026-11-28 10:00:00,100] ERROR Shutdown broker because all log dirs in C:\\tmp\\kafka-logs have failed (kafka.log.LogManager)
"""


def test_node_exists_is_one_finding_with_line_and_time() -> None:
    findings = scan(NODE_EXISTS)
    assert [f.id for f in findings] == ["kafka.node_exists", "kafka.node_exists"]
    assert findings[0].line_no == 2 and findings[0].timestamp == "2026-11-28 10:00:01,010"
    assert classify(NODE_EXISTS).signature.runbook == "failures stale-broker-registration"


def test_cluster_id_mismatch_new_wording_on_the_line_after_fatal() -> None:
    f = classify(CLUSTER_ID)
    assert f.id == "kafka.cluster_id_mismatch" and f.line_no == 2
    old = "kafka.common.InconsistentClusterIdException: The Cluster ID a doesn't match stored clusterId Some(b) in meta.properties"
    assert classify(old).id == "kafka.cluster_id_mismatch"


def test_other_signatures() -> None:
    assert classify(ZK_TIMEOUT).id == "kafka.zk_timeout"
    assert classify(BIND).id == "kafka.bind"
    assert classify(ZK_BIND).id == "zk.bind"
    ids = [f.id for f in scan(WINDOWS)]
    assert ids == ["windows.file_lock", "kafka.all_logdirs_failed"]


def test_healthy_log_has_no_findings() -> None:
    healthy = "[2026-11-28 10:00:00,000] INFO [KafkaServer id=0] started (kafka.server.KafkaServer)\n"
    assert scan(healthy) == [] and classify(healthy) is None


def test_warnings_rank_below_errors() -> None:
    text = "[2026-11-28 10:00:00,000] INFO Recovering 3 logs from /d since no clean shutdown file was found (kafka.log.LogManager)\n" + NODE_EXISTS
    assert classify(text).id == "kafka.node_exists"
    assert scan(text)[0].id == "kafka.recovery"
