"""Data folders with non-ASCII characters: the broker and ZooKeeper write exactly where kafkaops looks.

Kafka 3.9 and ZooKeeper 3.8 read their .properties files as ISO-8859-1 (``Properties.load(InputStream)``).
Before: a config saved as UTF-8 (any editor's default) with ``log.dirs=.../données-ü`` was started as is,
and the broker wrote to a second, garbled folder ``donnÃ©es-Ã¼``.
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.conftest import make_stack, run_kafkaops, teardown_stack

NAME = "données-ü"


def test_a_stack_in_a_non_ascii_folder_writes_exactly_there(tmp_path: Path, kafka_home: Path) -> None:
    s = make_stack(tmp_path / NAME, kafka_home)  # configs written by kafkaops: ASCII with \u escapes
    try:
        up = run_kafkaops(["up"], s.env, s.root)
        assert up.returncode == 0, up.stderr
        assert (s.log_dir / "meta.properties").is_file()
        assert any((s.log_dir / "db_live_events-0").glob("*.log"))
        assert (s.zk_data / "version-2").is_dir()
        assert os.listdir(os.fsencode(tmp_path)) == [NAME.encode("utf-8")]  # no garbled second folder
        assert sorted(os.listdir(s.root / "data")) == ["kafka-logs", "zookeeper"]
        plan = run_kafkaops(["reset", "--dry-run"], s.env, s.root)
        assert plan.returncode == 0, plan.stderr
        assert f"kafka log dir      {s.log_dir}  " in plan.stdout
        assert f"ZooKeeper dataDir  {s.zk_data}  " in plan.stdout
    finally:
        teardown_stack(s)


def test_a_config_saved_as_utf8_is_refused_before_anything_starts(tmp_path: Path, kafka_home: Path) -> None:
    s = make_stack(tmp_path / NAME, kafka_home)
    for name in ("server.properties", "zookeeper.properties"):  # as a UTF-8 editor saves them
        conf = s.root / "conf" / name
        conf.write_bytes(conf.read_bytes().decode("unicode_escape").encode("utf-8"))
    try:
        up = run_kafkaops(["up"], s.env, s.root)
        assert up.returncode == 2, up.stderr
        zk_conf = s.root / "conf" / "zookeeper.properties"
        lines = up.stderr.splitlines()
        assert lines[0] == "starting the stack ..."
        assert lines[1] == (
            f"error: {zk_conf}, line 1: dataDir is written in UTF-8 ('{s.zk_data}'), but Kafka and ZooKeeper read "
            f""".properties files as ISO-8859-1 and would use '{str(s.zk_data).encode("utf-8").decode("latin-1")}'"""
        )
        escaped = str(s.zk_data).replace("é", "\\u00e9").replace("ü", "\\u00fc")
        assert lines[2:] == [f"hint: write its non-ASCII characters as \\uXXXX escapes (dataDir={escaped}), or save zookeeper.properties as ISO-8859-1"]
        assert os.listdir(os.fsencode(tmp_path)) == [NAME.encode("utf-8")]  # no garbled second folder
        assert not (s.root / "data").exists()
        assert not any(s.settings.run_dir.glob("*.json"))  # no pid file: nothing was started
    finally:
        teardown_stack(s)
