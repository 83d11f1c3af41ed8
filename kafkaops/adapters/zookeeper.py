"""ZooKeeper: the ``srvr`` four-letter word over a socket, and znode reads through kazoo.

``srvr`` is always enabled (``ruok`` is not, with Kafka's stock config), and it tells a ZooKeeper
that serves (``Mode: standalone``) from one that has bound its port but is not serving yet.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from kafkaops.errors import UnreachableError

NOT_SERVING = "not currently serving requests"


@dataclass(frozen=True)
class Srvr:
    serving: bool
    mode: str | None
    version: str | None
    raw: str


def parse_hostport(connect: str, default_port: int = 2181) -> tuple[str, int]:
    """The first host:port of a ZooKeeper connect string (``h1:2181,h2:2181/chroot``)."""
    first = connect.split("/", 1)[0].split(",")[0].strip()
    if first.startswith("["):
        host, _, rest = first[1:].partition("]")
        port = rest.lstrip(":")
    else:
        host, _, port = first.rpartition(":") if ":" in first else (first, "", "")
    try:
        return host or "localhost", int(port) if port else default_port
    except ValueError:
        raise UnreachableError(f"ZooKeeper address {connect!r} has no valid port") from None


def parse_srvr(raw: str) -> Srvr:
    if NOT_SERVING in raw:
        return Srvr(serving=False, mode=None, version=None, raw=raw)
    fields: dict[str, str] = {}
    for line in raw.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    mode = fields.get("Mode")
    version = fields.get("Zookeeper version", "").split("-", 1)[0].split(",", 1)[0] or None
    return Srvr(serving=mode is not None, mode=mode, version=version, raw=raw)


def srvr(host: str, port: int, timeout: float = 1.0) -> Srvr | None:
    """Send ``srvr``; None when nothing answers on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(b"srvr")
            chunks: list[bytes] = []
            while True:
                data = sock.recv(4096)
                if not data:
                    break
                chunks.append(data)
    except OSError:
        return None
    return parse_srvr(b"".join(chunks).decode("utf-8", "replace"))


@contextmanager
def connect(connect_string: str, timeout: float = 5.0) -> Iterator[Any]:
    """A started kazoo client, stopped and closed on exit."""
    import logging

    from kazoo.client import KazooClient
    from kazoo.handlers.threading import KazooTimeoutError

    logging.getLogger("kazoo").setLevel(logging.CRITICAL)  # kazoo logs reconnect noise as errors
    client = KazooClient(hosts=connect_string, timeout=10.0, connection_retry={"max_tries": 1})
    try:
        client.start(timeout=timeout)
    except KazooTimeoutError:
        client.close()
        raise UnreachableError(
            f"ZooKeeper at {connect_string} did not answer within {timeout:g}s",
            hint="run `kafkaops status`; start the stack with `kafkaops up`",
            runbook="failures zookeeper-unreachable",
        ) from None
    try:
        yield client
    finally:
        client.stop()
        client.close()


@dataclass(frozen=True)
class BrokerZnode:
    broker_id: int
    endpoints: tuple[str, ...]
    owner_session: int
    czxid: int
    created: float


def broker_znode(client: Any, broker_id: int) -> BrokerZnode | None:
    from kazoo.exceptions import NoNodeError

    try:
        data, stat = client.get(f"/brokers/ids/{broker_id}")
    except NoNodeError:
        return None
    try:
        endpoints = tuple(json.loads(data.decode("utf-8")).get("endpoints", []))
    except (ValueError, AttributeError):
        endpoints = ()
    return BrokerZnode(broker_id, endpoints, stat.ephemeralOwner, stat.czxid, stat.created)


def cluster_id(client: Any) -> str | None:
    from kazoo.exceptions import NoNodeError

    try:
        data, _ = client.get("/cluster/id")
    except NoNodeError:
        return None
    try:
        return str(json.loads(data.decode("utf-8"))["id"])
    except (ValueError, KeyError):
        return None


def controller_id(client: Any) -> int | None:
    from kazoo.exceptions import NoNodeError

    try:
        data, _ = client.get("/controller")
    except NoNodeError:
        return None
    try:
        return int(json.loads(data.decode("utf-8"))["brokerid"])
    except (ValueError, KeyError):
        return None


def broker_ids(client: Any) -> list[int]:
    from kazoo.exceptions import NoNodeError

    try:
        return sorted(int(x) for x in client.get_children("/brokers/ids"))
    except NoNodeError:
        return []


def migration_znode(client: Any) -> dict[str, Any] | None:
    """The /migration znode a KRaft controller in migration mode writes (kraft_controller_id, kraft_metadata_offset, ...); None when absent."""
    from kazoo.exceptions import NoNodeError

    try:
        data, _ = client.get("/migration")
    except NoNodeError:
        return None
    try:
        value = json.loads(data.decode("utf-8"))
    except (ValueError, AttributeError):
        return {}
    return value if isinstance(value, dict) else {}


def delete_tree(client: Any, path: str) -> bool:
    """Delete a znode and its children (zookeeper-shell's ``deleteall``); False when it did not exist."""
    from kazoo.exceptions import NoNodeError

    try:
        client.delete(path, recursive=True)
    except NoNodeError:
        return False
    return True
