"""kafkaops topics, through Typer's CliRunner: bad input is refused before any broker is contacted.

KAFKA_BROKER points at a port nothing listens on: a command that reached the network would end in
"no Kafka broker answered" (exit 4), so seeing the validation message proves nothing was sent.
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from kafkaops.cli import app

NAME_HINT = "hint: use only letters (a-z, A-Z), digits, '.', '_' and '-'\n"
EMPTY_HINT = "hint: give a name made of letters, digits, '.', '_' and '-'\n"


def run(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, args, env=env)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["topics", "create", "a b"], "error: the topic name 'a b' contains ' '\n" + NAME_HINT),
        (["topics", "create", ""], "error: the topic name is empty\n" + EMPTY_HINT),
        (["topics", "create", ".."], "error: '..' cannot be a topic name\n" + EMPTY_HINT),
        (["topics", "create", "x" * 250], "error: the topic name is 250 characters long; Kafka allows at most 249\n"),
        (["topics", "create", "ok", "--partitions", "0"], "error: --partitions must be at least 1 (got 0)\n"),
        (["topics", "create", "ok", "--replication-factor", "0"], "error: --replication-factor must be at least 1 (got 0)\n"),
        (
            ["topics", "create", "ok", "--config", "retention.ms"],
            "error: --config 'retention.ms' is not key=value\nhint: for example: --config retention.ms=86400000\n",
        ),
        (["topics", "describe", "no/slash"], "error: the topic name 'no/slash' contains '/'\n" + NAME_HINT),
        (["topics", "delete", "."], "error: '.' cannot be a topic name\n" + EMPTY_HINT),
        (
            ["topics", "alter", "orders"],
            "error: nothing to change\nhint: give --partitions N, --config key=value or --delete-config key, e.g. kafkaops topics alter orders --partitions 6\n",
        ),
        (
            ["topics", "alter", "orders", "--config", "retention.ms=1", "--delete-config", "retention.ms", "--execute"],
            "error: retention.ms is both set (--config) and deleted (--delete-config); give one\n",
        ),
        (
            ["topics", "alter", "orders", "--config", "retention.ms"],
            "error: --config 'retention.ms' is not key=value\nhint: for example: --config retention.ms=86400000\n",
        ),
        (["topics", "alter", "a b", "--partitions", "3"], "error: the topic name 'a b' contains ' '\n" + NAME_HINT),
    ],
)
def test_bad_input_is_exit_2_without_contacting_the_broker(args: list[str], expected: str, env: dict[str, str]) -> None:
    code, out, err = run(args, env)
    assert (code, out, err) == (2, "", expected)


def test_delete_of_an_internal_topic_is_refused_before_contacting_the_broker(env: dict[str, str]) -> None:
    code, out, err = run(["topics", "delete", "__consumer_offsets", "--yes"], env)
    assert code == 5
    assert out == ""
    assert err.startswith("error: __consumer_offsets is an internal topic (its name starts with '__'); kafkaops does not delete internal topics\n")


def test_a_name_mixing_dot_and_underscore_warns_before_anything_else(env: dict[str, str]) -> None:
    code, _, err = run(["topics", "create", "db.live_events"], env)
    assert err.splitlines()[0].startswith("warning: topic name 'db.live_events' mixes '.' and '_'")
    assert code == 4  # and then the (closed) broker is tried


@pytest.mark.parametrize(
    "args",
    [["topics", "list"], ["topics", "create", "t"], ["topics", "describe", "t"], ["topics", "delete", "t", "--yes"]],
)
def test_unreachable_broker_is_exit_4_with_the_address_and_the_next_commands(args: list[str], env: dict[str, str]) -> None:
    code, out, err = run(args, env)
    assert code == 4
    assert out == ""
    assert err == (
        f"error: no Kafka broker answered at {env['KAFKA_BROKER']} within 5s\n"
        "hint: check the stack with `kafkaops status` or `kafkaops doctor`; start it with `kafkaops up`\n"
        "see: kafkaops runbook failures broker-unreachable\n"
    )


@pytest.mark.parametrize("command", ["list", "create", "describe", "delete"])
def test_every_topics_command_documents_an_example(command: str, env: dict[str, str]) -> None:
    code, out, _ = run(["topics", command, "--help"], env)
    assert code == 0
    assert f"Example: kafkaops topics {command}" in out


def test_topics_group_lists_its_commands(env: dict[str, str]) -> None:
    code, out, _ = run(["topics", "--help"], env)
    assert code == 0
    for command in ("list", "create", "describe", "delete"):
        assert f"  {command} " in out


ZK_LIMIT_DETAIL = (
    "  ZooKeeper stores a topic's partition assignment as one znode (/brokers/topics/<name>) that must stay under "
    "jute.maxbuffer (1,048,575 bytes); with replication factor 1 that is at most 88,212 partitions\n"
)


def test_a_partition_count_zookeeper_cannot_store_is_refused_before_contacting_the_broker(env: dict[str, str]) -> None:
    # 100,000 partitions made the broker retry a 1.19 MB ZooKeeper write forever (a wedged broker).
    code, out, err = run(["topics", "create", "big", "--partitions", "100000"], env)
    assert (code, out) == (2, "")
    assert err == (
        "error: --partitions 100,000 is more than one topic can have here (at most 88,212)\n"
        + ZK_LIMIT_DETAIL
        + "hint: use --partitions 88212 or fewer; more partitions than brokers x 4,000 need more brokers\n"
        "see: kafkaops runbook topics how-many-partitions\n"
    )


def test_up_refuses_such_a_partition_count_before_starting_anything(env: dict[str, str], tmp_path) -> None:  # noqa: ANN001
    code, _, err = run(["up", "--partitions", "100000"], env)
    assert code == 2
    assert "error: --partitions 100,000 is more than one topic can have here (at most 88,212)\n" + ZK_LIMIT_DETAIL in err
    assert not (tmp_path / "ops" / "run").exists()  # no service was started, no pid file written


def test_topics_create_with_a_short_retention_on_windows_warns_first(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    from kafkaops.procedures import windows

    monkeypatch.setattr(windows, "PLATFORM", "win32")
    code, _, err = run(["topics", "create", "t", "--config", "retention.ms=60000"], env)
    first = err.splitlines()[0]
    assert first.startswith("warning: the broker runs on Windows: retention.ms=60000")
    assert "KAFKA-1194" in err and "kafkaops runbook failures windows-file-lock" in err
    assert code == 4  # and then the (closed) broker is tried
