"""meta.properties read as the broker reads it, the free-space verdict, and what `up` needs first."""

from __future__ import annotations

from pathlib import Path

import pytest

from kafkaops import doctor as d
from kafkaops.doctor import FAIL, PASS, CheckResult
from kafkaops.doctor import host as d_host
from kafkaops.doctor import runner as d_runner
from kafkaops.procedures.services.identity import read_meta


def meta_in(tmp_path: Path, content: bytes) -> Path:
    (tmp_path / "meta.properties").write_bytes(content)
    return tmp_path


def test_a_missing_meta_properties_is_a_new_broker(tmp_path: Path) -> None:
    assert read_meta(tmp_path).state == "missing"


def test_a_written_meta_properties_is_read(tmp_path: Path) -> None:
    m = read_meta(meta_in(tmp_path, b"#Thu Nov 26\nversion=0\nbroker.id=0\ncluster.id=kHxa0mZnQn2yd1I4v9pW3w\n"))
    assert (m.state, m.cluster_id, m.broker_id, m.problem) == ("ok", "kHxa0mZnQn2yd1I4v9pW3w", 0, None)
    v1 = read_meta(meta_in(tmp_path, b"version=1\nnode.id=3\ncluster.id=abc\ndirectory.id=xyz\n"))
    assert (v1.state, v1.broker_id) == ("ok", 3)


@pytest.mark.parametrize(
    ("content", "state", "problem"),
    [
        (b"\x89PNG\r\n\x1a\n\x00garbage", "garbage", "is not a properties file (binary content, 16 bytes)"),
        (b"", "garbage", "is not a Kafka meta.properties: it is empty"),
        (b"hello world\nthis is not it\n", "garbage", "is not a Kafka meta.properties: it has no version= line"),
        (b"version=7\nbroker.id=0\n", "unparsable", "version='7' is not 0 or 1"),
        (b"version=0\nbroker.id=zero\ncluster.id=x\n", "unparsable", "broker.id is 'zero', not a whole number"),
        (b"version=0\ncluster.id=x\n", "unparsable", "broker.id is missing, not a whole number"),
    ],
)
def test_garbage_and_unparsable_meta_properties_are_named(tmp_path: Path, content: bytes, state: str, problem: str) -> None:
    m = read_meta(meta_in(tmp_path, content))
    assert m.state == state
    assert m.problem is not None and m.problem.startswith(str(tmp_path / "meta.properties"))
    assert m.problem.endswith(problem), m.problem
    assert m.cluster_id is None


def test_an_unreadable_meta_properties_is_named(tmp_path: Path) -> None:
    (tmp_path / "meta.properties").mkdir()  # unreadable as a file, even for root
    m = read_meta(tmp_path)
    assert m.state == "unreadable"
    assert m.problem is not None and m.problem.startswith(f"{tmp_path / 'meta.properties'} cannot be read: ")


@pytest.mark.parametrize(
    ("free", "total", "state"),
    [
        (0, 10 * 1024**3, "full"),
        (99 * 1024**2, 100 * 1024**3, "full"),
        (100 * 1024**2, 1024**3, "low"),
        (2 * 1024**3, 100 * 1024**3, "low"),  # 2%
        (20 * 1024**3, 100 * 1024**3, "ok"),
    ],
)
def test_disk_state_from_the_free_bytes(free: int, total: int, state: str) -> None:
    assert d_host.disk_state(free, total) == state


def test_a_full_disk_fails_and_names_the_disk_to_free(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda _p: usage(1024**3, 1024**3 - 5 * 1024**2, 5 * 1024**2))
    ctx = d.Context.__new__(d.Context)
    ctx.local_reason = lambda _s: None  # type: ignore[method-assign]
    ctx.cfg = type("Cfg", (), {"log_dirs": (tmp_path / "logs",), "zk_data_dir": tmp_path / "zk", "zk_data_log_dir": None})()  # type: ignore[assignment]
    out = d_host.check_disk(ctx)
    assert out.status == FAIL
    assert out.finding.startswith(f"disk full: log.dirs {tmp_path / 'logs'}: 5 MiB free of 1.0 GiB")
    assert out.next == f"free space on the disk holding {tmp_path}, then kafkaops up"


def result(check_id: str, layer: str, status: str, next: str | None = None) -> CheckResult:
    return CheckResult(id=check_id, step=1, layer=layer, title=check_id, status=status, finding=f"{check_id} finding", next=next)


@pytest.mark.parametrize(
    ("blocker", "next_"),
    [
        ("host.disk", "free space on the disk holding /data, then kafkaops up"),
        ("host.kafka_home", "kafkaops install"),
        ("host.java", "set JAVA_HOME or KAFKAOPS_JAVA"),
        ("broker.meta_properties", "write /data/meta.properties with version=0, broker.id=0, cluster.id=X, then kafkaops up"),
    ],
)
def test_the_verdict_never_says_up_while_what_up_needs_failed(blocker: str, next_: str) -> None:
    results = [
        result("zookeeper.process", "zookeeper", FAIL, next="kafkaops up"),
        result("broker.process", "broker", FAIL, next="kafkaops up"),
        result(blocker, "host" if blocker.startswith("host.") else "broker", FAIL, next=next_),
    ]
    v = d_runner._verdict(results)
    assert (v.check, v.next) == (blocker, next_)
    # Without a blocker, `kafkaops up` is the right next step.
    assert d_runner._verdict(results[:2] + [result(blocker, "host", PASS)]).next == "kafkaops up"
