"""--watch: the live view's picture, the JSON-lines stream without a terminal, Ctrl+C, bad options."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from kafkaops import ui
from kafkaops.cli import app
from kafkaops.cli import watch as watching
from kafkaops.procedures.watch import GroupLag, Snapshot


def _snap(n: int = 0) -> Snapshot:
    return Snapshot(
        "2026-12-02T21:00:00+00:00",
        float(n),
        "db_live_events",
        services=[{"service": "zookeeper", "state": "running", "pid": 11}, {"service": "kafka", "state": "running", "pid": 12}],
        up=True,
        end_offsets={0: 1200, 1: 34},
        messages_per_s=12.5,
        groups=[
            GroupLag(
                "analytics", "stable", 40, "down", [{"topic": "db_live_events", "partition": 0, "committed": 1160, "end": 1200, "lag": 40, "member": "c1"}]
            )
        ],
        pending=7,
    )


def test_the_status_picture_shows_services_topic_rate_groups_trend_and_pending() -> None:
    text = ui.render_text(ui.sections(*watching.view(_snap())))
    lines = [line.replace("│", " ").rstrip() for line in text.splitlines()]
    assert "services" in lines
    assert any(line.split() == ["kafka", "running", "12"] for line in lines)
    assert "topic db_live_events: 1,234 messages, 12.5 messages/s" in lines
    assert any(line.split() == ["0", "1,200"] for line in lines)
    assert any(line.split() == ["analytics", "stable", "40", "↓", "down"] for line in lines)
    assert "producer: 7 row(s) pending" in lines
    assert lines[-1] == "at 2026-12-02T21:00:00+00:00; Ctrl+C to stop"


def test_the_groups_picture_has_per_partition_lag_and_no_services() -> None:
    snap = _snap()
    snap.services, snap.pending = None, None
    parts, _ = watching.view(snap, partitions=True)
    assert [p[0] for p in parts] == ["topic db_live_events: 1,234 messages, 12.5 messages/s", "group analytics (stable): lag 40 ↓ down"]
    assert parts[1][2] == [["db_live_events", 0, 1160, 1200, 40, "c1"]]


def test_a_part_that_cannot_be_read_is_named_in_the_footer_and_the_rest_still_shows() -> None:
    snap = Snapshot("t0", 0.0, "db_live_events", services=[{"service": "kafka", "state": "stopped", "pid": None}], up=False)
    snap.errors = {"kafka": "no Kafka broker answered at 127.0.0.1:1 within 3s", "database": "database unreachable"}
    parts, footer = watching.view(snap)
    assert [p[0] for p in parts] == ["services (not all up)"]
    assert footer == [
        "kafka unavailable: no Kafka broker answered at 127.0.0.1:1 within 3s",
        "database unavailable: database unreachable",
        "at t0; Ctrl+C to stop",
    ]


def test_without_a_terminal_one_json_line_per_refresh_and_count_stops(capsys: pytest.CaptureFixture[str]) -> None:
    seen: list[Snapshot | None] = []

    def take(prev: Snapshot | None) -> Snapshot:
        seen.append(prev)
        return _snap(len(seen))

    watching.run(take, interval=0.1, count=3, json_lines=False)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert [json.loads(line)["groups"][0]["trend"] for line in lines] == ["down"] * 3
    assert seen[0] is None and seen[1] is not None and seen[2] is not None  # each refresh sees the one before


def test_ctrl_c_during_a_refresh_ends_quietly(capsys: pytest.CaptureFixture[str]) -> None:
    calls = 0

    def take(prev: Snapshot | None) -> Snapshot:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise KeyboardInterrupt
        return _snap()

    watching.run(take, interval=0.1, count=None, json_lines=True)  # returns: no traceback, exit 0 for the command
    assert len(capsys.readouterr().out.splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["status", "--watch", "--interval", "0"], "error: --interval must be at least 0.1 seconds (got 0)\n"),
        (["groups", "describe", "--watch", "--count", "0"], "error: --count must be at least 1 (got 0)\n"),
    ],
)
def test_bad_watch_options_are_exit_2(args: list[str], message: str, env: dict[str, str]) -> None:
    result = CliRunner().invoke(app, args, env=env)
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", message)


def test_groups_describe_without_a_group_and_without_watch_is_exit_2(env: dict[str, str]) -> None:
    result = CliRunner().invoke(app, ["groups", "describe"], env=env)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: name the consumer group to describe\n")
