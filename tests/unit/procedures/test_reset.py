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


def _tree(root: Path, files: list[str], folders: tuple[str, ...] = ()) -> Path:
    for rel in files:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"x")
    for rel in folders:
        (root / rel).mkdir(parents=True, exist_ok=True)
    return root


SEGMENT = "00000000000000000000"
# Every name a Kafka 3.9 broker wrote in a log dir here (ZooKeeper mode; a compacted topic, transactions, a
# consumer group, a deleted topic; running and after a clean stop), plus what its sources write for a moment
# (cleaning, swapping, deleting, checkpoints being written) and KRaft's metadata partition.
KAFKA_WRITES = [
    "meta.properties",
    ".lock",
    ".kafka_cleanshutdown",
    "recovery-point-offset-checkpoint",
    "replication-offset-checkpoint",
    "log-start-offset-checkpoint",
    "cleaner-offset-checkpoint",
    "recovery-point-offset-checkpoint.tmp",
    "meta.properties.tmp",
    *[f"db_live_events-0/{SEGMENT}.{ext}" for ext in ("log", "index", "timeindex", "snapshot", "txnindex")],
    "db_live_events-0/leader-epoch-checkpoint",
    "db_live_events-0/partition.metadata",
    "db_live_events-0/partition.metadata.tmp",
    f"compacted-11/{SEGMENT}.log.cleaned",
    f"compacted-11/{SEGMENT}.index.swap",
    f"compacted-11/{SEGMENT}.log.deleted",
    f"compacted-11/{SEGMENT}.timeindex.deleted",
    "compacted-11/leader-epoch-checkpoint.tmp",
    f"__consumer_offsets-49/{SEGMENT}.log",
    f"__transaction_state-0/{SEGMENT}.txnindex",
    f"gone-0.7f808f04fa9e4445ab0ea57c18ed07ac-delete/{SEGMENT}.log",
    f"moving-3.0123456789abcdef0123456789abcdef-future/{SEGMENT}.index",
    "stray-1.0123456789abcdef0123456789abcdef-stray/partition.metadata",
    "bootstrap.checkpoint",
    "__cluster_metadata-0/quorum-state",
    f"__cluster_metadata-0/{SEGMENT}-0000000000.checkpoint",
]
ZOOKEEPER_WRITES = [
    "myid",
    "zookeeper_server.pid",
    "version-2/log.1",
    "version-2/snapshot.0",
    "version-2/log.10000002a",
    "version-2/snapshot.1a.gz",
    "version-2/acceptedEpoch",
    "version-2/currentEpoch",
    "version-2/currentEpoch.tmp",
]


def test_everything_kafka_and_zookeeper_write_is_theirs(tmp_path: Path) -> None:
    kafka = reset.survey(_tree(tmp_path / "k", KAFKA_WRITES))
    assert (kafka.kafka, kafka.zookeeper, kafka.foreign) == (True, False, [])
    zk = reset.survey(_tree(tmp_path / "z", ZOOKEEPER_WRITES))
    assert (zk.kafka, zk.zookeeper, zk.foreign) == (False, True, [])
    both = reset.survey(_tree(tmp_path / "b", KAFKA_WRITES + ZOOKEEPER_WRITES))  # log.dirs = dataDir
    assert (both.kafka, both.zookeeper, both.foreign) == (True, True, [])
    assert reset.looks_like_kafka_data(tmp_path / "k") and reset.looks_like_zookeeper_data(tmp_path / "z")
    assert reset.looks_like_kafka_data(kafka_data(tmp_path / "a")) and reset.looks_like_zookeeper_data(zk_data(tmp_path / "d"))


def test_a_folder_named_like_a_partition_is_not_enough(tmp_path: Path) -> None:
    """Issue 11: notes.txt, taxes/2024.pdf, photos-2019/img1.jpg, python-3/site.py passed as Kafka data."""
    mine = _tree(tmp_path / "mine", ["notes.txt", "taxes/2024.pdf", "photos-2019/img1.jpg", "python-3/site.py"])
    found = reset.survey(mine)
    assert [str(f) for f in found.foreign] == ["notes.txt", "photos-2019/img1.jpg", "python-3/site.py", "taxes/ (1 file)"]
    assert not found.kafka and not reset.looks_like_kafka_data(mine)
    # Kafka's names in the wrong place are not Kafka's either.
    odd = _tree(
        tmp_path / "odd",
        [
            f"orders-0/{SEGMENT}.log",
            f"orders-0/nested/{SEGMENT}.log",
            f"{SEGMENT}.log",
            "x-1/1.log",
            "orders-1/meta.properties",
            "version-2/myid",
            "version-2/log.xyz",
            "holiday-2019.jpg",
        ],
        folders=("album", "empty-7"),
    )
    assert [str(f) for f in reset.survey(odd).foreign] == [
        f"{SEGMENT}.log",
        "album/ (0 files)",
        "holiday-2019.jpg",
        "orders-0/nested/ (1 file)",
        "orders-1/meta.properties",
        "version-2/log.xyz",
        "version-2/myid",
        "x-1/1.log",
    ]


def test_links_inside_are_foreign_and_never_followed(tmp_path: Path) -> None:
    outside = _tree(tmp_path / "outside", ["a.txt", "b.txt"])
    logs = kafka_data(tmp_path / "logs")
    (logs / "db_live_events-1").symlink_to(outside)
    (logs / "db_live_events-0" / f"{SEGMENT}.timeindex").symlink_to(outside / "a.txt")
    assert [str(f) for f in reset.survey(logs).foreign] == ["db_live_events-0/00000000000000000000.timeindex", "db_live_events-1"]


def test_an_empty_folder_or_empty_partition_folders_prove_nothing(tmp_path: Path) -> None:
    assert reset.survey(_tree(tmp_path / "e", [])) == reset.Contents(empty=True)
    only = reset.survey(_tree(tmp_path / "p", [], folders=("orders-12", "version-2")))
    assert (only.kafka, only.zookeeper, only.foreign, only.empty) == (False, False, [], False)


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


def test_plan_refuses_a_folder_with_unrelated_files_even_when_forced(env: Env) -> None:
    docs = env.data / "docs"
    docs.mkdir()
    (docs / "thesis.docx").write_text("years of work")
    env.configure(log_dirs=str(docs), data_dir=str(zk_data(env.data / "zk")))
    refusal = f"kafka log dir {docs} holds 1 entry Kafka and ZooKeeper never write: thesis.docx"
    plan = env.plan()
    assert plan.refusals == [refusal]
    assert (plan.dirs[0].refusal_kind, plan.dirs[0].foreign, plan.dirs[0].foreign_count) == ("foreign", ["thesis.docx"], 1)
    with pytest.raises(RefusedError) as caught:
        plan.check()
    assert caught.value.hint == reset.FOREIGN_HINT
    assert env.plan(force_paths=[docs]).refusals == [refusal]
    # the file named as well: nothing foreign is left, but the folder is still not Kafka's
    unrecognised = "does not look like Kafka data (no meta.properties, no checkpoint files, no <topic>-<partition> folders with segments)"
    assert env.plan(force_paths=[docs / "thesis.docx"]).refusals == [f"kafka log dir {docs} {unrecognised}"]
    forced = env.plan(force_paths=[docs, docs / "thesis.docx"])
    assert forced.refusals == [] and forced.dirs[0].forced and forced.dirs[0].foreign_named == 1


def test_foreign_entries_in_real_kafka_data_are_named_first_few_with_a_count(env: Env) -> None:
    logs = kafka_data(env.data / "kafka-logs")
    _tree(logs, ["notes.txt", "a.txt", "b.txt", "c/d.txt", "c/e.txt", "db_live_events-0/readme.md", "z.txt"])
    plan = env.plan()
    assert plan.refusals == [
        f"kafka log dir {logs} holds 6 entries Kafka and ZooKeeper never write: a.txt, b.txt, c/ (2 files), db_live_events-0/readme.md, notes.txt, and 1 more"
    ]
    assert plan.dirs[0].foreign_count == 6
    # a folder inside the data folder names what is in it; a relative --force-path is taken from the current folder
    os.chdir(logs)
    try:
        named = env.plan(force_paths=[Path("c"), Path("notes.txt"), logs / "a.txt", logs / "b.txt", logs / "z.txt"])
    finally:
        os.chdir(env.cwd)
    assert named.refusals == [f"kafka log dir {logs} holds 1 entry Kafka and ZooKeeper never write: db_live_events-0/readme.md"]
    assert named.dirs[0].foreign_named == 5


def test_a_link_is_named_by_its_own_path_not_its_target(env: Env) -> None:
    logs = kafka_data(env.data / "kafka-logs")
    (logs / "shortcut").symlink_to(env.home)
    assert env.plan().refusals == [f"kafka log dir {logs} holds 1 entry Kafka and ZooKeeper never write: shortcut"]
    assert env.plan(force_paths=[logs / "shortcut"]).refusals == []
    assert env.plan(force_paths=[env.home]).refusals[-1] == f"--force-path {env.home} is not one of the configured data folders, nor inside one"


def test_force_path_never_overrides_a_hard_guard(env: Env) -> None:
    env.configure(log_dirs=str(env.home), data_dir=str(zk_data(env.data / "zk")))
    plan = env.plan(force_paths=[env.home])
    assert plan.refusals == [f"kafka log dir {env.home}: it is your home folder"]


def test_force_path_must_name_a_configured_folder_or_something_in_one(env: Env) -> None:
    logs = kafka_data(env.data / "kafka-logs")
    plan = env.plan(force_paths=[env.data / "elsewhere", logs / "missing.txt"])
    assert plan.refusals == [
        f"--force-path {reset.realpath(env.data / 'elsewhere')} is not one of the configured data folders, nor inside one",
        f"--force-path {logs / 'missing.txt'} does not exist",
    ]


def test_plan_refuses_a_zookeeper_folder_without_logs_or_snapshots(env: Env) -> None:
    odd = env.data / "zk"
    (odd / "version-2").mkdir(parents=True)
    (odd / "myid").write_text("1")
    env.configure(log_dirs=str(kafka_data(env.data / "k")), data_dir=str(odd))
    assert env.plan().refusals == [f"ZooKeeper dataDir {odd} does not look like ZooKeeper data (no version-2 folder with transaction logs or snapshots)"]
    assert env.plan(force_paths=[odd]).refusals == []


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
    with pytest.raises(RefusedError, match="Kafka and ZooKeeper never write: thesis.docx"):
        reset.execute(env.settings, plan, cwd=env.cwd, home=env.home)
    assert (docs / "thesis.docx").read_text() == "years of work"
    assert (env.data / "zk" / "version-2" / "log.1").exists()
    line = json.loads((env.ops / "reset-audit.log").read_text().splitlines()[-1])
    assert line["outcome"] == "refused" and line["deleted"] == [] and "never write" in line["reason"]


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


def test_execute_checks_the_contents_again_after_the_stop(env: Env) -> None:
    logs, zk = kafka_data(env.data / "kafka-logs"), zk_data(env.data / "zookeeper")
    plan = env.plan()
    assert plan.refusals == []
    (logs / "dropped-here-later.txt").write_text("mine")  # between the plan (shown to the user) and the deletion
    with pytest.raises(RefusedError) as caught:
        reset.execute(env.settings, plan, cwd=env.cwd, home=env.home)
    assert caught.value.message == (
        f"kafka log dir {reset.realpath(logs)} holds 1 entry Kafka and ZooKeeper never write: dropped-here-later.txt "
        "(it appeared after the plan); nothing was deleted"
    )
    assert caught.value.details == ["the stack was stopped: `kafkaops up` starts it again"]
    assert (logs / "dropped-here-later.txt").read_text() == "mine" and (logs / "meta.properties").exists()
    assert (zk / "version-2" / "log.1").exists()


def test_the_offset_refusal_keeps_the_hint_of_what_went_wrong(env: Env) -> None:
    from kafkaops.procedures import db

    kafka_data(env.data / "kafka-logs")

    running = db.producer_running(db.Pipeline("public.livedb", "db_live_events"))

    def producer_running(_settings: Settings) -> None:
        raise running

    def database_down(_settings: Settings) -> None:
        raise KafkaopsError("cannot connect to PostgreSQL at localhost:1", hint="start PostgreSQL (kafkaops up), or fix DATABASE_URL")

    for read, refusal, hint in [
        (producer_running, f"--reset-producer-offset: {running.message}", running.hint),
        (
            database_down,
            "--reset-producer-offset: cannot read producer_offsets: cannot connect to PostgreSQL at localhost:1",
            "start PostgreSQL (kafkaops up), or fix DATABASE_URL",
        ),
    ]:
        plan = env.plan(reset_producer_offset=True, read_offset=read)
        assert plan.refusals == [refusal]
        with pytest.raises(RefusedError) as caught:
            plan.check()
        assert (caught.value.message, caught.value.hint) == (f"reset refused: {refusal}", hint)


def test_a_file_deleted_by_another_process_while_emptying_is_named_as_such(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two resets at once: the second found files gone under it and blamed "whatever holds files there"."""
    import shutil

    logs, _zk = kafka_data(env.data / "kafka-logs"), zk_data(env.data / "zookeeper")
    real_rmtree = shutil.rmtree

    def another_reset_gets_there_first(path: str, *args: object, **kwargs: object) -> None:
        if (logs / "db_live_events-0").exists():
            real_rmtree(logs / "db_live_events-0")  # what the other process deletes, a moment before this one
        real_rmtree(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(shutil, "rmtree", another_reset_gets_there_first)
    with pytest.raises(KafkaopsError) as caught:
        reset.execute(env.settings, env.plan(), cwd=env.cwd, home=env.home)
    gone = reset.realpath(logs) / "db_live_events-0"
    assert caught.value.message == (
        f"could not empty {reset.realpath(logs)}: {gone} vanished while kafkaops was deleting it: "
        "another process (another `kafkaops reset`?) is deleting in the same folder"
    )
    assert caught.value.hint == (
        f"let the other one finish (a reset appends a line to {env.ops / 'reset-audit.log'}), then run `kafkaops reset --dry-run` to see what is left"
    )
    assert json.loads((env.ops / "reset-audit.log").read_text().splitlines()[-1])["outcome"] == "failed"


def test_a_busy_file_while_emptying_is_named_as_such(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    logs, _zk = kafka_data(env.data / "kafka-logs"), zk_data(env.data / "zookeeper")
    real_unlink = os.unlink
    busy = reset.realpath(logs) / "meta.properties"

    def in_use(path: str, *args: object, **kwargs: object) -> None:
        if str(path) == str(busy):
            raise OSError(errno.EBUSY, os.strerror(errno.EBUSY), str(path))
        real_unlink(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "unlink", in_use)
    with pytest.raises(KafkaopsError) as caught:
        reset.execute(env.settings, env.plan(), cwd=env.cwd, home=env.home)
    assert caught.value.message == f"could not empty {reset.realpath(logs)}: {busy} is in use by another process ({os.strerror(errno.EBUSY)})"
    assert caught.value.hint == (
        "find and stop the process using it (a broker or ZooKeeper kafkaops did not start, a backup, an editor), then rerun `kafkaops reset --confirm`"
    )
    assert busy.exists()


# --------------------------------------------------------------------------------------------
# KRaft mode (Kafka 4.x): every log.dirs and metadata.log.dir entry of the node(s); refused while one runs

# Every name a Kafka 4.4 KRaft node wrote in its dirs here (combined node and the split layout's broker and
# controller; running, and after a clean stop), plus what its sources write for a moment: a snapshot being
# written (Snapshots.PARTIAL_SUFFIX, a temporary file) or deleted, quorum-state and checkpoints being written,
# and the bootstrap.checkpoint that StorageTool writes in a 3.x metadata dir.
KRAFT_WRITES = [
    "meta.properties",
    ".lock",
    ".kafka_cleanshutdown",
    "recovery-point-offset-checkpoint",
    "replication-offset-checkpoint",
    "log-start-offset-checkpoint",
    "cleaner-offset-checkpoint",
    "bootstrap.checkpoint",
    "bootstrap.checkpoint.tmp",
    *[f"__cluster_metadata-0/{SEGMENT}.{ext}" for ext in ("log", "index", "timeindex")],
    "__cluster_metadata-0/00000000000000000029.snapshot",
    "__cluster_metadata-0/partition.metadata",
    "__cluster_metadata-0/leader-epoch-checkpoint",
    "__cluster_metadata-0/quorum-state",
    "__cluster_metadata-0/quorum-state.tmp",
    f"__cluster_metadata-0/{SEGMENT}-0000000000.checkpoint",
    "__cluster_metadata-0/00000000000000004711-0000000003.checkpoint",
    "__cluster_metadata-0/00000000000000004711-0000000003.checkpoint.deleted",
    "__cluster_metadata-0/00000000000000009000-00000000035102193848152641.checkpoint.part",
    *[f"orders-1/{SEGMENT}.{ext}" for ext in ("log", "index", "timeindex")],
    "orders-1/00000000000000000003.snapshot",
    "orders-1/partition.metadata",
    "orders-1/leader-epoch-checkpoint",
    f"__consumer_offsets-7/{SEGMENT}.log",
]


def test_everything_a_kraft_node_writes_is_kafkas_and_a_users_file_beside_it_is_not(tmp_path: Path) -> None:
    found = reset.survey(_tree(tmp_path / "k", KRAFT_WRITES))
    assert (found.kafka, found.zookeeper, found.foreign) == (True, False, [])
    # A controller-only dir (the split layout): meta.properties and the metadata partition, nothing else.
    controller = _tree(
        tmp_path / "c", ["meta.properties", ".lock", "__cluster_metadata-0/quorum-state", f"__cluster_metadata-0/{SEGMENT}-0000000000.checkpoint"]
    )
    assert reset.looks_like_kafka_data(controller)
    # Kafka's names do not make a user's files Kafka's.
    mine = _tree(
        tmp_path / "m",
        [*KRAFT_WRITES, "__cluster_metadata-0/quorum-state.bak", "__cluster_metadata-0/notes.checkpoint", "quorum-state", "bootstrap.txt"],
        folders=("__cluster_metadata-0/old",),
    )
    assert [str(f) for f in reset.survey(mine).foreign] == [
        "__cluster_metadata-0/notes.checkpoint",
        "__cluster_metadata-0/old/ (0 files)",
        "__cluster_metadata-0/quorum-state.bak",
        "bootstrap.txt",
        "quorum-state",
    ]


class KraftEnv(Env):
    """A stopped KRaft stack's configs under tmp: a combined node, or (split) a broker with controller.properties."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        (self.conf / "zookeeper.properties").unlink()
        self.controller_port = _closed_port()
        self.log_dir, self.metadata_dir = self.data / "kraft-logs", self.data / "kraft-metadata"
        self.kraft()

    def kraft(self, *, metadata_dir: bool = False, split: bool = False) -> None:
        from kafkaops.procedures.layout import kraft_broker_config, kraft_combined_config, kraft_controller_config

        if split:
            write_properties(self.conf / "controller.properties", kraft_controller_config(self.metadata_dir, self.controller_port, node_id=1))
            props = kraft_broker_config(self.log_dir, self.broker_port, self.controller_port, node_id=2, controller_id=1)
        else:
            props = kraft_combined_config(self.log_dir, self.broker_port, self.controller_port)
            if metadata_dir:
                props["metadata.log.dir"] = str(self.metadata_dir)
        write_properties(self.conf / "server.properties", props)

    @property
    def settings(self) -> Settings:
        return load_settings(
            env={
                "KAFKA_HOME": str(self.kafka_home),
                "KAFKAOPS_HOME": str(self.ops),
                "KAFKAOPS_SERVER_PROPERTIES": str(self.conf / "server.properties"),
                "KAFKA_BROKER": f"localhost:{self.broker_port}",
            },
            cwd=self.cwd,
        )

    def record_cluster(self, **dirs: str) -> Path:
        path = self.ops / "run" / "kraft-cluster.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"dirs": dirs}))
        return path


def kraft_data(path: Path, cluster_id: str = "KrAfTcLuStErIdAbCdEfGh", node_id: int = 1) -> Path:
    """A folder that looks like a KRaft node's dir: meta.properties, the metadata partition, a topic."""
    _tree(path, [f for f in KRAFT_WRITES if not f.endswith((".tmp", ".part", ".deleted"))])
    (path / "meta.properties").write_text(f"version=1\ncluster.id={cluster_id}\nnode.id={node_id}\ndirectory.id=AAAAAAAAAAAAAAAAAAAAAA\n")
    return path


@pytest.fixture
def kenv(tmp_path: Path) -> KraftEnv:
    return KraftEnv(tmp_path)


def test_kraft_plan_lists_log_dirs_and_the_metadata_dir_and_no_zookeeper(kenv: KraftEnv) -> None:
    kenv.kraft(metadata_dir=True)
    logs, metadata = kraft_data(kenv.log_dir), kraft_data(kenv.metadata_dir)
    assert kenv.settings.kraft
    plan = kenv.plan()
    assert plan.mode == "kraft" and plan.refusals == []
    assert [(d.role, d.path) for d in plan.dirs] == [("KRaft metadata dir", str(metadata)), ("kafka log dir", str(logs))]
    assert plan.dirs[1].topics == {"__cluster_metadata": 1, "__consumer_offsets": 1, "orders": 1}
    assert plan.dirs[1].cluster_id == "KrAfTcLuStErIdAbCdEfGh" and plan.dirs[1].looks_like_data
    assert [(s.service, s.state, s.port) for s in plan.stop] == [("kafka", "not-running", kenv.broker_port)]
    assert plan.loses[0] == "every topic and message (topics on disk: orders)"
    assert plan.loses[3] == "the cluster id KrAfTcLuStErIdAbCdEfGh: the next `kafkaops up` formats the folders with a new one"
    assert not any("ZooKeeper" in line for line in plan.loses + plan.keeps)
    assert plan.to_dict()["mode"] == "kraft"


def test_kraft_split_layout_plans_the_controllers_dir_and_protects_its_config(kenv: KraftEnv) -> None:
    kenv.kraft(split=True)
    logs, metadata = kraft_data(kenv.log_dir, node_id=2), kraft_data(kenv.metadata_dir)
    plan = kenv.plan()
    assert [(d.role, d.real) for d in plan.dirs] == [("KRaft metadata dir", str(reset.realpath(metadata))), ("kafka log dir", str(reset.realpath(logs)))]
    assert [s.service for s in plan.stop] == ["kafka", "controller"]  # the broker first, as `down` stops them
    assert f"the config files: {kenv.conf / 'server.properties'}, {kenv.conf / 'controller.properties'}" in plan.keeps
    protected = reset.Protected.of(kenv.settings, cwd=kenv.cwd, home=kenv.home)
    assert ("the config file", reset.realpath(kenv.conf / "controller.properties")) in protected.whole


def test_kraft_plan_refuses_a_users_file_in_the_metadata_dir(kenv: KraftEnv) -> None:
    kenv.kraft(metadata_dir=True)
    kraft_data(kenv.log_dir)
    (kraft_data(kenv.metadata_dir) / "__cluster_metadata-0" / "my-notes.txt").write_text("mine")
    plan = kenv.plan()
    assert plan.refusals == [f"KRaft metadata dir {kenv.metadata_dir} holds 1 entry Kafka and ZooKeeper never write: __cluster_metadata-0/my-notes.txt"]


def test_kraft_plan_refuses_while_a_port_of_the_node_answers(kenv: KraftEnv) -> None:
    kraft_data(kenv.log_dir)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", kenv.controller_port))
        holder.listen()
        plan = kenv.plan()
    [node] = plan.stop
    assert (node.state, node.port, node.pid) == ("foreign", kenv.controller_port, os.getpid())
    assert plan.refusals == [
        f"the KRaft node (broker and controller): port {kenv.controller_port} is held by pid {os.getpid()} (python), which kafkaops did not start"
    ]
    with pytest.raises(RefusedError) as caught:
        plan.check()
    assert caught.value.hint == "stop that process yourself (kafkaops never signals what it did not start), then rerun"


def test_kraft_plan_refuses_while_a_process_holds_a_dirs_lock(kenv: KraftEnv) -> None:
    import subprocess
    import sys

    logs = kraft_data(kenv.log_dir)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, sys, time; f = open(sys.argv[1], 'r+'); fcntl.lockf(f, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)",
            str(logs / ".lock"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        plan = kenv.plan()
    finally:
        holder.kill()
        holder.wait()
    assert plan.refusals == [f"a process holds {reset.realpath(logs) / '.lock'}: a Kafka node kafkaops did not start runs on {reset.realpath(logs)}"]
    with pytest.raises(RefusedError) as caught:
        plan.check()
    assert caught.value.hint == "stop that process yourself (kafkaops never signals what it did not start), then rerun"
    assert kenv.plan().refusals == []  # released: and taking it to look left nothing held


def test_kraft_plan_refuses_another_clusters_broker_address(kenv: KraftEnv) -> None:
    kraft_data(kenv.log_dir)
    settings = kenv.settings.with_overrides(kafka_broker=f"localhost:{kenv.controller_port + 1}")
    plan = reset.build_plan(settings, cwd=kenv.cwd, home=kenv.home)
    assert plan.not_local is not None and plan.refusals[0] == plan.not_local
    assert plan.not_local.startswith(f"the configured cluster (KAFKA_BROKER=localhost:{kenv.controller_port + 1}) is not the local KRaft stack: ")


def test_kraft_execute_empties_the_dirs_and_forgets_only_this_stacks_cluster_id(kenv: KraftEnv) -> None:
    kenv.kraft(metadata_dir=True)
    logs, metadata = kraft_data(kenv.log_dir), kraft_data(kenv.metadata_dir)
    record = kenv.record_cluster(**{str(kenv.metadata_dir): "KrAfTcLuStErIdAbCdEfGh", "/elsewhere/metadata": "OtHeRcLuStErIdAbCdEfGh"})
    beside = kenv.data / "beside.txt"
    beside.write_text("sentinel")
    steps: list[str] = []

    result = reset.execute(kenv.settings, kenv.plan(), steps.append, cwd=kenv.cwd, home=kenv.home)

    assert list(logs.iterdir()) == [] and list(metadata.iterdir()) == [] and beside.read_text() == "sentinel"
    assert [e.role for e in result.emptied] == ["KRaft metadata dir", "kafka log dir"]
    assert [(s.service, s.action) for s in result.stopped] == [("kafka", "not-running")] and steps[0] == "stopping the KRaft node(s): the broker first"
    assert result.forgotten_cluster == "KrAfTcLuStErIdAbCdEfGh"
    assert json.loads(record.read_text()) == {"dirs": {"/elsewhere/metadata": "OtHeRcLuStErIdAbCdEfGh"}}
    line = json.loads((kenv.ops / "reset-audit.log").read_text().splitlines()[-1])
    assert line["outcome"] == "done" and len(line["deleted"]) == 2

    kraft_data(kenv.log_dir), kraft_data(kenv.metadata_dir)
    kenv.record_cluster(**{str(kenv.metadata_dir): "KrAfTcLuStErIdAbCdEfGh"})
    reset.execute(kenv.settings, kenv.plan(), cwd=kenv.cwd, home=kenv.home)
    assert not record.exists()  # nothing else was recorded: the file goes


def test_kraft_execute_refuses_a_node_that_started_after_the_plan(kenv: KraftEnv) -> None:
    logs = kraft_data(kenv.log_dir)
    plan = kenv.plan()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", kenv.broker_port))
        holder.listen()
        with pytest.raises(RefusedError) as caught:
            reset.execute(kenv.settings, plan, cwd=kenv.cwd, home=kenv.home)
    assert caught.value.message == (
        f"the KRaft node (broker and controller): port {kenv.broker_port} is held by pid {os.getpid()} (python), "
        "which kafkaops did not start (it started after the plan); nothing was deleted"
    )
    assert (logs / "meta.properties").exists()
    assert json.loads((kenv.ops / "reset-audit.log").read_text().splitlines()[-1])["outcome"] == "refused"


def test_kraft_mode_stops_its_own_node_and_refuses_one_it_did_not_start(kenv: KraftEnv) -> None:
    from kafkaops.procedures import services
    from kafkaops.procedures.reset import kraft
    from kafkaops.procedures.reset.plan import ServicePlan

    kenv.kraft()
    layout = services.kraft_layout.read_layout(kenv.settings)
    ours = [ServicePlan(services.KAFKA, 9092, "running", 4242)]
    assert kraft.running_refusals(layout, ours, []) == []  # stopped by the reset, as in ZooKeeper mode
    theirs = [ServicePlan(services.KAFKA, 9092, "foreign", 77, "port 9092 is held by pid 77 (java), which kafkaops did not start")]
    assert kraft.running_refusals(layout, theirs, []) == [
        "the KRaft node (broker and controller): port 9092 is held by pid 77 (java), which kafkaops did not start"
    ]


@pytest.mark.skipif(os.name == "nt", reason="Kafka's .lock is checked with fcntl (POSIX)")
def test_a_log_dir_locked_by_another_process_is_a_kafka_node_kafkaops_did_not_start(tmp_path: Path) -> None:
    import subprocess
    import sys

    from kafkaops.procedures.reset import kraft

    held, free = tmp_path / "held", tmp_path / "free"
    for d in (held, free):
        d.mkdir()
        (d / ".lock").write_bytes(b"")
    code = "import fcntl,os,sys,time; fd=os.open(sys.argv[1],os.O_RDWR); fcntl.lockf(fd,fcntl.LOCK_EX); print('locked',flush=True); time.sleep(60)"
    child = subprocess.Popen([sys.executable, "-c", code, str(held / ".lock")], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "locked"
        assert kraft.locked_dirs([held, free, tmp_path / "missing"]) == [held]
    finally:
        child.kill()
        child.wait()
    assert kraft.locked_dirs([held]) == []  # the lock went with its process
