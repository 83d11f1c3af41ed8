"""The reset's plan, guards, emptying, backups and audit log, on folders in a temporary directory.

No service runs here: the configs point at ports nothing listens on, so the plan sees a stopped stack.
Every test that could delete something only ever points at folders under tmp_path.
"""

from __future__ import annotations

import json
import os
import socket
import tarfile
from pathlib import Path

import pytest

from kafkaops.adapters.javaprops import write_properties
from kafkaops.errors import KafkaopsError, RefusedError
from kafkaops.procedures import reset
from kafkaops.settings import Settings, load_settings


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Env:
    """A stopped stack's configs under tmp: folders for home, cwd, KAFKA_HOME, KAFKAOPS_HOME and data."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "home"
        self.cwd = root / "work"
        self.kafka_home = root / "kafka"
        self.ops = root / "ops"
        self.conf = root / "conf"
        self.data = root / "data"
        for d in (self.home, self.cwd, self.kafka_home / "libs", self.ops, self.conf, self.data):
            d.mkdir(parents=True, exist_ok=True)
        self.zk_port, self.broker_port = _closed_port(), _closed_port()
        self.configure(log_dirs=str(self.data / "kafka-logs"), data_dir=str(self.data / "zookeeper"))

    def configure(self, *, log_dirs: str, data_dir: str, data_log_dir: str | None = None) -> None:
        zk = {"dataDir": data_dir, "clientPort": str(self.zk_port)}
        if data_log_dir:
            zk["dataLogDir"] = data_log_dir
        write_properties(self.conf / "zookeeper.properties", zk)
        write_properties(
            self.conf / "server.properties",
            {
                "broker.id": "0",
                "listeners": f"PLAINTEXT://localhost:{self.broker_port}",
                "log.dirs": log_dirs,
                "zookeeper.connect": f"localhost:{self.zk_port}",
            },
        )

    @property
    def settings(self) -> Settings:
        return load_settings(
            env={
                "KAFKA_HOME": str(self.kafka_home),
                "KAFKAOPS_HOME": str(self.ops),
                "KAFKAOPS_SERVER_PROPERTIES": str(self.conf / "server.properties"),
                "KAFKAOPS_ZOOKEEPER_PROPERTIES": str(self.conf / "zookeeper.properties"),
            },
            cwd=self.cwd,
        )

    def plan(self, **kwargs: object) -> reset.ResetPlan:
        return reset.build_plan(self.settings, cwd=self.cwd, home=self.home, **kwargs)  # type: ignore[arg-type]


def kafka_data(path: Path, topics: tuple[str, ...] = ("db_live_events",)) -> Path:
    """A folder that looks like a broker's log dir, with a little data in it."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "meta.properties").write_text("version=0\ncluster.id=AbCdEfGhIjKlMnOpQrStUv\nbroker.id=0\n")
    (path / "recovery-point-offset-checkpoint").write_text("0\n1\n")
    for topic in topics:
        part = path / f"{topic}-0"
        part.mkdir()
        (part / "00000000000000000000.log").write_bytes(b"x" * 1000)
        (part / "00000000000000000000.index").write_bytes(b"")
    offsets = path / "__consumer_offsets-0"
    offsets.mkdir()
    (offsets / "00000000000000000000.log").write_bytes(b"y" * 10)
    return path


def zk_data(path: Path) -> Path:
    (path / "version-2").mkdir(parents=True, exist_ok=True)
    (path / "version-2" / "log.1").write_bytes(b"z" * 100)
    (path / "version-2" / "snapshot.0").write_bytes(b"s" * 50)
    return path


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return Env(tmp_path)


# --------------------------------------------------------------------------------------------
# Guards


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        (lambda e: Path("/"), "it is a filesystem root"),
        (lambda e: e.home, "it is your home folder"),
        (lambda e: e.root, "it contains your home folder"),
        (lambda e: e.kafka_home, "it is KAFKA_HOME"),
        (lambda e: e.cwd, "it is the current folder"),
        (lambda e: e.ops, "it is KAFKAOPS_HOME"),
        (lambda e: e.ops / "run", "it is kafkaops's pid files"),
        (lambda e: e.ops / "logs" / "kafka", "it overlaps kafkaops's service logs"),
        (lambda e: e.ops / "postgres", "it is the embedded PostgreSQL"),
        (lambda e: e.conf, "it contains the config file"),
    ],
)
def test_hard_guard_refuses_protected_folders(env: Env, target: object, reason: str) -> None:
    protected = reset.Protected.of(env.settings, cwd=env.cwd, home=env.home)
    found = reset.hard_guard(reset.realpath(target(env)), protected)  # type: ignore[operator]
    assert found is not None and found.startswith(reason), found


def test_hard_guard_refuses_parents_of_the_current_folder_and_of_kafka_home(env: Env) -> None:
    deep = env.cwd / "a" / "b"
    deep.mkdir(parents=True)
    protected = reset.Protected.of(env.settings, cwd=deep, home=env.home)
    assert reset.hard_guard(reset.realpath(env.cwd), protected) == f"it contains the current folder {reset.realpath(deep)}"
    assert reset.hard_guard(reset.realpath(env.cwd / "a"), protected) is not None
    nested_kafka = env.settings.with_overrides(kafka_home=env.data / "opt" / "kafka")
    protected = reset.Protected.of(nested_kafka, cwd=env.cwd, home=env.home)
    expected = f"it contains KAFKA_HOME {reset.realpath(env.data / 'opt' / 'kafka')}"
    assert reset.hard_guard(reset.realpath(env.data / "opt"), protected) == expected


def test_hard_guard_allows_data_folders_inside_kafkaops_home_and_kafka_home(env: Env) -> None:
    protected = reset.Protected.of(env.settings, cwd=env.cwd, home=env.home)
    assert reset.hard_guard(reset.realpath(env.ops / "data" / "kafka-logs"), protected) is None
    assert reset.hard_guard(reset.realpath(env.kafka_home / "logs" / "kafka-logs"), protected) is None
    assert reset.hard_guard(reset.realpath(env.home / "kafka-data"), protected) is None


def test_hard_guard_sees_through_symbolic_links(env: Env) -> None:
    link = env.data / "innocent"
    link.symlink_to(env.home)
    protected = reset.Protected.of(env.settings, cwd=env.cwd, home=env.home)
    assert reset.hard_guard(reset.realpath(link), protected) == "it is your home folder"
    dotted = env.data / ".." / "home"
    assert reset.hard_guard(reset.realpath(dotted), protected) == "it is your home folder"


def test_what_looks_like_kafka_or_zookeeper_data(tmp_path: Path) -> None:
    assert reset.looks_like_kafka_data(kafka_data(tmp_path / "a"))
    only_partition = tmp_path / "b"
    (only_partition / "orders-12").mkdir(parents=True)
    assert reset.looks_like_kafka_data(only_partition)
    photos = tmp_path / "c"
    photos.mkdir()
    (photos / "holiday-2019.jpg").write_bytes(b"jpg")  # a file named like a partition is not one
    (photos / "album").mkdir()
    assert not reset.looks_like_kafka_data(photos)
    assert reset.looks_like_zookeeper_data(zk_data(tmp_path / "d"))
    assert not reset.looks_like_zookeeper_data(photos)


# --------------------------------------------------------------------------------------------
# The plan


def test_plan_lists_every_log_dir_and_both_zookeeper_folders_with_sizes(env: Env) -> None:
    a, b = kafka_data(env.data / "logs-a"), kafka_data(env.data / "logs-b", topics=("orders", "db_live_events"))
    zk, zk_log = zk_data(env.data / "zk"), zk_data(env.data / "zk-txlog")
    env.configure(log_dirs=f"{a}, {b}", data_dir=str(zk), data_log_dir=str(zk_log))
    plan = env.plan()
    assert [(d.role, d.path) for d in plan.dirs] == [
        ("kafka log dir", str(a)),
        ("kafka log dir", str(b)),
        ("ZooKeeper dataDir", str(zk)),
        ("ZooKeeper dataLogDir", str(zk_log)),
    ]
    first = plan.dirs[0]
    # meta.properties (56) + checkpoint (4) + 1000 + 0 + 10 bytes; 5 files, 2 partition folders
    assert (first.files, first.folders, first.links, first.size_bytes) == (5, 2, 0, 56 + 4 + 1000 + 10)
    assert first.topics == {"__consumer_offsets": 1, "db_live_events": 1}
    assert first.cluster_id == "AbCdEfGhIjKlMnOpQrStUv"
    assert plan.dirs[2].files == 2 and plan.dirs[2].size_bytes == 150
    assert plan.refusals == []
    assert [s.state for s in plan.stop] == ["not-running", "not-running"]
    assert [s.service for s in plan.stop] == ["kafka", "zookeeper"]
    assert plan.loses[0] == "every topic and message (topics on disk: db_live_events, orders)"
    assert plan.keeps[0] == "the database: the livedb rows and the producer offset (producer_offsets)"


def test_plan_counts_zookeeper_once_when_datalogdir_is_datadir(env: Env) -> None:
    zk = zk_data(env.data / "zk")
    env.configure(log_dirs=str(kafka_data(env.data / "k")), data_dir=str(zk), data_log_dir=str(zk))
    assert [d.role for d in env.plan().dirs] == ["kafka log dir", "ZooKeeper dataDir"]


def test_plan_accepts_missing_and_empty_folders(env: Env) -> None:
    (env.data / "empty").mkdir()
    env.configure(log_dirs=str(env.data / "missing"), data_dir=str(env.data / "empty"))
    plan = env.plan()
    assert plan.refusals == []
    assert [(d.exists, d.files) for d in plan.dirs] == [(False, 0), (True, 0)]


def test_plan_refuses_a_folder_with_unrelated_files_unless_forced(env: Env) -> None:
    docs = env.data / "docs"
    docs.mkdir()
    (docs / "thesis.docx").write_text("years of work")
    env.configure(log_dirs=str(docs), data_dir=str(zk_data(env.data / "zk")))
    plan = env.plan()
    assert plan.refusals == [f"kafka log dir {docs} does not look like Kafka data (no meta.properties, no <topic>-<partition> folders)"]
    assert plan.dirs[0].refusal_kind == "unrecognised"
    with pytest.raises(RefusedError) as caught:
        plan.check()
    assert caught.value.hint is not None and "--force-path" in caught.value.hint
    forced = env.plan(force_paths=[docs])
    assert forced.refusals == [] and forced.dirs[0].forced


def test_force_path_never_overrides_a_hard_guard(env: Env) -> None:
    env.configure(log_dirs=str(env.home), data_dir=str(zk_data(env.data / "zk")))
    plan = env.plan(force_paths=[env.home])
    assert plan.refusals == [f"kafka log dir {env.home}: it is your home folder"]


def test_force_path_must_name_a_configured_folder(env: Env) -> None:
    kafka_data(env.data / "kafka-logs")
    plan = env.plan(force_paths=[env.data / "elsewhere"])
    assert plan.refusals == [f"--force-path {reset.realpath(env.data / 'elsewhere')} is not one of the configured data folders"]


def test_plan_refuses_a_zookeeper_folder_without_version_2(env: Env) -> None:
    odd = env.data / "zk"
    odd.mkdir()
    (odd / "notes.txt").write_text("mine")
    env.configure(log_dirs=str(kafka_data(env.data / "k")), data_dir=str(odd))
    assert env.plan().refusals == [f"ZooKeeper dataDir {odd} does not look like ZooKeeper data (no version-2 folder)"]


def test_plan_refuses_a_backup_folder_inside_a_data_folder(env: Env) -> None:
    logs = kafka_data(env.data / "kafka-logs")
    plan = env.plan(backup_dir=logs / "backups")
    assert plan.refusals == [f"the backup folder {logs / 'backups'} is inside kafka log dir {logs}, which the reset empties"]


def test_relative_data_paths_are_taken_from_the_services_working_folder(env: Env) -> None:
    kafka_data(env.ops / "data" / "kafka-logs")
    env.configure(log_dirs="data/kafka-logs", data_dir="data/zookeeper")
    plan = env.plan()
    assert plan.dirs[0].real == str(reset.realpath(env.ops / "data" / "kafka-logs"))
    assert plan.dirs[0].files == 5
    env.configure(log_dirs=".", data_dir="data/zookeeper")
    assert env.plan().refusals[0].endswith(": it is KAFKAOPS_HOME")


def test_plan_as_json_is_serialisable(env: Env) -> None:
    kafka_data(env.data / "kafka-logs")
    doc = json.loads(json.dumps(env.plan().to_dict()))
    assert doc["allowed"] is True
    assert doc["total_files"] == 5
    assert doc["dirs"][0]["topics"] == {"__consumer_offsets": 1, "db_live_events": 1}


# --------------------------------------------------------------------------------------------
# Emptying


def test_empty_directory_removes_links_inside_and_never_follows_them(env: Env) -> None:
    outside = env.root / "outside"
    (outside / "sub").mkdir(parents=True)
    sentinel = outside / "sentinel.txt"
    sentinel.write_text("must survive")
    (outside / "sub" / "deep.txt").write_text("must survive too")
    logs = kafka_data(env.data / "kafka-logs")
    (logs / "link-to-file").symlink_to(sentinel)
    (logs / "link-to-dir").symlink_to(outside)
    (logs / "db_live_events-0" / "nested-link").symlink_to(outside / "sub")
    (logs / "dangling").symlink_to(env.root / "nothing-here")

    protected = reset.Protected.of(env.settings, cwd=env.cwd, home=env.home)
    usage = reset.empty_directory(reset.realpath(logs), protected)

    assert logs.is_dir() and list(logs.iterdir()) == []
    assert sentinel.read_text() == "must survive"
    assert (outside / "sub" / "deep.txt").read_text() == "must survive too"
    assert usage.links == 4 and usage.files == 5


def test_empty_directory_checks_the_hard_guards_again(env: Env) -> None:
    (env.home / "precious.txt").write_text("keep")
    protected = reset.Protected.of(env.settings, cwd=env.cwd, home=env.home)
    with pytest.raises(RefusedError, match="it is your home folder"):
        reset.empty_directory(env.home, protected)
    assert (env.home / "precious.txt").read_text() == "keep"


def test_execute_refuses_a_refused_plan_before_stopping_or_deleting(env: Env) -> None:
    docs = env.data / "docs"
    docs.mkdir()
    (docs / "thesis.docx").write_text("years of work")
    env.configure(log_dirs=str(docs), data_dir=str(zk_data(env.data / "zk")))
    plan = env.plan()
    with pytest.raises(RefusedError, match="does not look like Kafka data"):
        reset.execute(env.settings, plan, cwd=env.cwd, home=env.home)
    assert (docs / "thesis.docx").read_text() == "years of work"
    assert (env.data / "zk" / "version-2" / "log.1").exists()
    line = json.loads((env.ops / "reset-audit.log").read_text().splitlines()[-1])
    assert line["outcome"] == "refused" and line["deleted"] == [] and "does not look like" in line["reason"]


def test_execute_on_a_stopped_stack_empties_the_folders_backs_up_and_audits(env: Env) -> None:
    logs, zk = kafka_data(env.data / "kafka-logs"), zk_data(env.data / "zookeeper")
    next_to = env.data / "next-to-logs.txt"
    next_to.write_text("sentinel")
    backups = env.root / "backups"
    plan = env.plan(backup_dir=backups)
    steps: list[str] = []

    result = reset.execute(env.settings, plan, steps.append, cwd=env.cwd, home=env.home)

    assert list(logs.iterdir()) == [] and list(zk.iterdir()) == []
    assert next_to.read_text() == "sentinel"
    assert [(e.role, e.files, e.size_bytes) for e in result.emptied] == [
        ("kafka log dir", 5, 56 + 4 + 1000 + 10),
        ("ZooKeeper dataDir", 2, 150),
    ]
    assert [s.action for s in result.stopped] == ["not-running", "not-running"]
    archives = sorted(backups.iterdir())
    assert [a.name.split("-", 3)[-1] for a in archives] == ["kafka-logs-0.tar.gz", "zookeeper-data.tar.gz"]
    with tarfile.open(archives[0]) as tar:
        names = tar.getnames()
        assert "meta.properties" in names and "db_live_events-0/00000000000000000000.log" in names
        meta = tar.extractfile("meta.properties")
        assert meta is not None and b"cluster.id=AbCdEfGhIjKlMnOpQrStUv" in meta.read()
    line = json.loads((env.ops / "reset-audit.log").read_text().splitlines()[-1])
    assert line["outcome"] == "done"
    assert [d["path"] for d in line["deleted"]] == [str(reset.realpath(logs)), str(reset.realpath(zk))]
    assert [b["archive"] for b in line["backups"]] == [str(a) for a in archives]
    assert line["offset_rewound"] is False
    assert steps[0] == "stopping the stack: the Kafka broker, then ZooKeeper"


# --------------------------------------------------------------------------------------------
# Backups


def test_backup_stores_links_as_links_and_verifies(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("not part of the backup")
    logs = kafka_data(tmp_path / "logs")
    (logs / "link").symlink_to(outside)
    archive = tmp_path / "out" / "b.tar.gz"
    members = reset.backup_dir_contents(logs, archive)
    with tarfile.open(archive) as tar:
        link = tar.getmember("link")
        assert link.issym() and link.linkname == str(outside)
        assert len(tar.getmembers()) == members == 8  # 5 files, 2 folders, 1 link
    assert not (tmp_path / "out" / "b.tar.gz.partial").exists()


def test_verify_archive_notices_a_missing_member(tmp_path: Path) -> None:
    archive = tmp_path / "a.tar.gz"
    logs = kafka_data(tmp_path / "logs")
    reset.backup_dir_contents(logs, archive)
    with pytest.raises(tarfile.TarError, match="holds 7 entries, 8 were written"):
        reset.verify_archive(archive, [*tarfile.open(archive).getnames(), "extra"])


def test_a_failed_backup_deletes_nothing(env: Env) -> None:
    logs, zk = kafka_data(env.data / "kafka-logs"), zk_data(env.data / "zookeeper")
    blocker = env.root / "not-a-folder"
    blocker.write_text("a file where the backup folder should be")
    assert env.plan(backup_dir=blocker).refusals == [f"the backup folder {blocker} exists and is not a folder"]
    plan = env.plan(backup_dir=blocker / "sub")  # cannot be created: its parent is a file
    assert plan.refusals == []
    with pytest.raises(KafkaopsError, match=r"^backup of .* failed") as caught:
        reset.execute(env.settings, plan, cwd=env.cwd, home=env.home)
    assert caught.value.hint == "free some space or choose another --backup folder; nothing was deleted"
    assert (logs / "meta.properties").exists() and (zk / "version-2" / "log.1").exists()
    line = json.loads((env.ops / "reset-audit.log").read_text().splitlines()[-1])
    assert line["outcome"] == "failed" and line["deleted"] == []


def test_plan_refuses_a_folder_with_a_file_system_mounted_inside(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    logs = kafka_data(env.data / "kafka-logs")
    (logs / "nfs").mkdir()
    (logs / "nfs" / "someone-elses.txt").write_text("on another disk")
    real_ismount = os.path.ismount
    monkeypatch.setattr(os.path, "ismount", lambda p: str(p) == str(logs / "nfs") or real_ismount(p))
    plan = env.plan()
    assert plan.refusals == [f"kafka log dir {logs} has another file system mounted inside ({logs / 'nfs'}): unmount it first"]
    assert plan.dirs[0].files == 5  # nothing counted below the mount point
