"""kafkaops consume through Typer's CliRunner on a real topic of the shared stack: exact stdout and stderr."""

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
