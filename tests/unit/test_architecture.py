"""The architecture, kept by a test: cli -> procedures -> adapters, one rich user, lazy heavy imports."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parents[2] / "kafkaops"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _modules(sub: str) -> list[Path]:
    return sorted((PKG / sub).rglob("*.py"))  # packages too: procedures/services, procedures/reset


def test_adapters_import_neither_procedures_nor_cli() -> None:
    for path in _modules("adapters"):
        bad = {m for m in _imports(path) if m.startswith(("kafkaops.procedures", "kafkaops.cli"))}
        assert not bad, f"{path.name} imports {bad}"


def test_procedures_do_not_import_the_cli_or_print() -> None:
    for path in _modules("procedures"):
        bad = {m for m in _imports(path) if m.startswith(("kafkaops.cli", "typer", "rich"))}
        assert not bad, f"{path.name} imports {bad}"


def test_only_ui_imports_rich_and_nobody_imports_click() -> None:
    for path in PKG.rglob("*.py"):
        mods = _imports(path)
        assert not any(m == "click" or m.startswith("click.") for m in mods), f"{path} imports click"
        if path.name != "ui.py":
            assert not any(m == "rich" or m.startswith("rich.") for m in mods), f"{path} imports rich"


def test_help_does_not_load_the_heavy_clients() -> None:
    code = (
        "import sys; from typer.testing import CliRunner; from kafkaops.cli import app; "
        "r = CliRunner().invoke(app, ['--help']); assert r.exit_code == 0, r.output; "
        "print(sorted({m.split('.')[0] for m in sys.modules if m.split('.')[0] in "
        "('confluent_kafka', 'kazoo', 'psycopg', 'psutil', 'rich', 'jproperties')}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]", out


def test_the_doctor_package_sits_at_the_procedures_level() -> None:
    for path in _modules("doctor"):
        bad = {m for m in _imports(path) if m.startswith(("kafkaops.cli", "typer", "rich"))}
        assert not bad, f"doctor/{path.name} imports {bad}"
