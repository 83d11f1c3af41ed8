"""The KRaft metadata quorum as a broker reports it: one DescribeQuorum request (Kafka API key 55).

The Python client (librdkafka) has no DescribeQuorum call, and Kafka's own MetadataQuorumCommand is
a JVM tool that takes seconds to start. A broker answers DescribeQuorum for any client (it forwards
the request to the active controller, as `kafka-metadata-quorum --bootstrap-server` relies on), so
this module sends the one request over a plain TCP connection: a few milliseconds on a healthy
cluster. Only the PLAINTEXT protocol is spoken here; a cluster behind TLS or SASL gets ``None`` from
:func:`supported` and the caller falls back to what the admin API exposes.

Wire format (DescribeQuorum v0, a flexible version; request header v2, response header v1), from
Kafka's ``DescribeQuorumRequest.json`` / ``DescribeQuorumResponse.json``.
"""

from __future__ import annotations

import os
import socket
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

API_KEY = 55
API_VERSION = 0
METADATA_TOPIC = "__cluster_metadata"


@dataclass(frozen=True)
class Replica:
    id: int
    log_end_offset: int


@dataclass(frozen=True)
class QuorumInfo:
    leader_id: int  # -1: no leader elected
    leader_epoch: int
    high_watermark: int
    voters: tuple[Replica, ...]
    observers: tuple[Replica, ...] = field(default=())
    reported_max_lag: int | None = None  # when only the largest lag is known (the JVM tool's --status)

    def lag(self, replica: Replica) -> int:
        """How many metadata records a replica is behind the leader's high watermark (0 when caught up)."""
        return max(0, self.high_watermark - replica.log_end_offset)

    @property
    def max_voter_lag(self) -> int:
        if self.reported_max_lag is not None:
            return self.reported_max_lag
        return max((self.lag(v) for v in self.voters), default=0)


class QuorumError(Exception):
    """The request could not be made or the broker answered with an error code."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


# Error codes a broker gives for DescribeQuorum (Kafka's Errors.java)
_ERRORS = {
    3: "UNKNOWN_TOPIC_OR_PARTITION",
    6: "NOT_LEADER_OR_FOLLOWER",
    15: "COORDINATOR_NOT_AVAILABLE",
    31: "CLUSTER_AUTHORIZATION_FAILED",
    35: "UNSUPPORTED_VERSION",
    41: "NOT_CONTROLLER",
}


def _uvarint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def encode_request(correlation_id: int, client_id: str = "kafkaops-doctor") -> bytes:
    """The framed DescribeQuorum v0 request for partition 0 of __cluster_metadata."""
    cid = client_id.encode()
    header = struct.pack(">hhih", API_KEY, API_VERSION, correlation_id, len(cid)) + cid + b"\x00"
    topic = METADATA_TOPIC.encode()
    body = (
        _uvarint(2)  # topics: one
        + _uvarint(len(topic) + 1)
        + topic
        + _uvarint(2)  # partitions: one
        + struct.pack(">i", 0)
        + b"\x00"  # partition tagged fields
        + b"\x00"  # topic tagged fields
        + b"\x00"  # request tagged fields
    )
    payload = header + body
    return struct.pack(">i", len(payload)) + payload


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, fmt: str) -> int:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise QuorumError("truncated DescribeQuorum response")
        (value,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return int(value)

    def uvarint(self) -> int:
        shift = result = 0
        while True:
            b = self.take(">B")
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7
            if shift > 35:
                raise QuorumError("malformed varint in DescribeQuorum response")

    def compact_string(self) -> str:
        n = self.uvarint() - 1
        if n < 0:
            return ""
        raw = self.data[self.pos : self.pos + n]
        self.pos += n
        return raw.decode("utf-8", "replace")

    def tagged_fields(self) -> None:
        for _ in range(self.uvarint()):
            self.uvarint()  # tag
            self.pos += self.uvarint()  # size, then skip the value


def _replicas(r: _Reader) -> tuple[Replica, ...]:
    out = []
    for _ in range(max(0, r.uvarint() - 1)):
        rid = r.take(">i")
        leo = r.take(">q")
        r.tagged_fields()
        out.append(Replica(rid, leo))
    return tuple(out)


def decode_response(data: bytes, correlation_id: int) -> QuorumInfo:
    """Parse a DescribeQuorum v0 response (without its 4-byte length)."""
    r = _Reader(data)
    if r.take(">i") != correlation_id:
        raise QuorumError("DescribeQuorum response for another request")
    r.tagged_fields()  # response header v1
    top = r.take(">h")
    if top:
        raise QuorumError(f"the broker answered DescribeQuorum with {_ERRORS.get(top, f'error {top}')}", top)
    info: QuorumInfo | None = None
    for _ in range(max(0, r.uvarint() - 1)):
        r.compact_string()
        for _ in range(max(0, r.uvarint() - 1)):
            r.take(">i")  # partition index
            code = r.take(">h")
            leader, epoch, hw = r.take(">i"), r.take(">i"), r.take(">q")
            voters = _replicas(r)
            observers = _replicas(r)
            r.tagged_fields()
            if code:
                raise QuorumError(f"the metadata partition answered with {_ERRORS.get(code, f'error {code}')}", code)
            info = QuorumInfo(leader, epoch, hw, voters, observers)
        r.tagged_fields()
    if info is None:
        raise QuorumError("the DescribeQuorum response names no metadata partition")
    return info


def _read_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise QuorumError("the broker closed the connection before answering DescribeQuorum")
        buf += chunk
    return bytes(buf)


def describe_quorum(host: str, port: int, timeout: float = 2.0) -> QuorumInfo:
    """Ask the broker at ``host:port`` (PLAINTEXT) for the metadata quorum; :class:`QuorumError` when it cannot say."""
    correlation_id = 0x6B6F
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(encode_request(correlation_id))
            (size,) = struct.unpack(">i", _read_exact(sock, 4))
            if size <= 0 or size > 1 << 20:
                raise QuorumError(f"unexpected DescribeQuorum response size {size}")
            return decode_response(_read_exact(sock, size), correlation_id)
    except OSError as exc:
        raise QuorumError(f"DescribeQuorum to {host}:{port} failed: {exc}") from exc


# --------------------------------------------------------------------------------------------
# The slow fallback: Kafka's own MetadataQuorumCommand (a JVM, seconds), for clusters behind TLS/SASL


def parse_status(text: str) -> QuorumInfo:
    """``kafka-metadata-quorum describe --status`` output (LeaderId, LeaderEpoch, HighWatermark,
    MaxFollowerLag, CurrentVoters) as a :class:`QuorumInfo`; the voters' own offsets are not printed
    there, only the largest lag (``reported_max_lag``)."""
    import json
    import re

    fields = dict(re.findall(r"^(\w+):\s+(.*)$", text, flags=re.MULTILINE))
    try:
        leader = int(fields["LeaderId"])
        epoch = int(fields.get("LeaderEpoch", "-1"))
        hw = int(fields.get("HighWatermark", "0"))
        max_lag = int(fields.get("MaxFollowerLag", "0"))
        raw = json.loads(fields.get("CurrentVoters", "[]"))
    except (KeyError, ValueError) as exc:
        raise QuorumError(f"unexpected kafka-metadata-quorum output: {text.strip()[:200]}") from exc
    ids = [int(v["id"]) if isinstance(v, dict) else int(v) for v in raw]
    return QuorumInfo(leader, epoch, hw, tuple(Replica(i, hw) for i in ids), reported_max_lag=max_lag)


def describe_quorum_jvm(java: str, kafka_home: Path, bootstrap: str, client_config: dict[str, str], timeout: float) -> QuorumInfo:
    """Run Kafka's MetadataQuorumCommand from ``kafka_home`` (needs kafka-tools in libs/) under ``timeout`` seconds."""
    import subprocess
    import tempfile

    libs = kafka_home / "libs"
    if not any(libs.glob("kafka-tools-*.jar")):
        raise QuorumError(f"{kafka_home} has no kafka-tools jar (MetadataQuorumCommand)")
    with tempfile.TemporaryDirectory(prefix="kafkaops-quorum-") as tmp:
        conf = Path(tmp) / "client.properties"
        conf.write_text("".join(f"{k}={v}\n" for k, v in client_config.items()), encoding="utf-8")
        os.chmod(conf, 0o600)
        cmd = [java, "-Xmx128m", "-XX:TieredStopAtLevel=1", "-cp", str(libs / "*"), "org.apache.kafka.tools.MetadataQuorumCommand"]
        cmd += ["--bootstrap-server", bootstrap, "--command-config", str(conf), "describe", "--status"]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as exc:
            raise QuorumError(f"kafka-metadata-quorum did not answer within {timeout:g}s") from exc
        except OSError as exc:
            raise QuorumError(f"kafka-metadata-quorum could not be run: {exc}") from exc
    if proc.returncode != 0:
        last = (proc.stderr or proc.stdout).strip().splitlines()
        raise QuorumError(f"kafka-metadata-quorum failed: {last[-1][:200] if last else proc.returncode}")
    return parse_status(proc.stdout)


def broker_config(admin: Any, timeout: float) -> tuple[list[int], dict[str, str]]:
    """The cluster's broker ids (describe_cluster) and the first broker's configuration (describe_configs), as plain values.

    Raises whatever the client raises (an unreachable cluster, a refused request): the caller decides what it means.
    """
    from confluent_kafka.admin import ConfigResource

    desc = admin.describe_cluster(request_timeout=timeout).result(timeout=timeout + 1)
    nodes = sorted(n.id for n in (desc.nodes or []))
    if not nodes:
        return [], {}
    resource = ConfigResource(ConfigResource.Type.BROKER, str(nodes[0]))
    configs = next(iter(admin.describe_configs([resource], request_timeout=timeout).values())).result(timeout=timeout + 1)
    return nodes, {name: (entry.value or "") for name, entry in configs.items()}
