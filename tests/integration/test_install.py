"""kafkaops install: the Maven source (real Maven Central via mvn) and the Apache archive source
(a local HTTP server serving a tarball this test builds from real Kafka jars)."""

from __future__ import annotations

import hashlib
import http.server
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from kafkaops.errors import KafkaopsError, UnreachableError
from kafkaops.procedures.install import MARKER, install
from tests.conftest import free_port, make_stack, run_kafkaops, teardown_stack

VERSION = "3.9.2"


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory, kafka_home: Path) -> Iterator[tuple[str, Path]]:
    """A mirror laid out like the Apache archive: <base>/<version>/kafka_2.13-<version>.tgz(.sha512)."""
    root = tmp_path_factory.mktemp("mirror")
    (root / VERSION).mkdir()
    tgz = root / VERSION / f"kafka_2.13-{VERSION}.tgz"
    with tarfile.open(tgz, "w:gz", compresslevel=1) as tar:
        tar.add(kafka_home / "libs", arcname=f"kafka_2.13-{VERSION}/libs")
        bin_dir = root / "bin"
        bin_dir.mkdir()
        (bin_dir / "kafka-server-start.sh").write_text("#!/bin/sh\n")
        tar.add(bin_dir, arcname=f"kafka_2.13-{VERSION}/bin")
    digest = hashlib.sha512(tgz.read_bytes()).hexdigest().upper()
    groups = " ".join(digest[i : i + 8] for i in range(0, 128, 8))
    (root / VERSION / f"{tgz.name}.sha512").write_text(f"{tgz.name}: {groups[:70]}\n    {groups[70:]}\n")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):  # noqa: ANN002, ANN003
            super().__init__(*a, directory=str(root), **kw)

        def log_message(self, *args):  # noqa: ANN002
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root
    server.shutdown()


def test_apache_source_verifies_and_unpacks_then_runs(tmp_path: Path, mirror: tuple[str, Path]) -> None:
    base, _ = mirror
    result = install(dists_dir=tmp_path / "kafka", data_dir=tmp_path / "data", version=VERSION, source="apache", mirror=base)
    home = result.kafka_home
    assert not result.already_installed and result.source == "apache"
    assert (home / "libs" / f"kafka_2.13-{VERSION}.jar").is_file() and (home / "bin").is_dir()
    assert (home / MARKER).is_file()
    server = (home / "config" / "server.properties").read_text()
    assert "advertised.listeners=PLAINTEXT://localhost:9092" in server
    assert f"log.dirs={tmp_path / 'data' / 'kafka-logs'}" in server  # under KAFKAOPS_HOME, not /tmp
    assert "dataDir=" + str(tmp_path / "data" / "zookeeper") in (home / "config" / "zookeeper.properties").read_text()
    assert [p.name for p in (tmp_path / "kafka").iterdir()] == [VERSION]  # no leftovers
    again = install(dists_dir=tmp_path / "kafka", data_dir=tmp_path / "data", version=VERSION, source="apache", mirror=base)
    assert again.already_installed

    # The archive-installed Kafka really runs.
    s = make_stack(tmp_path / "stack", home)
    try:
        res = run_kafkaops(["up"], s.env, s.root)
        assert res.returncode == 0, res.stderr
    finally:
        teardown_stack(s)


def test_checksum_mismatch_leaves_nothing_behind(tmp_path: Path, mirror: tuple[str, Path]) -> None:
    base, root = mirror
    bad = tmp_path / "badmirror"
    (bad / VERSION).mkdir(parents=True)
    name = f"kafka_2.13-{VERSION}.tgz"
    (bad / VERSION / name).write_bytes((root / VERSION / name).read_bytes()[:-10] + b"0123456789")
    (bad / VERSION / f"{name}.sha512").write_text((root / VERSION / f"{name}.sha512").read_text())

    class H(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):  # noqa: ANN002, ANN003
            super().__init__(*a, directory=str(bad), **kw)

        def log_message(self, *args):  # noqa: ANN002
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(KafkaopsError, match="checksum mismatch"):
            install(
                dists_dir=tmp_path / "kafka",
                data_dir=tmp_path / "data",
                version=VERSION,
                source="apache",
                mirror=f"http://127.0.0.1:{server.server_address[1]}",
            )
    finally:
        server.shutdown()
    assert list((tmp_path / "kafka").iterdir()) == []


def test_unreachable_mirror_is_a_one_line_error_and_no_folder(tmp_path: Path) -> None:
    env = {"PATH": __import__("os").environ["PATH"], "HOME": str(tmp_path), "KAFKAOPS_HOME": str(tmp_path / "ops")}
    res = run_kafkaops(["install", "--source", "apache", "--mirror", f"http://127.0.0.1:{free_port()}"], env, tmp_path)
    assert res.returncode == 4, res.stderr
    assert res.stderr.count("error:") == 1 and "download failed" in res.stderr and "Traceback" not in res.stderr
    assert list((tmp_path / "ops" / "kafka").iterdir()) == []
    with pytest.raises(UnreachableError):
        install(dists_dir=tmp_path / "k2", data_dir=tmp_path / "d", version=VERSION, source="apache", mirror="http://127.0.0.1:1")


def test_maven_source_is_idempotent_and_missing_mvn_is_clear(tmp_path: Path, kafka_home: Path) -> None:
    # The session's kafka_home came from the maven source; a second install of it is a no-op.
    result = install(dists_dir=kafka_home.parent, data_dir=tmp_path / "d", version=VERSION)
    assert result.already_installed and result.kafka_home == kafka_home
    env = {"PATH": "/nonexistent", "HOME": str(tmp_path), "KAFKAOPS_HOME": str(tmp_path / "ops"), "KAFKAOPS_JAVA": __import__("shutil").which("java")}
    res = run_kafkaops(["install", "--source", "maven"], env, tmp_path)
    assert res.returncode == 1, res.stderr
    assert "Maven (mvn) was not found" in res.stderr and "--source apache" in res.stderr
    assert not (tmp_path / "ops" / "kafka" / VERSION).exists()


def test_versions_and_modes_that_do_not_go_together_are_refused(tmp_path: Path) -> None:
    env = {"PATH": __import__("os").environ["PATH"], "HOME": str(tmp_path), "KAFKAOPS_HOME": str(tmp_path / "ops")}
    res = run_kafkaops(["install", "--version", "4.1.0", "--mode", "zookeeper"], env, tmp_path)
    assert res.returncode == 2 and "Kafka 4.1.0 does not run in zookeeper mode" in res.stderr and "KRaft" in res.stderr
    res = run_kafkaops(["install", "--version", "4.0.0"], env, tmp_path)
    assert res.returncode == 2 and "not on Maven Central" in res.stderr
    assert not (tmp_path / "ops" / "kafka").exists()


def test_apache_source_for_kafka_4_verifies_the_sha512_and_writes_kraft_configs(tmp_path: Path) -> None:
    """The same SHA-512 check as 3.9 on a 4.x tarball (built here from the KRaft install's real jars)."""
    from kafkaops.settings import DEFAULT_KRAFT_VERSION

    ops_home = Path(__import__("os").environ.get("KAFKAOPS_TEST_HOME", Path.home() / ".cache" / "kafkaops-test"))
    source = install(dists_dir=ops_home / "kafka", data_dir=ops_home / "data", version=DEFAULT_KRAFT_VERSION).kafka_home
    version = DEFAULT_KRAFT_VERSION
    root = tmp_path / "mirror"
    (root / version).mkdir(parents=True)
    stock = tmp_path / "stock"
    stock.mkdir()
    (stock / "server.properties").write_text("process.roles=broker,controller\nlog.dirs=/tmp/kraft-combined-logs\n")
    (stock / "log4j2.yaml").write_text("Configuration: {}\n")
    tgz = root / version / f"kafka_2.13-{version}.tgz"
    with tarfile.open(tgz, "w:gz", compresslevel=1) as tar:
        tar.add(source / "libs", arcname=f"kafka_2.13-{version}/libs")
        tar.add(stock, arcname=f"kafka_2.13-{version}/config")
    (root / version / f"{tgz.name}.sha512").write_text(f"{hashlib.sha512(tgz.read_bytes()).hexdigest()}  {tgz.name}\n")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):  # noqa: ANN002, ANN003
            super().__init__(*a, directory=str(root), **kw)

        def log_message(self, *args):  # noqa: ANN002
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        result = install(dists_dir=tmp_path / "kafka", data_dir=tmp_path / "data", version=version, source="apache", mirror=base)
        assert result.mode == "kraft" and result.source == "apache" and not result.already_installed
        config = (result.kafka_home / "config" / "server.properties").read_text()
        assert "process.roles=broker,controller" in config and f"log.dirs={tmp_path / 'data' / 'kraft-logs'}" in config
        assert (result.kafka_home / "config-dist" / "server.properties").read_text().startswith("process.roles")  # the stock one, kept aside
        assert (result.kafka_home / "config" / "split" / "controller.properties").is_file()
        tgz.write_bytes(tgz.read_bytes()[:-10] + b"0123456789")  # corrupt: refused, nothing left behind
        with pytest.raises(KafkaopsError, match="checksum mismatch"):
            install(dists_dir=tmp_path / "k2", data_dir=tmp_path / "data", version=version, source="apache", mirror=base)
        assert list((tmp_path / "k2").iterdir()) == []
    finally:
        server.shutdown()
