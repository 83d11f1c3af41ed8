"""What keeps a short command short (bench/bench_topics.py): the root group builds a command only when it
is asked for (kafkaops.cli.COMMANDS), so that `topics list` imports and builds its own module alone; and
the program skips the garbage collector's last pass at exit (kafkaops.cli.run)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from kafkaops.cli import COMMANDS, build_commands

CLI = Path(__file__).resolve().parents[3] / "kafkaops" / "cli"


def test_the_table_names_exactly_what_each_module_registers() -> None:
    registering = {p.stem for p in CLI.glob("*.py") if "\ndef register(" in p.read_text()}
    assert registering == set(COMMANDS.values()), "a kafkaops.cli module with register() must be in COMMANDS (and only those)"
    for module in registering:
        assert set(build_commands(module)) == {name for name, m in COMMANDS.items() if m == module}, module


def test_topics_list_imports_no_other_command_and_no_other_topic_procedure(tmp_path: Path) -> None:
    code = """
import sys
from types import SimpleNamespace
from kafkaops.adapters import kafka
part = SimpleNamespace(replicas=[0])
topics = {"b": SimpleNamespace(partitions={0: part, 1: part}), "__consumer_offsets": SimpleNamespace(partitions={0: part}), "a": SimpleNamespace(partitions={0: part})}
kafka.metadata = lambda settings, timeout=5.0: kafka.ClusterInfo("cid", 0, (), topics)
sys.argv = ["kafkaops", "topics", "list"]
from kafkaops.cli import main
try:
    main()
except SystemExit:
    pass
print(sorted(m for m in sys.modules if m.startswith(("kafkaops.cli.", "kafkaops.procedures."))), file=sys.stderr)
"""
    r = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env={"NO_COLOR": "1", "KAFKAOPS_HOME": str(tmp_path / "ops"), "KAFKAOPS_CONFIG_DIR": str(tmp_path / "config")},
    )
    assert r.stdout.splitlines()[2:] == ["a     │ 1          │ 1                 ", "b     │ 2          │ 1                 "], r.stdout + r.stderr
    loaded = r.stderr.strip().splitlines()[-1]
    assert loaded == "['kafkaops.cli.topics', 'kafkaops.procedures.topic_list', 'kafkaops.procedures.topic_rules']", r.stderr


def test_the_program_freezes_the_garbage_collector_on_the_way_out_with_the_same_exit_code() -> None:
    code = """
import gc, runpy, sys
sys.argv = ["kafkaops", "--version"]
try:
    runpy.run_module("kafkaops", run_name="__main__")
except SystemExit as exc:
    print(exc.code, gc.get_freeze_count() > 0)
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, stdin=subprocess.DEVNULL, check=True)
    assert r.stdout.splitlines() == ["kafkaops 0.1.0", "0 True"], r.stdout + r.stderr
    unknown = subprocess.run([sys.executable, "-m", "kafkaops", "no-such-command"], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert unknown.returncode == 2 and "No such command 'no-such-command'" in unknown.stderr
