"""kafkaops reset through Typer's CliRunner: the plan, the exit codes, the confirmation and the guards.

No service runs: the configs point at closed ports, HOME and the current folder are folders under
tmp_path, and every folder a guard must protect holds a sentinel file that is checked afterwards.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kafkaops.adapters.javaprops import write_properties
from kafkaops.cli import app
from kafkaops.procedures.reset import carry_out
from tests.conftest import free_port


class Layout:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.home, self.work, self.ops = root / "home", root / "work", root / "ops"
        self.kafka_home, self.conf = root / "kafka", root / "conf"
        self.logs, self.zk = root / "data" / "kafka-logs", root / "data" / "zookeeper"
        for d in (self.home, self.work, self.ops, self.kafka_home / "libs", self.conf):
            d.mkdir(parents=True)
        (self.kafka_home / "libs" / "kafka_2.13-3.9.2.jar").write_bytes(b"")
        self.zk_port, self.broker_port = free_port(), free_port()
        self.env = {
            "HOME": str(self.home),
            "KAFKA_HOME": str(self.kafka_home),
            "KAFKAOPS_HOME": str(self.ops),
            "KAFKAOPS_SERVER_PROPERTIES": str(self.conf / "server.properties"),
            "KAFKAOPS_ZOOKEEPER_PROPERTIES": str(self.conf / "zookeeper.properties"),
            "KAFKAOPS_EMBEDDED_DB": "off",
            "DATABASE_URL": "",
            "NO_COLOR": "1",
        }
        self.configure(str(self.logs), str(self.zk))

    def configure(self, log_dirs: str, data_dir: str) -> None:
        write_properties(self.conf / "zookeeper.properties", {"dataDir": data_dir, "clientPort": str(self.zk_port)})
        write_properties(
            self.conf / "server.properties",
            {"broker.id": "0", "listeners": f"PLAINTEXT://localhost:{self.broker_port}", "log.dirs": log_dirs},
        )

    def fill(self) -> None:
        """Data that looks like a broker's and ZooKeeper's: 3 files, 1000 + 50 + 20 bytes."""
        (self.logs / "db_live_events-0").mkdir(parents=True)
        (self.logs / "db_live_events-0" / "00000000000000000000.log").write_bytes(b"m" * 1000)
        (self.logs / "meta.properties").write_bytes(b"c" * 50)
        (self.zk / "version-2").mkdir(parents=True)
        (self.zk / "version-2" / "log.1").write_bytes(b"z" * 20)

    def audit_lines(self) -> list[dict[str, object]]:
        path = self.ops / "reset-audit.log"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture
def lay(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Layout:
    layout = Layout(tmp_path)
    monkeypatch.chdir(layout.work)  # the current folder (and no stray .env)
    monkeypatch.setenv("HOME", str(layout.home))
    return layout


def run(args: list[str], lay: Layout) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, args, env=lay.env)
    return result.exit_code, result.stdout, result.stderr


def test_without_confirm_the_plan_is_printed_and_nothing_is_deleted(lay: Layout) -> None:
    lay.fill()
    code, out, err = run(["reset"], lay)
    assert code == 5
    assert out == (
        "kafkaops reset plan (nothing has been deleted)\n"
        "\n"
        "Stop, in this order:\n"
        f"  1. Kafka broker  not running (port {lay.broker_port})\n"
        f"  2. ZooKeeper     not running (port {lay.zk_port})\n"
        "\n"
        "Empty these folders (the folders themselves stay):\n"
        f"  kafka log dir      {lay.logs}  1.0 KiB in 2 files\n"
        f"  ZooKeeper dataDir  {lay.zk}  20 B in 1 file\n"
        "  total              1.0 KiB in 3 files\n"
        "\n"
        "You will lose:\n"
        "  - every topic and message (topics on disk: db_live_events)\n"
        "  - every consumer group's committed offsets (__consumer_offsets)\n"
        "  - the broker's metadata (meta.properties, cluster id)\n"
        "  - ZooKeeper's state: broker registrations, controller, topic configs, the cluster id\n"
        "\n"
        "What stays:\n"
        "  - the database: the livedb rows and the producer offset (producer_offsets)\n"
        f"  - the config files: {lay.conf / 'server.properties'}, {lay.conf / 'zookeeper.properties'}\n"
        f"  - kafkaops's own state and service logs under {lay.ops}\n"
        "  - the data folders themselves (only their contents are deleted)\n"
    )
    assert err == (
        "error: nothing was deleted: a reset needs --confirm\n"
        "hint: read the plan above, then run `kafkaops reset --confirm` (add --yes when there is no terminal)\n"
    )
    assert (lay.logs / "meta.properties").exists() and (lay.zk / "version-2" / "log.1").exists()
    assert lay.audit_lines() == []  # looking at the plan is not an attempt


def test_dry_run_exits_0_and_deletes_nothing(lay: Layout) -> None:
    lay.fill()
    code, out, err = run(["reset", "--dry-run", "--confirm", "--yes"], lay)
    assert code == 0, err
    assert out.startswith("kafkaops reset plan (nothing has been deleted)\n")
    assert err == "dry run: nothing was stopped or deleted\n"
    assert (lay.logs / "meta.properties").exists() and (lay.zk / "version-2" / "log.1").exists()


def test_json_plan(lay: Layout) -> None:
    lay.fill()
    code, out, _ = run(["reset", "--dry-run", "--json"], lay)
    assert code == 0
    doc = json.loads(out)
    assert doc["result"] is None
    assert doc["plan"]["allowed"] is True
    assert [(d["role"], d["files"], d["size_bytes"]) for d in doc["plan"]["dirs"]] == [
        ("kafka log dir", 2, 1050),
        ("ZooKeeper dataDir", 1, 20),
    ]
    assert [s["service"] for s in doc["plan"]["stop"]] == ["kafka", "zookeeper"]


def test_confirm_without_a_terminal_needs_yes(lay: Layout) -> None:
    lay.fill()
    code, _, err = run(["reset", "--confirm"], lay)
    assert code == 5
    assert err == ("error: no terminal to confirm on: a reset without a terminal needs --yes as well as --confirm\nhint: kafkaops reset --confirm --yes\n")
    assert (lay.logs / "meta.properties").exists()
    [line] = lay.audit_lines()
    assert line["outcome"] == "refused" and line["deleted"] == []


def test_confirm_yes_on_a_stopped_stack_empties_exactly_the_data_folders(lay: Layout) -> None:
    lay.fill()
    (lay.root / "data" / "next-to.txt").write_text("sentinel")
    code, _, err = run(["reset", "--confirm", "--yes"], lay)
    assert code == 0, err
    assert lay.logs.is_dir() and list(lay.logs.iterdir()) == []
    assert lay.zk.is_dir() and list(lay.zk.iterdir()) == []
    assert (lay.root / "data" / "next-to.txt").read_text() == "sentinel"
    assert f"✓ emptied kafka log dir {lay.logs} (1.0 KiB in 2 files)\n" in err
    assert f"✓ emptied ZooKeeper dataDir {lay.zk} (20 B in 1 file)\n" in err
    assert "next: kafkaops up (starts a new, empty cluster and creates the pipeline topic)\n" in err
    [line] = lay.audit_lines()
    assert line["outcome"] == "done"
    assert [(d["path"], d["files"], d["size_bytes"]) for d in line["deleted"]] == [(str(lay.logs), 2, 1050), (str(lay.zk), 1, 20)]


@pytest.fixture
def no_deleting(monkeypatch: pytest.MonkeyPatch) -> None:
    """A safety net for the guard tests: if a guard ever failed, the test fails instead of deleting."""

    def refuse_to_delete(*_: object, **__: object) -> None:
        raise AssertionError("the reset tried to empty a protected folder")

    monkeypatch.setattr(carry_out, "empty_directory", refuse_to_delete)  # where execute looks it up


@pytest.mark.usefixtures("no_deleting")
def test_log_dirs_at_the_filesystem_root_is_refused(lay: Layout) -> None:
    lay.configure("/", str(lay.zk))
    code, out, err = run(["reset", "--confirm", "--yes"], lay)
    assert code == 5
    assert "  REFUSED: kafka log dir /: it is a filesystem root\n" in out
    assert err.startswith("error: reset refused: kafka log dir /: it is a filesystem root\n")
    [line] = lay.audit_lines()
    assert line["outcome"] == "refused" and line["deleted"] == []


@pytest.mark.usefixtures("no_deleting")
def test_log_dirs_at_the_home_folder_is_refused_even_with_force_path(lay: Layout) -> None:
    (lay.home / "precious.txt").write_text("keep")
    lay.configure(str(lay.home), str(lay.zk))
    code, _, err = run(["reset", "--confirm", "--yes", "--force-path", str(lay.home)], lay)
    assert code == 5
    assert err.startswith(f"error: reset refused: kafka log dir {lay.home}: it is your home folder\n")
    assert (lay.home / "precious.txt").read_text() == "keep"


@pytest.mark.usefixtures("no_deleting")
def test_data_dir_containing_kafka_home_is_refused(lay: Layout) -> None:
    lay.configure(str(lay.logs), str(lay.root))
    code, _, err = run(["reset", "--confirm", "--yes"], lay)
    assert code == 5
    assert err.startswith(f"error: reset refused: ZooKeeper dataDir {lay.root}: it contains your home folder {lay.home}\n")
    lay.configure(str(lay.kafka_home), str(lay.zk))
    code, _, err = run(["reset", "--confirm", "--yes"], lay)
    assert code == 5
    assert err.startswith(f"error: reset refused: kafka log dir {lay.kafka_home}: it is KAFKA_HOME\n")
    assert (lay.kafka_home / "libs" / "kafka_2.13-3.9.2.jar").exists()


@pytest.mark.usefixtures("no_deleting")
def test_the_current_folder_is_refused(lay: Layout) -> None:
    (lay.work / "notes.txt").write_text("mine")
    lay.configure(str(lay.work), str(lay.zk))
    code, _, err = run(["reset", "--confirm", "--yes"], lay)
    assert code == 5
    assert err.startswith(f"error: reset refused: kafka log dir {lay.work}: it is the current folder\n")


def test_a_folder_kafka_did_not_write_is_refused_until_named_with_force_path(lay: Layout) -> None:
    """log.dirs at ZooKeeper's data: nothing foreign, but nothing Kafka wrote either."""
    zk_only = lay.root / "zk-only"
    (zk_only / "version-2").mkdir(parents=True)
    (zk_only / "version-2" / "log.1").write_text("zk log")
    lay.configure(str(zk_only), str(lay.zk))
    code, _, err = run(["reset", "--confirm", "--yes"], lay)
    assert code == 5
    assert err == (
        f"error: reset refused: kafka log dir {zk_only} does not look like Kafka data "
        "(no meta.properties, no checkpoint files, no <topic>-<partition> folders with segments)\n"
        "hint: check log.dirs / dataDir / dataLogDir in the configs; if that folder really is Kafka's or ZooKeeper's, "
        "name it with --force-path DIR\n"
        "see: kafkaops runbook reset what-kafkaops-does\n"
    )
    assert (zk_only / "version-2" / "log.1").read_text() == "zk log"
    code, out, err = run(["reset", "--confirm", "--yes", "--force-path", str(zk_only)], lay)
    assert code == 0, err
    assert f"  kafka log dir      {zk_only}  6 B in 1 file [--force-path]\n" in out
    assert list(zk_only.iterdir()) == []


def test_a_backup_folder_inside_a_data_folder_is_refused(lay: Layout) -> None:
    lay.fill()
    code, _, err = run(["reset", "--confirm", "--yes", "--backup", str(lay.logs / "bk")], lay)
    assert code == 5
    assert err.startswith(f"error: reset refused: the backup folder {lay.logs / 'bk'} is inside kafka log dir {lay.logs}")
    assert (lay.logs / "meta.properties").exists()


def test_backup_prints_where_the_verified_archives_are(lay: Layout) -> None:
    lay.fill()
    backups = lay.root / "backups"
    code, out, err = run(["reset", "--confirm", "--yes", "--backup", str(backups)], lay)
    assert code == 0, err
    assert f"  - back up each folder to a .tar.gz in {backups}, verified before anything is deleted\n" in out
    archives = sorted(backups.iterdir())
    assert len(archives) == 2
    assert f"✓ backed up {lay.logs} to {archives[0]} (3 entries, " in err
    assert f"✓ backed up {lay.zk} to {archives[1]} (2 entries, " in err


@pytest.mark.parametrize(("answer", "code"), [("n\n", 5), ("y\n", 0)])
def test_on_a_terminal_confirm_asks_once_more(lay: Layout, monkeypatch: pytest.MonkeyPatch, answer: str, code: int) -> None:
    from kafkaops import ui

    lay.fill()
    monkeypatch.setattr(ui, "stdin_is_terminal", lambda: True)
    result = CliRunner().invoke(app, ["reset", "--confirm"], env=lay.env, input=answer)
    assert result.exit_code == code, result.stderr
    assert "Stop the stack and delete 1.0 KiB in 3 files from 2 folder(s)? [y/n] (n): " in result.stderr
    assert (lay.logs / "meta.properties").exists() is (code == 5)
    [line] = lay.audit_lines()
    assert line["outcome"] == ("refused" if code == 5 else "done")
    if code == 5:
        assert result.stderr.endswith("error: reset cancelled: nothing was deleted\n")


def _issue_folder(root: Path) -> Path:
    """The folder from issue 11: a user's files, two of them in folders named like <topic>-<partition>."""
    mine = root / "mine"
    for rel, text in {"notes.txt": "notes", "taxes/2024.pdf": "pdf", "photos-2019/img1.jpg": "jpg", "python-3/site.py": "py"}.items():
        (mine / rel).parent.mkdir(parents=True, exist_ok=True)
        (mine / rel).write_text(text)
    return mine


def test_a_users_folder_with_partition_like_names_survives_confirm_yes(lay: Layout) -> None:
    mine = _issue_folder(lay.root)
    lay.configure(str(mine), str(lay.zk))
    code, out, err = run(["reset", "--confirm", "--yes"], lay)
    assert code == 5, err
    refusal = f"kafka log dir {mine} holds 4 entries Kafka and ZooKeeper never write: notes.txt, photos-2019/img1.jpg, python-3/site.py, taxes/ (1 file)"
    assert f"  REFUSED: {refusal}\n" in out
    assert "  - every topic and message\n" in out  # photos-2019 and python-3 are no topics
    assert err == (
        f"error: reset refused: {refusal}\n"
        "hint: point log.dirs / dataDir / dataLogDir at the data folder, or move those entries out; to delete them anyway, "
        "name each with --force-path PATH (and the folder itself with --force-path DIR)\n"
        "see: kafkaops runbook reset what-kafkaops-does\n"
    )
    assert {str(p.relative_to(mine)) for p in mine.rglob("*") if p.is_file()} == {"notes.txt", "taxes/2024.pdf", "photos-2019/img1.jpg", "python-3/site.py"}
    # --force-path on the folder alone does not hand the user's files over
    code, _, err = run(["reset", "--confirm", "--yes", "--force-path", str(mine)], lay)
    assert code == 5
    assert err.startswith(f"error: reset refused: {refusal}\n")
    assert (mine / "notes.txt").read_text() == "notes" and (mine / "taxes" / "2024.pdf").read_text() == "pdf"


def test_foreign_entries_are_deleted_only_when_each_is_named(lay: Layout) -> None:
    mine = _issue_folder(lay.root)
    lay.configure(str(mine), str(lay.zk))
    named = ["--force-path", str(mine / "notes.txt"), "--force-path", str(mine / "taxes"), "--force-path", str(mine / "photos-2019" / "img1.jpg")]
    code, _, err = run(["reset", "--confirm", "--yes", "--force-path", str(mine), *named], lay)
    assert code == 5
    assert err.startswith(f"error: reset refused: kafka log dir {mine} holds 1 entry Kafka and ZooKeeper never write: python-3/site.py\n")
    assert (mine / "python-3" / "site.py").exists() and (mine / "notes.txt").exists()
    code, out, err = run(["reset", "--confirm", "--yes", "--force-path", str(mine), *named, "--force-path", str(mine / "python-3" / "site.py")], lay)
    assert code == 0, err
    assert f"  kafka log dir      {mine}  13 B in 4 files [--force-path: 4 entries named]\n" in out
    assert list(mine.iterdir()) == []


def test_a_system_folder_is_refused_in_the_dry_run(lay: Layout) -> None:
    """log.dirs=/usr/lib: a tree of libraries, some folders named like <topic>-<partition> (python3.11, x86_64-linux-gnu, perl-5)."""
    lib = lay.root / "usr" / "lib"
    for rel in (
        "x86_64-linux-gnu/libc.so.6",
        "python3.11/os.py",
        "perl-5/strict.pm",
        "gcc-12/x86_64-linux-gnu/12/crtbegin.o",
        "os-release",
        "locale/C.utf8/LC_CTYPE",
        "jvm/java-17/bin/java",
        "node-18/index.js",
    ):
        (lib / rel).parent.mkdir(parents=True, exist_ok=True)
        (lib / rel).write_bytes(b"\x7fELF")
    lay.configure(str(lib), str(lay.zk))
    code, out, err = run(["reset", "--dry-run"], lay)
    assert code == 5, err
    assert err.startswith(
        f"error: reset refused: kafka log dir {lib} holds 8 entries Kafka and ZooKeeper never write: "
        "gcc-12/x86_64-linux-gnu/ (1 file), jvm/ (1 file), locale/ (1 file), node-18/index.js, os-release, and 3 more\n"
    )
    assert "dry run" not in err
