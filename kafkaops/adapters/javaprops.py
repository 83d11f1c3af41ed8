"""Java ``.properties`` files (server.properties, zookeeper.properties), read with jproperties.

jproperties handles the format's escapes, line continuations and comments; this module only adds
the few typed reads kafkaops needs (comma-separated lists, ints, listener URLs). kafkaops never
rewrites a user's file: :func:`write_properties` is only used for kafkaops's own copies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from kafkaops.errors import ConfigError


@dataclass(frozen=True)
class Properties:
    path: Path
    values: dict[str, str]

    def get(self, key: str, default: str | None = None) -> str | None:
        value = self.values.get(key)
        return default if value is None or value == "" else value

    def get_int(self, key: str, default: int) -> int:
        raw = self.get(key)
        if raw is None:
            return default
        try:
            return int(raw.strip())
        except ValueError:
            raise ConfigError(
                f"{self.path}: {key}={raw!r} is not a whole number",
                hint=f"fix {key} in {self.path}",
            ) from None

    def get_list(self, key: str, default: str | None = None) -> list[str]:
        raw = self.get(key, default)
        if raw is None:
            return []
        return [item.strip() for item in raw.split(",") if item.strip()]


def read_properties(path: Path) -> Properties:
    from jproperties import Properties as JProperties  # lazy: keeps --help fast

    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}", hint="check KAFKA_HOME or the config path settings") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    props = JProperties()
    try:
        props.load(data, "iso-8859-1")
    except Exception as exc:  # jproperties raises its own parse errors
        raise ConfigError(f"{path} is not a valid .properties file: {exc}") from None
    return Properties(path=path, values={k: v.data for k, v in props.items()})


def _escape(text: str, *, key: bool) -> str:
    out = []
    for i, ch in enumerate(text):
        if ch == "\\":
            out.append("\\\\")
        elif ch in "\n\r\t\f":
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t", "\f": "\\f"}[ch])
        elif (key and ch in "=: #!") or (ch == " " and i == 0) or (ch in "#!" and i == 0):
            out.append("\\" + ch)
        elif ord(ch) > 0xFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "".join(out)


def write_properties(path: Path, values: dict[str, str], header: str | None = None) -> None:
    """Write a .properties file (kafkaops's own files only), in order, escaped as Java expects."""
    lines = [f"# {line}" for line in (header or "").splitlines()]
    lines += [f"{_escape(k, key=True)}={_escape(v, key=False)}" for k, v in values.items()]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="latin-1", errors="strict")


@dataclass(frozen=True)
class Listener:
    name: str
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"{self.name}://{self.host}:{self.port}"


def parse_listeners(raw: str | None) -> list[Listener]:
    """``PLAINTEXT://localhost:9092,SSL://:9093`` into listeners; an empty host stays empty."""
    listeners: list[Listener] = []
    for item in (raw or "").split(","):
        item = item.strip()
        if not item:
            continue
        # Not urlsplit: a URL scheme cannot hold '_', a listener name (SASL_SSL, INTERNAL_TLS) can.
        name, sep, address = item.partition("://")
        if not sep or not re.fullmatch(r"[A-Za-z0-9_-]+", name):
            raise ConfigError(f"listener {item!r} is not of the form NAME://host:port")
        try:
            port = urlsplit("//" + address).port
        except ValueError:
            port = None
        if port is None:
            raise ConfigError(f"listener {item!r} has no valid port")
        host = address.rsplit(":", 1)[0].strip("[]")
        listeners.append(Listener(name=name.upper(), host=host, port=port))
    return listeners
