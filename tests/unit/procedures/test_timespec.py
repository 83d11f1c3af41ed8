"""The time and duration parser behind consume --from/--until and groups reset --to-datetime/--by-duration."""

from __future__ import annotations

from datetime import datetime

import pytest

from kafkaops.errors import ExitCode, UsageError
from kafkaops.procedures.timespec import parse_duration, parse_time

NOW = 1_780_000_000_000


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("now", NOW),
        ("NOW", NOW),
        ("@1717000000000", 1717000000000),
        ("-90s", NOW - 90_000),
        ("-15m", NOW - 900_000),
        ("-2h", NOW - 7_200_000),
        ("-1d", NOW - 86_400_000),
        ("-1w", NOW - 604_800_000),
        ("-1h30m", NOW - 5_400_000),
        ("-250ms", NOW - 250),
        ("2024-05-29T16:26:40Z", 1717000000000),
        ("2024-05-29T18:26:40+02:00", 1717000000000),
        ("2024-05-29T16:26:40.123Z", 1717000000123),
        (" 2024-05-29T16:26:40Z ", 1717000000000),
    ],
)
def test_times_users_type(raw: str, expected: int) -> None:
    assert parse_time(raw, now=NOW) == expected


def test_an_iso_time_without_a_zone_is_local_time() -> None:
    local = datetime(2024, 5, 29, 16, 26, 40).astimezone()
    assert parse_time("2024-05-29T16:26:40", now=NOW) == int(local.timestamp() * 1000)
    assert parse_time("2024-05-29", now=NOW) == int(datetime(2024, 5, 29).astimezone().timestamp() * 1000)


@pytest.mark.parametrize(
    ("raw", "hint"),
    [
        ("yesterday", "accepted: ISO-8601"),
        ("2024-13-01T00:00:00Z", "accepted: ISO-8601"),
        ("-15", "a relative time is a minus and a count with a unit"),
        ("-15x", "a relative time is a minus and a count with a unit"),
        ("+15m", "only times in the past are relative"),
        ("@17e11", "after @ comes a timestamp in milliseconds"),
        ("", "accepted: ISO-8601"),
    ],
)
def test_bad_times_are_usage_errors_that_say_what_is_accepted(raw: str, hint: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_time(raw, "--from", now=NOW)
    assert caught.value.message == f"--from {raw!r} is not a time"
    assert caught.value.hint is not None and caught.value.hint.startswith(hint)
    assert caught.value.exit_code == ExitCode.USAGE


@pytest.mark.parametrize(
    ("raw", "ms"),
    [
        ("PT15M", 900_000),
        ("pt15m", 900_000),
        ("P1DT2H", 93_600_000),
        ("P1D", 86_400_000),
        ("PT0.5S", 500),
        ("PT1H30M", 5_400_000),
        ("15m", 900_000),
        ("1h30m", 5_400_000),
        ("90s", 90_000),
    ],
)
def test_durations_as_kafkas_tool_takes_them_and_short(raw: str, ms: int) -> None:
    assert parse_duration(raw) == ms


@pytest.mark.parametrize("raw", ["P", "PT", "15", "-PT15M", "P1Y", "PT15M3", "fifteen minutes"])
def test_bad_durations(raw: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_duration(raw)
    assert caught.value.message == f"--by-duration {raw!r} is not a duration"


def test_where_a_zone_is_required_a_time_without_one_is_refused() -> None:
    with pytest.raises(UsageError) as caught:
        parse_time("2024-05-29T16:26:40", "--to-datetime", now=NOW, zone_required=True)
    assert caught.value.message == (
        "--to-datetime '2024-05-29T16:26:40' has no time zone: Kafka's kafka-consumer-groups reads that as UTC, kafkaops consume as local time"
    )
    assert caught.value.hint == "say which: 2024-05-29T16:26:40Z for UTC, or an offset like 2024-05-29T16:26:40+02:00"
    assert parse_time("2024-05-29T16:26:40Z", now=NOW, zone_required=True) == 1717000000000
    assert parse_time("-1h", now=NOW, zone_required=True) == NOW - 3_600_000
