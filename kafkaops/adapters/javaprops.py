r"""Java ``.properties`` files (server.properties, zookeeper.properties), read with jproperties.

jproperties handles the format's escapes, line continuations and comments; this module only adds
the few typed reads kafkaops needs (comma-separated lists, ints, listener URLs). kafkaops never
rewrites a user's file: :func:`write_properties` is only used for kafkaops's own copies.

The encoding is the one the services use. Kafka 3.9 (``Utils.loadProps``) and ZooKeeper 3.8
(``QuorumPeerConfig.parse``) both read their config with ``Properties.load(InputStream)``, that is
as ISO-8859-1 with ``\uXXXX`` escapes, not as UTF-8. So a file saved as UTF-8 with ``données`` in
``log.dirs`` makes the broker write to ``donnÃ©es``: such a value is refused (exit 2) with its
escaped form, rather than read as the broker would misread it or as the user meant it (either
would put kafkaops and the broker on different folders). :func:`write_properties` writes what
``Properties.store`` writes: ASCII, every other character as ``\uXXXX``.
"""

from __future__ import annotations

import os
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
        props.load(data, "iso-8859-1")  # what Kafka and ZooKeeper do (see the module doc)
    except Exception as exc:  # jproperties raises its own parse errors
        raise ConfigError(f"{path} is not a valid .properties file: {exc}") from None
    values = {k: v.data for k, v in props.items()}
    if not data.isascii():
        _refuse_utf8(path, data, values)
    return Properties(path=path, values=values)


_SECRET_WORDS = ("password", "secret", "jaas", "credential", "token")


def _utf8_meant(text: str) -> str | None:
    """What ``text`` was meant to be when it is UTF-8 bytes read as ISO-8859-1 (as Java reads them)."""
    if text.isascii():
        return None
    try:
        meant = text.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return None  # characters from \uXXXX escapes, or real ISO-8859-1 text
    return meant if meant != text else None


def _refuse_utf8(path: Path, data: bytes, values: dict[str, str]) -> None:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return  # an ISO-8859-1 file: read as the services read it
    for key, value in values.items():
        meant_key, meant = _utf8_meant(key), _utf8_meant(value)
        if meant_key is None and meant is None:
            continue
        name = meant_key or key
        line = _line_of(data.decode("latin-1"), key)
        where = f"{path}, line {line}" if line else str(path)
        secret = any(word in name.lower() for word in _SECRET_WORDS)
        shown = "" if secret else f" ({meant or value!r})"
        would = "" if secret else f" and would use {value!r}"
        escaped = f"{_escape(name, key=True)}={_escape(meant or value, key=False)}"
        raise ConfigError(
            f"{where}: {name} is written in UTF-8{shown}, but Kafka and ZooKeeper read .properties files as ISO-8859-1{would}",
            hint="write its non-ASCII characters as \\uXXXX escapes" + ("" if secret else f" ({escaped})") + f", or save {path.name} as ISO-8859-1",
        )


def _line_of(text: str, key: str) -> int | None:
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.lstrip()
        if stripped.startswith(key) and stripped[len(key) : len(key) + 1] in ("", "=", ":", " ", "\t", "\f"):
            return number
    return None


def _escape(text: str, *, key: bool) -> str:
    out = []
    for i, ch in enumerate(text):
        if ch == "\\":
            out.append("\\\\")
        elif ch in "\n\r\t\f":
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t", "\f": "\\f"}[ch])
        elif (key and ch in "=: #!") or (ch == " " and i == 0) or (ch in "#!" and i == 0):
            out.append("\\" + ch)
        elif not " " <= ch <= "~":  # as Properties.store: ASCII only, whatever the reader's encoding
            out.append("".join(f"\\u{unit:04x}" for unit in _utf16_units(ch)))
        else:
            out.append(ch)
    return "".join(out)


def _utf16_units(ch: str) -> list[int]:
    raw = ch.encode("utf-16-be", "surrogatepass")
    return [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]


def write_properties(path: Path, values: dict[str, str], header: str | None = None, *, private: bool = False) -> None:
    """Write a .properties file (kafkaops's own files only), in order, escaped as Java expects: ASCII
    only, so that the file means the same to the services (ISO-8859-1) and to any editor (UTF-8).

    ``private``: a file that holds a secret, readable by its owner only (0600 from its creation on, written
    beside and renamed into place, so no reader ever sees it half written or with a wider mode)."""
    lines = [f"# {_escape(line, key=False)}" for line in (header or "").splitlines()]
    lines += [f"{_escape(k, key=True)}={_escape(v, key=False)}" for k, v in values.items()]
    text = "\n".join(lines) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not private:
        path.write_text(text, encoding="ascii", errors="strict")
        return
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)  # a leftover (a crash's, or a link): never written through
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(fd, "w", encoding="ascii", errors="strict") as fh:
        fh.write(text)
    os.replace(tmp, path)


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
