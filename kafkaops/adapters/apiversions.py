"""Which mode a Kafka cluster runs in, asked over the wire: one ApiVersions request (v0) to a broker.

confluent-kafka exposes neither ApiVersions nor DescribeQuorum. A broker in ZooKeeper mode lists the
ZooKeeper-controller APIs (LeaderAndIsr, key 4) among the APIs it serves; a KRaft broker never does
(KIP-500: those APIs exist only between a ZooKeeper-mode controller and its brokers). ApiVersions v0
is answered by every broker, whatever its version: a broker that does not support the version asked
still answers in v0 with its list (KIP-511). PLAINTEXT listeners only: over TLS or SASL the mode is
unknown (None).
"""

from __future__ import annotations

import socket
import struct

API_VERSIONS = 18
LEADER_AND_ISR = 4


def api_keys(host: str, port: int, timeout: float = 2.0) -> set[int] | None:
    """The API keys the broker at host:port serves, or None when it does not answer ApiVersions."""
    client_id = b"kafkaops"
    body = struct.pack(">hhih", API_VERSIONS, 0, 1, len(client_id)) + client_id
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(struct.pack(">i", len(body)) + body)
            size = struct.unpack(">i", _read(sock, 4))[0]
            if not 6 <= size <= 1 << 20:
                return None
            data = _read(sock, size)
    except (OSError, struct.error, ConnectionError):
        return None
    _corr, _error, count = struct.unpack(">ihi", data[:10])
    if count < 0 or 10 + 6 * count > len(data):
        return None
    return {struct.unpack(">h", data[10 + 6 * i : 12 + 6 * i])[0] for i in range(count)}


def _read(sock: socket.socket, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise ConnectionError("closed")
        out += chunk
    return out


def cluster_mode(host: str, port: int, timeout: float = 2.0) -> str | None:
    """ "kraft" or "zookeeper" for the broker at host:port; None when it cannot be told (no answer)."""
    keys = api_keys(host, port, timeout)
    if not keys:
        return None
    return "zookeeper" if LEADER_AND_ISR in keys else "kraft"
