"""Name resolution and TCP probes with hard time limits (doctor's endpoint checks).

``getaddrinfo`` has no timeout of its own, so it runs in a daemon thread that is abandoned when it
takes too long: a slow DNS server costs at most ``timeout`` seconds, never the resolver's default.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass

LOCAL_NAMES = frozenset({"", "localhost", "localhost.localdomain", "0.0.0.0", "::", "::1", "ip6-localhost"})


@dataclass(frozen=True)
class Probe:
    host: str
    port: int
    resolved: tuple[str, ...]  # the addresses the name resolved to
    connected: bool
    error: str | None  # "does not resolve", "connection refused", "timed out", ...
    ms: float


def resolve(host: str, timeout: float = 1.0) -> tuple[str, ...] | None:
    """The addresses ``host`` resolves to; None when it does not resolve within ``timeout``."""
    result: list[tuple[str, ...] | None] = [None]

    def run() -> None:
        try:
            infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
            result[0] = tuple(dict.fromkeys(str(info[4][0]) for info in infos))
        except (OSError, UnicodeError):
            result[0] = None

    worker = threading.Thread(target=run, daemon=True, name=f"resolve-{host}")
    worker.start()
    worker.join(timeout)
    return result[0]


def probe(host: str, port: int, timeout: float = 1.0) -> Probe:
    """Resolve ``host`` and open (then close) a TCP connection to ``host:port``."""
    t0 = time.perf_counter()
    addresses = resolve(host, timeout)
    if not addresses:
        return Probe(host, port, (), False, "does not resolve", round((time.perf_counter() - t0) * 1000, 1))
    error: str | None = None
    for address in addresses:
        try:
            with socket.create_connection((address, port), timeout=timeout):
                return Probe(host, port, addresses, True, None, round((time.perf_counter() - t0) * 1000, 1))
        except ConnectionRefusedError:
            error = "connection refused"
        except TimeoutError:
            error = "timed out"
        except OSError as exc:
            error = exc.strerror or str(exc)
    return Probe(host, port, addresses, False, error, round((time.perf_counter() - t0) * 1000, 1))


def _local_addresses() -> set[str]:
    import psutil

    addrs = {"127.0.0.1", "::1"}
    try:
        for entries in psutil.net_if_addrs().values():
            for entry in entries:
                addrs.add(entry.address.split("%", 1)[0])
    except (OSError, RuntimeError):
        pass
    return addrs


def is_local(host: str, timeout: float = 1.0) -> bool:
    """Whether ``host`` names this machine (so its processes and files can be inspected)."""
    name = host.strip("[]").lower()
    if name in LOCAL_NAMES or name.startswith("127.") or name == socket.gethostname().lower():
        return True
    addresses = resolve(name, timeout)
    if not addresses:
        return False
    return all(a in _local_addresses() or a.startswith("127.") for a in addresses)


def split_hostport(address: str, default_port: int) -> tuple[str, int]:
    """``host:port`` (or ``[v6]:port``, or a bare host) of the first entry in a comma-separated list."""
    first = address.split(",")[0].strip()
    if "://" in first:
        first = first.split("://", 1)[1]
    if first.startswith("["):
        host, _, rest = first[1:].partition("]")
        port = rest.lstrip(":")
    elif first.count(":") == 1:
        host, _, port = first.partition(":")
    else:
        host, port = first, ""
    try:
        return host, int(port) if port else default_port
    except ValueError:
        return host, default_port
