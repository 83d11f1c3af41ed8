from __future__ import annotations

import os
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


def test_written_files_are_ascii_with_java_escapes(tmp_path: Path) -> None:
    # What Properties.store writes: the file means the same as ISO-8859-1 (how Kafka and ZooKeeper
    # read it) and as UTF-8 (how an editor shows it).
    values = {"log.dirs": "/srv/données-ü", "dataDir": "/srv/日本", "emoji": "a😀"}
    write_properties(tmp_path / "x.properties", values, header="made in Zürich")
    data = (tmp_path / "x.properties").read_bytes()
    assert data == (b"# made in Z\\u00fcrich\nlog.dirs=/srv/donn\\u00e9es-\\u00fc\ndataDir=/srv/\\u65e5\\u672c\nemoji=a\\ud83d\\ude00\n")
    assert read_properties(tmp_path / "x.properties").values == values


def test_iso_8859_1_bytes_and_escapes_read_as_java_reads_them(tmp_path: Path) -> None:
    p = tmp_path / "zookeeper.properties"
    p.write_bytes(b"dataDir=/srv/donn\xe9es-\xfc\nother=/srv/donn\\u00e9es-\\u00fc\n")
    assert read_properties(p).values == {"dataDir": "/srv/données-ü", "other": "/srv/données-ü"}


def test_a_utf8_value_is_refused_with_what_kafka_would_use_and_the_escaped_form(tmp_path: Path) -> None:
    p = tmp_path / "server.properties"
    p.write_text("# Données de Kafka: a UTF-8 comment is harmless\nbroker.id=0\nlog.dirs=/srv/données-ü\n", encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        read_properties(p)
    assert refused.value.message == (
        f"{p}, line 3: log.dirs is written in UTF-8 ('/srv/données-ü'), "
        "but Kafka and ZooKeeper read .properties files as ISO-8859-1 and would use '/srv/donnÃ©es-Ã¼'"
    )
    assert refused.value.hint == (
        "write its non-ASCII characters as \\uXXXX escapes (log.dirs=/srv/donn\\u00e9es-\\u00fc), or save server.properties as ISO-8859-1"
    )
    assert refused.value.exit_code == 2


def test_a_utf8_secret_is_refused_without_showing_it(tmp_path: Path) -> None:
    p = tmp_path / "server.properties"
    p.write_text("ssl.keystore.password=pässwörd\n", encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        read_properties(p)
    assert "ssl.keystore.password is written in UTF-8" in refused.value.message
    shown = refused.value.message + (refused.value.hint or "")
    assert not any(form in shown for form in ("pässwörd", "pÃ¤sswÃ¶rd", "p\\u00e4ssw\\u00f6rd"))


def test_a_utf8_comment_alone_is_fine(tmp_path: Path) -> None:
    p = tmp_path / "server.properties"
    p.write_text("# Données\nbroker.id=0\n", encoding="utf-8")
    assert read_properties(p).values == {"broker.id": "0"}


def test_listener_names_with_underscores_are_parsed() -> None:
    # A SASL_SSL listener made every command fail: urlsplit does not take '_' in a scheme.
    got = parse_listeners("PLAINTEXT://localhost:9092,SASL_SSL://localhost:9093,internal_tls://:9094")
    assert [(lst.name, lst.host, lst.port) for lst in got] == [
        ("PLAINTEXT", "localhost", 9092),
        ("SASL_SSL", "localhost", 9093),
        ("INTERNAL_TLS", "", 9094),
    ]


def test_a_private_file_never_writes_through_a_leftover_tmp_link(tmp_path: Path) -> None:
    # The secret was written into whatever `<name>.tmp` already was (opened with O_TRUNC, then chmod): a
    # leftover symlink sent the password to its target, a hard link into the file sharing its inode.
    elsewhere, shared = tmp_path / "elsewhere.txt", tmp_path / "shared.txt"
    elsewhere.write_text("public\n")
    shared.write_text("public\n")
    (tmp_path / "a.properties.tmp").symlink_to(elsewhere)
    write_properties(tmp_path / "a.properties", {"password": "s3cret"}, private=True)
    os.link(shared, tmp_path / "b.properties.tmp")
    write_properties(tmp_path / "b.properties", {"password": "s3cret"}, private=True)
    assert elsewhere.read_text() == shared.read_text() == "public\n"
    for name in ("a.properties", "b.properties"):
        assert "s3cret" in (tmp_path / name).read_text() and (tmp_path / name).stat().st_mode & 0o777 == 0o600
        assert not (tmp_path / name).is_symlink() and not (tmp_path / (name + ".tmp")).exists()
