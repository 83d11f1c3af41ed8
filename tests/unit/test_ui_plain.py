"""ui without a terminal: plain text that is exactly what rich prints, without importing rich."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
from rich.console import Console
from rich.table import Table

from kafkaops import ui


def _rich(columns: list[str], rows: list[list[str]]) -> str:
    table = Table(show_edge=False, pad_edge=False)
    for c in columns:
        table.add_column(c)
    for row in rows:
        table.add_row(*row)
    buf = io.StringIO()
    Console(file=buf, width=100_000, soft_wrap=True).print(table)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("columns", "rows"),
    [
        (["topic", "partitions", "replication factor"], [["db_live_events", "3", "1"], ["a", "12", "1"]]),
        (["GROUP", "STATE", "KIND"], []),
        (["only"], [["x"], ["a longer cell"], [""]]),
        (["a", "b"], [["", ""], ["  spaced  ", "[bold]not markup[/bold]"]]),
        (["TOPIC", "PARTITION", "COMMITTED", "END", "LAG", "MEMBER"], [["t", "0", "4", "10", "6", "-"]]),
    ],
)
def test_the_plain_table_is_what_rich_prints(columns: list[str], rows: list[list[str]]) -> None:
    assert ui.plain_table(columns, rows) == _rich(columns, [[ui.escape(c) for c in row] for row in rows])


def test_wide_or_control_characters_are_left_to_rich() -> None:
    assert ui.plain_table(["name"], [["日本"]]) is None
    assert ui.plain_table(["name"], [["a\nb"]]) is None


def test_topics_list_style_output_on_a_pipe_never_imports_rich() -> None:
    code = (
        "import sys; from kafkaops import ui; from kafkaops.errors import KafkaopsError;"
        "ui.print_table(None, ['a', 'b'], [['x', 1]]); ui.info('hidden'); ui.warn('w'); ui.error(KafkaopsError('m', hint='h', runbook='r'));"
        "print('rich' in sys.modules)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, stdin=subprocess.DEVNULL)
    assert r.stdout == "a ┃ b\n━━╇━━\nx │ 1\nFalse\n"
    assert r.stderr == "hidden\nwarning: w\nerror: m\nhint: h\nsee: kafkaops runbook r\n"


def test_help_imports_no_client_library_no_rich_and_no_procedure() -> None:
    code = (
        "import sys; sys.argv = ['kafkaops', '--help']\nfrom kafkaops.cli import main\ntry:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = ('rich', 'confluent_kafka', 'psycopg', 'kazoo', 'psutil', 'platformdirs', 'jproperties', 'kafkaops.procedures', 'kafkaops.adapters')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy or m.startswith(heavy)), file=sys.stderr)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert r.stderr.strip().splitlines()[-1] == "[]"
