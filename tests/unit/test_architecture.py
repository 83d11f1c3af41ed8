"""The architecture, kept by a test: the import contracts in pyproject.toml ([tool.importlinter]:
cli over procedures and doctor over adapters, the clients only in adapters, no cycles, rich only in
ui, typer only in cli, no click), checked by import-linter; and lazy heavy imports."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_import_contracts_hold() -> None:
    lint_imports = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    assert lint_imports, "lint-imports not found: install the test extra (pip install -e '.[test]')"
    run = subprocess.run([lint_imports, "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_help_does_not_load_the_heavy_clients() -> None:
    code = (
        "import sys; from typer.testing import CliRunner; from kafkaops.cli import app; "
        "r = CliRunner().invoke(app, ['--help']); assert r.exit_code == 0, r.output; "
        "print(sorted({m.split('.')[0] for m in sys.modules if m.split('.')[0] in "
        "('confluent_kafka', 'kazoo', 'psycopg', 'psutil', 'rich', 'jproperties')}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]", out
