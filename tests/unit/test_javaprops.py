from __future__ import annotations

from pathlib import Path

import pytest

from kafkaops.adapters.javaprops import parse_listeners, read_properties, write_properties
from kafkaops.errors import ConfigError


def test_escapes_continuations_and_lists(tmp_path: Path) -> None:
    p = tmp_path / "server.properties"
    p.write_bytes(
        b"# comment\n! also a comment\nlog.dirs=/data/a,\\\n    /data/b , /data/c\n"
        b"key\\ with\\ spaces = v\nwin=C:\\\\kafka\\\\logs\nunicode=caf\\u00e9\nempty=\n"
    )
    props = read_properties(p)
    assert props.get_list("log.dirs") == ["/data/a", "/data/b", "/data/c"]
    assert props.get("key with spaces") == "v"
    assert props.get("win") == "C:\\kafka\\logs"
    assert props.get("unicode") == "café"
    assert props.get("empty", "dflt") == "dflt"
    assert props.get_int("missing", 7) == 7


def test_write_then_read_round_trips(tmp_path: Path) -> None:
    values = {"dataDir": "C:\\Users\\me\\zk", "a=b": "c:d", "lead": " x", "euro": "€", "log.dirs": "/a,/b"}
    write_properties(tmp_path / "x.properties", values, header="made by a test")
    assert read_properties(tmp_path / "x.properties").values == values


def test_bad_int_and_missing_file(tmp_path: Path) -> None:
    p = tmp_path / "z.properties"
    p.write_text("clientPort=twenty\n")
    with pytest.raises(ConfigError, match="not a whole number"):
        read_properties(p).get_int("clientPort", 2181)
    with pytest.raises(ConfigError, match="not found"):
        read_properties(tmp_path / "missing.properties")


def test_listeners() -> None:
    got = parse_listeners("PLAINTEXT://:9092, SSL://broker.example:9093,PLAINTEXT2://[::1]:9094")
    assert [(x.name, x.host, x.port) for x in got] == [("PLAINTEXT", "", 9092), ("SSL", "broker.example", 9093), ("PLAINTEXT2", "::1", 9094)]
    with pytest.raises(ConfigError):
        parse_listeners("localhost:9092")
    with pytest.raises(ConfigError):
        parse_listeners("PLAINTEXT://localhost")


def test_listener_names_with_underscores_are_parsed() -> None:
    # A SASL_SSL listener made every command fail: urlsplit does not take '_' in a scheme.
    got = parse_listeners("PLAINTEXT://localhost:9092,SASL_SSL://localhost:9093,internal_tls://:9094")
    assert [(lst.name, lst.host, lst.port) for lst in got] == [
        ("PLAINTEXT", "localhost", 9092),
        ("SASL_SSL", "localhost", 9093),
        ("INTERNAL_TLS", "", 9094),
    ]
