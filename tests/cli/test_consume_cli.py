"""kafkaops consume and groups through Typer's CliRunner: exact output and exit codes.

Bad input is refused before any broker is contacted (KAFKA_BROKER points at a closed port: reaching
the network would end in exit 4 instead). The last tests read a real topic on the shared stack.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from confluent_kafka import Producer
from typer.testing import CliRunner

from kafkaops.cli import app
from tests.conftest import Stack


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
        (["consume", "--max-messages", "0"], "error: --max-messages must be at least 1 (got 0)\n"),
        (["consume", "--timeout", "0"], "error: --timeout must be more than 0 seconds (got 0)\n"),
        (
            ["groups", "reset", "g", "--to-earliest", "--to-offset", "3"],
            "error: give exactly one of --to-earliest, --to-latest, --to-offset N (got --to-earliest, --to-offset)\n"
            "hint: e.g. kafkaops groups reset g --topic T --to-earliest\n",
        ),
        (
            ["groups", "reset", "g"],
            "error: give exactly one of --to-earliest, --to-latest, --to-offset N\nhint: e.g. kafkaops groups reset g --topic T --to-earliest\n",
        ),
        (
            ["groups", "reset", "g", "--all-topics"],
            "error: give exactly one of --to-earliest, --to-latest, --to-offset N\nhint: e.g. kafkaops groups reset g --all-topics --to-earliest\n",
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


@pytest.mark.integration
def test_consume_prints_exact_lines_and_talk(shared_stack: Stack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    monkeypatch.chdir(tmp_path)
    topic = f"cli-consume-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": shared_stack.broker})  # kept: a collected client cancels its requests
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(timeout=30)
    p = Producer({"bootstrap.servers": shared_stack.broker, "log_level": 2})
    p.produce(topic, b'{"id": 1}', key=b"1", timestamp=1795885966314)
    p.produce(topic, b"plain", timestamp=1795885966315)
    assert p.flush(30) == 0
    env = {**shared_stack.env, "NO_COLOR": "1"}

    code, out, err = run(["consume", topic, "--from-beginning", "--exit-at-end", "--format", "json"], env)
    assert code == 0, err
    assert out == (
        f'{{"topic":"{topic}","partition":0,"offset":0,"timestamp":1795885966314,"timestamp_iso":"2026-11-28T17:12:46.314Z",'
        '"key":"1","key_format":"text","headers":[],"value":{"id": 1},"value_format":"json"}\n'
        f'{{"topic":"{topic}","partition":0,"offset":1,"timestamp":1795885966315,"timestamp_iso":"2026-11-28T17:12:46.315Z",'
        '"key":null,"key_format":null,"headers":[],"value":"plain","value_format":"text"}\n'
    )
    assert err == (
        f"topic {topic}: 1 partition(s) on {shared_stack.broker}\n"
        "  partition 0: offsets 0..1; starting at 0 (beginning, 2 to read now)\n"
        f"waiting for messages on {topic} (stopping at the end); Ctrl+C to stop\n"
        "Consumed 2 messages (reached the end)\n"
    )

    code, out, err = run(["consume", topic, "--from-beginning", "--max-messages", "1", "--format", "raw", "--keys"], env)
    assert (code, out) == (0, '1\t{"id": 1}\n')
    assert err.endswith("Consumed 1 message (reached --max-messages)\n")

    code, out, err = run(["consume", topic, "--from-beginning", "--exit-at-end", "--format", "pretty", "--no-keys"], env)
    assert code == 0
    assert out == 'partition 0  offset 0  2026-11-28T17:12:46.314Z\n{"id": 1}\npartition 0  offset 1  2026-11-28T17:12:46.315Z\nplain\n'


def test_pretty_shows_every_header_and_tells_text_from_binary(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from kafkaops.cli.consume import writer
    from tests.unit.test_consume import Msg

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
