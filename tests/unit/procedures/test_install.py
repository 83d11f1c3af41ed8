from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from kafkaops.errors import KafkaopsError, UsageError
from kafkaops.procedures.install import check_version, parse_sha512, pom_xml


def test_sha512_formats() -> None:
    digest = hashlib.sha512(b"x").hexdigest()
    # Apache's gpg --print-md layout: upper case, grouped, wrapped.
    groups = " ".join(digest[i : i + 8].upper() for i in range(0, 128, 8))
    apache = f"kafka_2.13-3.9.2.tgz: {groups[:60]}\n{' ' * 22}{groups[60:]}\n"
    assert parse_sha512(apache) == digest
    assert parse_sha512(f"{digest}  kafka_2.13-3.9.2.tgz\n") == digest
    with pytest.raises(KafkaopsError):
        parse_sha512("<html>not found</html>")


def test_versions_pick_the_mode() -> None:
    assert check_version("3.9.2") == "zookeeper"
    assert check_version("4.4.0") == "kraft" and check_version("4.1.1") == "kraft"
    with pytest.raises(UsageError, match="Maven Central"):
        check_version("4.0.0")
    with pytest.raises(UsageError, match="older"):
        check_version("2.8.2")
    with pytest.raises(UsageError):
        check_version("latest")


def test_pom_has_the_logging_backend() -> None:
    pom = pom_xml("3.9.2")
    assert "<artifactId>kafka_2.13</artifactId><version>3.9.2</version>" in pom
    assert "slf4j-reload4j" in pom and "<artifactId>reload4j</artifactId><version>1.2.25</version>" in pom


def test_kraft_pom_binds_log4j2_to_slf4j_2() -> None:
    pom = pom_xml("4.4.0")
    assert "<artifactId>kafka_2.13</artifactId><version>4.4.0</version>" in pom
    assert "log4j-slf4j2-impl" in pom and "<artifactId>log4j-core</artifactId>" in pom and "reload4j" not in pom
    # slf4j-api 2.x first: log4j-slf4j2-impl does not bind to the 1.7.36 that Kafka's POM asks for.
    assert pom.index("<artifactId>slf4j-api</artifactId><version>2.") < pom.index("kafka_2.13")


def test_kraft_configs(tmp_path: Path) -> None:
    from kafkaops.adapters.javaprops import read_properties
    from kafkaops.procedures.layout import write_kraft_configs

    write_kraft_configs(tmp_path / "config", tmp_path / "data")
    combined = read_properties(tmp_path / "config" / "server.properties")
    assert combined.get("process.roles") == "broker,controller" and combined.get("node.id") == "1"
    assert combined.get("listeners") == "PLAINTEXT://localhost:9092,CONTROLLER://localhost:9093"
    assert combined.get("controller.quorum.voters") == "1@localhost:9093"
    assert combined.get("log.dirs") == str(tmp_path / "data" / "kraft-logs")
    assert "${sys:kafka.logs.dir}/server.log" in (tmp_path / "config" / "log4j2.yaml").read_text()
    broker = read_properties(tmp_path / "config" / "split" / "server.properties")
    controller = read_properties(tmp_path / "config" / "split" / "controller.properties")
    assert broker.get("process.roles") == "broker" and controller.get("process.roles") == "controller"
    assert broker.get("controller.quorum.voters") == controller.get("controller.quorum.voters") == "1@localhost:9093"
    assert broker.get("log.dirs") != controller.get("log.dirs")
