from __future__ import annotations

import hashlib

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


def test_versions() -> None:
    check_version("3.9.2")
    with pytest.raises(UsageError, match="KRaft"):
        check_version("4.0.0")
    with pytest.raises(UsageError):
        check_version("latest")


def test_pom_has_the_logging_backend() -> None:
    pom = pom_xml("3.9.2")
    assert "<artifactId>kafka_2.13</artifactId><version>3.9.2</version>" in pom
    assert "slf4j-reload4j" in pom and "<artifactId>reload4j</artifactId><version>1.2.25</version>" in pom
