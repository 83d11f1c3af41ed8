"""kafkaops consume and groups through Typer's CliRunner: exact output and exit codes.

Bad input is refused before any broker is contacted (KAFKA_BROKER points at a closed port: reaching
the network would end in exit 4 instead). (The test that reads a real topic through the CLI is
tests/integration/test_consume_cli.py.)
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from kafkaops.cli import app


def run(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, args, env=env)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["consume", "--offset", "3"], "error: --offset needs --partition\nhint: e.g. kafkaops consume --partition 0 --offset 42\n"),
        (
            ["consume", "--partition", "0", "--group", "g"],
            "error: --partition reads one partition outside any group; it cannot be combined with --group\n"
            "hint: drop --group to read a partition, or drop --partition to read as the group\n",
        ),
        (
            ["consume", "--partition", "0", "--offset", "4", "--from-beginning"],
            "error: --offset and --from-beginning both choose where to start; give one\nhint: --offset earliest is the beginning\n",
        ),
        (["consume", "--partition", "0", "--offset", "soon"], "error: --offset 'soon' is not a number, 'earliest' or 'latest'\n"),
        (["consume", "--format", "xml"], "error: --format 'xml' is not one of pretty, json, raw\n"),
        (
            ["consume", "--from", "soon"],
            "error: --from 'soon' is not a time\nhint: accepted: ISO-8601 (2026-05-01T10:00:00Z; no zone = local time), "
            "-15m / -2h / -1d / -90s, @<epoch-millis>, or now\n",
        ),
        (["consume", "--until", "+1h"], "error: --until '+1h' is not a time\nhint: only times in the past are relative: -15m is 15 minutes ago\n"),
        (
            ["consume", "--from", "-1h", "--from-beginning"],
            "error: --from and --from-beginning both choose where to start; give one\nhint: --from picks the first message at or after a time\n",
        ),
        (
            ["consume", "--from", "@2000", "--until", "@1000"],
            "error: --until (1970-01-01T00:00:01.000Z) is before --from (1970-01-01T00:00:02.000Z): nothing lies between them\n"
            "hint: give --until a later time than --from\n",
        ),
        (["consume", "--max-messages", "0"], "error: --max-messages must be at least 1 (got 0)\n"),
        (["consume", "--timeout", "0"], "error: --timeout must be more than 0 seconds (got 0)\n"),
        (
            ["groups", "reset", "g", "--to-earliest", "--to-offset", "3"],
            "error: give exactly one of --to-earliest, --to-latest, --to-offset N, --to-datetime TIME, --by-duration DURATION, --shift-by N (got --to-earliest, --to-offset)\n"
            "hint: e.g. kafkaops groups reset g --topic T --to-earliest\n",
        ),
        (
            ["groups", "reset", "g"],
            "error: give exactly one of --to-earliest, --to-latest, --to-offset N, --to-datetime TIME, --by-duration DURATION, --shift-by N\nhint: e.g. kafkaops groups reset g --topic T --to-earliest\n",
        ),
        (
            ["groups", "reset", "g", "--all-topics"],
            "error: give exactly one of --to-earliest, --to-latest, --to-offset N, --to-datetime TIME, --by-duration DURATION, --shift-by N\nhint: e.g. kafkaops groups reset g --all-topics --to-earliest\n",
        ),
        (
            ["groups", "reset", "g", "--to-earliest"],
            "error: give --topic T or --all-topics: a reset names the topics it moves (KAFKA_TOPIC is not assumed)\n"
            "hint: e.g. kafkaops groups reset g --topic db_live_events --to-earliest; "
            "--all-topics takes every partition group g has a committed offset for\n",
        ),
        (
            ["groups", "reset", "g", "--to-offset", "-1", "--execute"],
            "error: give --topic T or --all-topics: a reset names the topics it moves (KAFKA_TOPIC is not assumed)\n"
            "hint: e.g. kafkaops groups reset g --topic db_live_events --to-offset -1; "
            "--all-topics takes every partition group g has a committed offset for\n",
        ),
        (
            ["groups", "reset", "g", "--to-datetime", "yesterday", "--topic", "t"],
            "error: --to-datetime 'yesterday' is not a time\nhint: accepted: ISO-8601 (2026-05-01T10:00:00Z; no zone = local time), "
            "-15m / -2h / -1d / -90s, @<epoch-millis>, or now\n",
        ),
        (
            ["groups", "reset", "g", "--by-duration", "-PT1H", "--topic", "t"],
            "error: --by-duration '-PT1H' is not a duration\nhint: a duration back from now is never negative\n",
        ),
        (
            ["groups", "reset", "g", "--shift-by", "-2", "--to-datetime", "now", "--topic", "t"],
            "error: give exactly one of --to-earliest, --to-latest, --to-offset N, --to-datetime TIME, --by-duration DURATION, --shift-by N"
            " (got --to-datetime, --shift-by)\nhint: e.g. kafkaops groups reset g --topic t --to-earliest\n",
        ),
        (
            ["groups", "reset", "g", "--shift-by", "-2"],
            "error: give --topic T or --all-topics: a reset names the topics it moves (KAFKA_TOPIC is not assumed)\n"
            "hint: e.g. kafkaops groups reset g --topic db_live_events --shift-by -2; "
            "--all-topics takes every partition group g has a committed offset for\n",
        ),
        (
            ["groups", "reset", "g", "--to-latest", "--topic", "t", "--all-topics"],
            "error: give --topic or --all-topics, not both\nhint: --all-topics already takes every partition group g has a committed offset for\n",
        ),
    ],
)
def test_bad_input_is_refused_before_the_network(args: list[str], expected: str, env: dict[str, str]) -> None:
    code, out, err = run(args, env)
    assert (code, out, err) == (2, "", expected)


def test_an_unreachable_broker_is_exit_4(env: dict[str, str]) -> None:
    code, out, err = run(["consume", "db_live_events"], env)
    assert code == 4
    assert out == ""
    assert err.startswith(f"error: no Kafka broker answered at {env['KAFKA_BROKER']} within 5s\n")


@pytest.mark.parametrize("args", [["consume"], ["groups", "list"], ["groups", "describe"], ["groups", "reset"]])
def test_every_command_documents_an_example(args: list[str], env: dict[str, str]) -> None:
    code, out, _ = run([*args, "--help"], env)
    assert code == 0
    assert "Example: kafkaops " + " ".join(args) in out


def test_pretty_shows_every_header_and_tells_text_from_binary(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from kafkaops.cli.consume import writer
    from tests.unit.procedures.test_consume import Msg

    monkeypatch.setenv("NO_COLOR", "1")
    hdrs = [("a", b"base64:aGk="), ("b", b"\xff\x80"), ("trace", b"1"), ("trace", None), ("nl", b"x\ny")]
    writer("pretty", True, "t")([Msg(b'{"id": 1}', b"k1", 3, _headers=hdrs), Msg(b"plain", None, 4)])
    assert capsys.readouterr().out == (
        "partition 0  offset 3  key k1  2026-11-28T17:12:46.314Z\n"
        '  header a: "base64:aGk="\n'
        "  header b: <binary, not UTF-8; base64> /4A=\n"
        '  header trace: "1"\n'
        "  header trace: (null)\n"
        '  header nl: "x\\ny"\n'
        '{"id": 1}\n'
        "partition 0  offset 4  key (none)  2026-11-28T17:12:46.314Z\n"
        "plain\n"
    )
