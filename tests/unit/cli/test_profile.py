"""kafkaops profile ... through the CLI: exact output, exit codes, and no secret printed."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from kafkaops.cli import app


def run(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, args, env=env)
    return result.exit_code, result.stdout, result.stderr


def test_add_list_show_use_remove(env: dict[str, str], tmp_path: Path) -> None:
    env = {**env, "KAFKAOPS_CONFIG_DIR": str(tmp_path / "cfg")}
    path = tmp_path / "cfg" / "profiles.toml"
    code, _, err = run(["profile", "add", "prod", "-b", "k:9093", "-X", "sasl.username=alice", "--secret-env", "sasl.password=PW"], env)
    assert code == 0, err
    assert err == f"✓ profile prod saved in {path}; use it with --profile prod\n"
    code, out, _ = run(["profile", "list", "--json"], env)
    doc = json.loads(out)
    assert doc["default"] is None and doc["profiles"] == [
        {"name": "prod", "default": False, "broker": "k:9093", "client": {"sasl.username": "alice", "sasl.password": "env:PW"}}
    ]
    code, out, err = run(["profile", "use", "prod"], env)
    assert code == 0 and err == f"✓ default profile: prod ({path})\n"
    code, out, _ = run(["profile", "show"], env)
    assert out == "profile prod (default)\nbroker = k:9093\nclient.sasl.username = alice\nclient.sasl.password = env:PW\n"
    code, out, err = run(["profile", "remove", "prod"], env)
    assert code == 0 and json.loads(run(["profile", "list", "--json"], env)[1])["profiles"] == []


def test_a_secret_as_text_is_refused_and_never_echoed(env: dict[str, str], tmp_path: Path) -> None:
    env = {**env, "KAFKAOPS_CONFIG_DIR": str(tmp_path / "cfg")}
    code, out, err = run(["profile", "add", "p", "-X", "sasl.password=hunter2-x"], env)
    assert code == 2 and "hunter2-x" not in out + err
    assert err.splitlines()[0] == f"error: sasl.password would be written into {tmp_path / 'cfg' / 'profiles.toml'} as text"
    code, _, err = run(["profile", "add", "p", "--database-url", "postgresql://u:hunter2-x@h/db"], env)
    assert code == 2 and "hunter2-x" not in err


def test_an_unknown_profile_is_exit_2_with_the_closest_name(env: dict[str, str], tmp_path: Path) -> None:
    env = {**env, "KAFKAOPS_CONFIG_DIR": str(tmp_path / "cfg")}
    run(["profile", "add", "staging", "-b", "s:9092"], env)
    code, out, err = run(["--profile", "stagign", "topics", "list"], env)
    assert (code, out) == (2, "")
    assert err.splitlines()[0] == f"error: no profile named 'stagign' in {tmp_path / 'cfg' / 'profiles.toml'} (did you mean staging?)"


def test_x_and_a_bad_x(env: dict[str, str]) -> None:
    code, _, err = run(["-X", "nonsense", "topics", "list"], env)
    assert code == 2 and err.splitlines()[0] == "error: -X 'nonsense' is not key=value"
