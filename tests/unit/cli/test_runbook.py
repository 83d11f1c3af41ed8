"""kafkaops runbook: the list, a runbook, a section, bad names; and the runbooks inside an installed wheel."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kafkaops import ui
from kafkaops.cli import app
from kafkaops.procedures import runbooks

ROOT = Path(__file__).resolve().parents[3]
RUNBOOKS = ROOT / "runbooks"


def run(args: list[str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, args, env={"NO_COLOR": "1"})
    return result.exit_code, result.stdout, result.stderr


def test_list_as_json_names_every_runbook_in_procedure_order() -> None:
    code, out, err = run(["runbook", "--json"])
    assert (code, err) == (0, "")
    listed = json.loads(out)
    assert [r["name"] for r in listed][:10] == [
        "index",
        "startup",
        "topics",
        "producer",
        "persistence",
        "consumer",
        "failures",
        "reset",
        "doctor",
        "quick-reference",
    ]
    assert {"name": "failures", "title": "Failures: what kafkaops recognises, and how to get out of each", "file": "failures.md"} in listed
    assert len(listed) == len(list(RUNBOOKS.glob("*.md")))


def test_list_as_a_table() -> None:
    code, out, err = run(["runbook"])
    assert code == 0
    for name in ("index", "failures", "quick-reference", "cli-reference"):
        assert name in out
    assert err == "read one with: kafkaops runbook NAME [SECTION]\n"


def test_a_whole_runbook_is_its_markdown_when_stdout_is_not_a_terminal() -> None:
    code, out, err = run(["runbook", "reset"])
    assert (code, err) == (0, "")
    assert out == (RUNBOOKS / "reset.md").read_text(encoding="utf-8")


def test_a_section_is_exactly_that_section() -> None:
    code, out, err = run(["runbook", "failures", "port-in-use"])
    assert (code, err) == (0, "")
    text = (RUNBOOKS / "failures.md").read_text(encoding="utf-8")
    start = text.index("## Port in use\n")
    end = text.index("## Advertised listeners\n")
    assert out == text[start:end].rstrip() + "\n"


@pytest.mark.parametrize("ref", ["failures#port-in-use", "failures.md#port-in-use"])
def test_a_reference_in_one_word_works_too(ref: str) -> None:
    code, out, _ = run(["runbook", ref])
    assert code == 0
    assert out.startswith("## Port in use\n")


def test_the_see_line_of_an_error_is_a_command_that_works() -> None:
    """ui.error prints `see: kafkaops runbook <ref>`; running exactly that shows the section."""
    code, out, _ = run(["runbook", *"failures stale-broker-registration".split()])
    assert code == 0
    assert out.startswith("## Stale broker registration\n\n**Symptom.**")


def test_unknown_runbook_is_a_usage_error_naming_the_available_ones() -> None:
    code, out, err = run(["runbook", "failure"])
    names = ", ".join(b.name for b in runbooks.list_runbooks())
    assert (code, out) == (2, "")
    assert err == f"error: no runbook 'failure' (did you mean 'failures'?)\nhint: available: {names}\n"


def test_unknown_section_is_a_usage_error_naming_the_sections() -> None:
    code, out, err = run(["runbook", "reset", "nothing-here"])
    assert (code, out) == (2, "")
    assert err.startswith("error: no section 'nothing-here' in runbook reset\nhint: available: what-kafkaops-does, ")
    assert "by-hand" in err


def test_sections_lists_the_anchors() -> None:
    code, out, _ = run(["runbook", "failures", "--sections"])
    assert code == 0
    assert out.splitlines()[:3] == ["stale-broker-registration", "cluster-id-mismatch", "zookeeper-unreachable"]
    code, out, _ = run(["runbook", "failures", "--sections", "--json"])
    assert {"anchor": "disk-space", "title": "Disk space", "level": 2} in json.loads(out)


def test_on_a_terminal_the_markdown_is_rendered(monkeypatch: pytest.MonkeyPatch) -> None:
    from rich.console import Console

    buffer = io.StringIO()
    monkeypatch.setattr(ui, "out", Console(file=buffer, force_terminal=True, width=100, no_color=True))
    ui.markdown("## Port in use\n\n**Symptom.** a `port` is taken\n")
    shown = buffer.getvalue()
    assert "Port in use" in shown and "Symptom." in shown
    assert "**" not in shown and "## " not in shown and "`" not in shown


# --------------------------------------------------------------------------------------------
# the runbooks ship inside the wheel


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """kafkaops built as a wheel and installed into a fresh folder (not the source tree)."""
    tmp = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp / "dist"), str(ROOT)],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    wheel = next((tmp / "dist").glob("kafkaops-*.whl"))
    target = tmp / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-compile", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return target


def run_installed(target: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # -S: no site processing, so the editable install's .pth cannot put the source tree on sys.path;
    # the dependencies come from this venv's site-packages, kafkaops only from the installed wheel.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "KAFKA"))}
    env["PYTHONPATH"] = os.pathsep.join([str(target), sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    env["NO_COLOR"] = "1"
    return subprocess.run([sys.executable, "-S", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False)


def test_an_installed_wheel_reads_its_own_copy(installed: Path, tmp_path: Path) -> None:
    where = run_installed(installed, tmp_path, "-c", "import kafkaops.procedures.runbooks as r; print(r.runbooks_dir())")
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()) == installed / "kafkaops" / "runbooks"

    shown = run_installed(installed, tmp_path, "-m", "kafkaops", "runbook", "failures")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == (RUNBOOKS / "failures.md").read_text(encoding="utf-8")

    section = run_installed(installed, tmp_path, "-m", "kafkaops", "runbook", "failures", "cluster-id-mismatch")
    assert section.returncode == 0, section.stderr
    assert section.stdout.startswith("## Cluster id mismatch\n")

    listed = run_installed(installed, tmp_path, "-m", "kafkaops", "runbook", "--json")
    assert {r["file"] for r in json.loads(listed.stdout)} == {p.name for p in RUNBOOKS.glob("*.md")}
