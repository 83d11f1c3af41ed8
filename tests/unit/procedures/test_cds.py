"""Class-data sharing (services/cds.py): an archive made at the first start, checked once, then used; never a broken start."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from kafkaops.adapters import java as java_mod
from kafkaops.adapters.java import JavaInfo
from kafkaops.errors import KafkaopsError, UsageError
from kafkaops.procedures.services import cds
from kafkaops.procedures.services.launch import jvm_command
from kafkaops.settings import Settings, load_settings

# A real JVM; under CI=true (Java is part of the set-up) its absence fails the test instead of skipping it.
NEEDS_JAVA = pytest.mark.skipif(shutil.which("java") is None and not os.environ.get("CI"), reason="needs a real JVM")


def _settings(tmp_path: Path, **env: str) -> Settings:
    libs = tmp_path / "kafka" / "libs"
    libs.mkdir(parents=True, exist_ok=True)
    (libs / "kafka_2.13-4.4.0.jar").write_bytes(b"jar")
    base = {"KAFKAOPS_HOME": str(tmp_path / "ops"), "KAFKA_HOME": str(tmp_path / "kafka"), "KAFKAOPS_MODE": "kraft"}
    return load_settings(env=base | env, cwd=tmp_path)


@pytest.fixture
def java17(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """A Java 17 without running one; the archives the fake check was asked about."""
    monkeypatch.setattr(cds, "find_java", lambda java: JavaInfo(java, 17, 'openjdk version "17.0.15"'))
    checked: list[Path] = []

    def usable(java: str, archive: Path, classpath: str) -> bool:
        checked.append(archive)
        return archive.read_bytes() == b"good archive"

    monkeypatch.setattr(cds, "archive_usable", usable)
    monkeypatch.setattr(cds, "dump_accepted", lambda java, settings, service, part: True)
    return checked


def test_cds_is_on_by_default_and_off_with_kafkaops_cds(tmp_path: Path) -> None:
    assert _settings(tmp_path).cds is True
    for off in ("0", "off", "false", "no"):
        assert _settings(tmp_path, KAFKAOPS_CDS=off).cds is False
    with pytest.raises(UsageError, match="KAFKAOPS_CDS"):
        _settings(tmp_path, KAFKAOPS_CDS="maybe")


def test_off_means_no_options_and_no_java_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cds, "find_java", lambda java: pytest.fail("java asked while CDS is off"))
    assert cds.jvm_options(_settings(tmp_path, KAFKAOPS_CDS="off"), "kafka", "/usr/bin/java") == []


def test_first_start_dumps_the_next_checks_once_and_uses_it(tmp_path: Path, java17: list[Path]) -> None:
    settings = _settings(tmp_path)
    first = cds.jvm_options(settings, "kafka", "/usr/bin/java")
    assert first[0] == "-Xshare:auto" and first[1].startswith("-XX:ArchiveClassesAtExit=")
    part = Path(first[1].split("=", 1)[1])
    assert part.parent == settings.kafkaops_home / "cds" and part.name.startswith("kafka-") and part.name.endswith(".jsa.part")
    part.write_bytes(b"good archive")  # what the JVM writes when it exits
    second = cds.jvm_options(settings, "kafka", "/usr/bin/java")
    archive = part.with_name(part.name.removesuffix(".part"))
    assert second == ["-Xshare:auto", f"-XX:SharedArchiveFile={archive}"]
    assert archive.is_file() and not part.exists()
    assert cds.jvm_options(settings, "kafka", "/usr/bin/java") == second
    assert java17 == [archive]  # checked once, when it was promoted


def test_an_archive_changed_after_its_check_is_checked_again(tmp_path: Path, java17: list[Path]) -> None:
    settings = _settings(tmp_path)
    part = Path(cds.jvm_options(settings, "kafka", "/usr/bin/java")[1].split("=", 1)[1])
    part.write_bytes(b"good archive")
    archive = part.with_name(part.name.removesuffix(".part"))
    assert cds.jvm_options(settings, "kafka", "/usr/bin/java")[1] == f"-XX:SharedArchiveFile={archive}"
    archive.write_bytes(b"good arch")  # truncated on disk: would crash the JVM
    assert cds.jvm_options(settings, "kafka", "/usr/bin/java") == ["-Xshare:auto", f"-XX:ArchiveClassesAtExit={part}"]
    assert not archive.exists() and java17 == [archive, archive]


def test_an_archive_that_fails_the_check_is_deleted_and_made_again(tmp_path: Path, java17: list[Path]) -> None:
    settings = _settings(tmp_path)
    part = Path(cds.jvm_options(settings, "kafka", "/usr/bin/java")[1].split("=", 1)[1])
    part.write_bytes(b"truncated")
    again = cds.jvm_options(settings, "kafka", "/usr/bin/java")
    assert again == ["-Xshare:auto", f"-XX:ArchiveClassesAtExit={part}"]
    assert not part.exists()


def test_a_new_jar_set_is_a_new_archive_and_the_old_one_goes(tmp_path: Path, java17: list[Path]) -> None:
    settings = _settings(tmp_path)
    old = cds.archive_path(settings, "kafka", "/usr/bin/java")
    assert old is not None
    old.parent.mkdir(parents=True)
    old.write_bytes(b"good archive")
    assert cds.jvm_options(settings, "kafka", "/usr/bin/java")[1] == f"-XX:SharedArchiveFile={old}"
    (settings.kafka_home / "libs" / "extra-1.0.jar").write_bytes(b"new jar")
    new = cds.archive_path(settings, "kafka", "/usr/bin/java")
    assert new is not None and new != old
    assert cds.jvm_options(settings, "kafka", "/usr/bin/java")[1] == f"-XX:ArchiveClassesAtExit={cds.part_path(new)}"
    assert not old.exists()


def test_each_service_and_each_java_has_its_own_archive(tmp_path: Path, java17: list[Path]) -> None:
    settings = _settings(tmp_path)
    kafka = cds.archive_path(settings, "kafka", "/usr/bin/java")
    assert kafka != cds.archive_path(settings, "zookeeper", "/usr/bin/java")
    libs = settings.kafka_home / "libs"
    assert cds.archive_key("/usr/bin/java", "17.0.15", libs, "kafka.Kafka") != cds.archive_key("/usr/bin/java", "17.0.16", libs, "kafka.Kafka")
    assert cds.archive_key("/usr/bin/java", "17.0.15", libs, "kafka.Kafka") != cds.archive_key(str(tmp_path / "java"), "17.0.15", libs, "kafka.Kafka")


def test_an_old_java_or_any_error_means_a_plain_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(tmp_path)
    monkeypatch.setattr(cds, "find_java", lambda java: JavaInfo(java, 11, 'openjdk version "11.0.2"'))
    assert cds.jvm_options(settings, "kafka", "/usr/bin/java") == []

    def broken(java: str) -> JavaInfo:
        raise KafkaopsError("cannot run java -version")

    monkeypatch.setattr(cds, "find_java", broken)
    assert cds.jvm_options(settings, "kafka", "/usr/bin/java") == []
    monkeypatch.setattr(cds, "find_java", lambda java: JavaInfo(java, 17, "17"))
    (settings.kafkaops_home).mkdir(parents=True)
    (settings.kafkaops_home / "cds").write_text("a file where the folder should be")
    assert cds.jvm_options(settings, "kafka", "/usr/bin/java") == []


def test_a_jvm_that_refuses_the_dump_or_user_cds_options_mean_a_plain_start(tmp_path: Path, java17: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cds, "dump_accepted", lambda java, settings, service, part: False)
    assert cds.jvm_options(_settings(tmp_path), "kafka", "/usr/bin/java") == []
    monkeypatch.setattr(cds, "dump_accepted", lambda java, settings, service, part: True)
    for opts in ("-Xshare:off", "-Xmx1g -XX:SharedArchiveFile=/my.jsa"):
        assert cds.jvm_options(_settings(tmp_path, KAFKAOPS_JVM_OPTS=opts), "kafka", "/usr/bin/java") == []


def test_the_options_come_before_kafkaops_jvm_opts(tmp_path: Path) -> None:
    settings = _settings(tmp_path, KAFKAOPS_JVM_OPTS="-Xshare:off")
    cmd = jvm_command(settings, "kafka", "java", tmp_path / "server.properties", tmp_path / "log4j2.yaml", ["-Xshare:auto", "-XX:SharedArchiveFile=a.jsa"])
    assert cmd.index("-XX:SharedArchiveFile=a.jsa") < cmd.index("-Xshare:off") < cmd.index("kafka.Kafka")


def test_java_version_runs_once_per_binary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "java"
    fake.write_text("#!/bin/sh\necho 'openjdk version \"17.0.15\" 2025-04-15' >&2\n")
    fake.chmod(0o755)
    runs: list[list[str]] = []
    real_run = subprocess.run

    def counting(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
        runs.append(cmd)
        return real_run(cmd, **kw)  # type: ignore[call-overload,no-any-return]

    monkeypatch.setattr(java_mod.subprocess, "run", counting)
    assert java_mod.find_java(str(fake)).major == 17
    assert java_mod.find_java(str(fake)).version_line == 'openjdk version "17.0.15" 2025-04-15'
    assert len(runs) == 1
    fake.write_text("#!/bin/sh\necho 'openjdk version \"21.0.1\" 2023-10-17' >&2\n")  # the binary changed: asked again
    assert java_mod.find_java(str(fake)).major == 21
    assert len(runs) == 2


@NEEDS_JAVA
def test_the_check_rejects_a_truncated_or_corrupted_archive_that_a_jvm_would_crash_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real JVM: a truncated archive crashes even -Xshare:auto (SIGBUS), so a new archive is checked before use."""
    java = shutil.which("java")
    assert java is not None
    monkeypatch.chdir(tmp_path)  # where a JVM would write its crash report without -XX:ErrorFile
    libs = tmp_path / "libs"
    libs.mkdir()
    classpath = str(libs / "*")
    good = tmp_path / "good.jsa"
    subprocess.run([java, f"-XX:ArchiveClassesAtExit={good}", "-cp", classpath, "-version"], capture_output=True, check=True)
    assert good.is_file()
    assert cds.archive_usable(java, good, classpath)
    data = good.read_bytes()
    truncated, flipped = tmp_path / "truncated.jsa", tmp_path / "flipped.jsa"
    truncated.write_bytes(data[: len(data) // 2])
    middle = len(data) // 3
    flipped.write_bytes(data[:middle] + bytes(b ^ 0x5A for b in data[middle : middle + 4096]) + data[middle + 4096 :])
    assert not cds.archive_usable(java, truncated, classpath)
    assert not cds.archive_usable(java, flipped, classpath)
    assert not cds.archive_usable(java, tmp_path / "missing.jsa", classpath)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flipped.jsa", "good.jsa", "libs", "truncated.jsa"]  # no crash report left


@NEEDS_JAVA
def test_the_trial_run_catches_a_jvm_that_would_not_start_with_the_dump_option(tmp_path: Path) -> None:
    """-Xshare:off (or a JDK without its base archive) plus -XX:ArchiveClassesAtExit: the JVM does not start at all."""
    java = shutil.which("java")
    assert java is not None
    part = tmp_path / "ops" / "cds" / "kafka-x.jsa.part"
    part.parent.mkdir(parents=True)
    assert cds.dump_accepted(java, _settings(tmp_path), "kafka", part)
    assert not cds.dump_accepted(java, _settings(tmp_path, KAFKAOPS_JVM_OPTS="-Xshare:off"), "kafka", part)
    assert list(part.parent.iterdir()) == []  # the trial's archive is not kept


def test_java_version_is_kept_between_runs_in_the_cache_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "java"
    fake.write_text("#!/bin/sh\necho 'openjdk version \"17.0.15\" 2025-04-15' >&2\n")
    fake.chmod(0o755)
    cache = tmp_path / "run" / "java-version.json"
    runs: list[list[str]] = []
    real_run = subprocess.run

    def counting(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
        runs.append(cmd)
        return real_run(cmd, **kw)  # type: ignore[call-overload,no-any-return]

    monkeypatch.setattr(java_mod.subprocess, "run", counting)
    assert java_mod.find_java(str(fake), cache).major == 17
    assert cache.is_file() and len(runs) == 1
    java_mod._versions.clear()  # a new process
    assert java_mod.find_java(str(fake), cache).version_line == 'openjdk version "17.0.15" 2025-04-15'
    assert len(runs) == 1
    java_mod._versions.clear()
    fake.write_text("#!/bin/sh\necho 'openjdk version \"11.0.22\" 2024-01-16' >&2\n")  # replaced: asked again
    assert java_mod.find_java(str(fake), cache).major == 11
    assert len(runs) == 2
    java_mod._versions.clear()
    cache.write_text("{not json")
    assert java_mod.find_java(str(fake), cache).major == 11  # a broken cache is only a miss
    assert len(runs) == 3
