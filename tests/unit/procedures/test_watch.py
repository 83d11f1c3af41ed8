"""status --watch / groups describe --watch: rates and trends between two refreshes."""

from __future__ import annotations

from kafkaops.procedures import watch


def _snap(seconds: float, ends: dict[int, int] | None) -> watch.Snapshot:
    return watch.Snapshot("2026-12-02T21:00:00+00:00", seconds, "t", end_offsets=ends)


def test_messages_per_second_is_the_end_offsets_growth_over_the_time_between_refreshes() -> None:
    assert watch.rate({0: 150, 1: 60}, _snap(10.0, {0: 100, 1: 10}), 12.0) == 50.0


def test_no_rate_on_the_first_refresh_or_when_the_topic_shrank_or_lost_partitions() -> None:
    assert watch.rate({0: 5}, None, 1.0) is None
    assert watch.rate({0: 5}, _snap(0.0, None), 1.0) is None
    assert watch.rate({0: 5}, _snap(0.0, {0: 100}), 1.0) is None  # deleted and re-created
    assert watch.rate({0: 5}, _snap(0.0, {0: 1, 1: 1}), 1.0) is None
    assert watch.rate({0: 5, 1: 7}, _snap(0.0, {0: 1}), 2.0) == 5.5  # a partition added: counted from 0


def test_trend_against_the_previous_refresh() -> None:
    assert [watch.trend(5, None), watch.trend(5, 3), watch.trend(5, 9), watch.trend(5, 5)] == [None, "up", "down", "flat"]


def test_the_json_line_has_no_monotonic_clock_and_string_partition_keys() -> None:
    doc = _snap(3.0, {0: 7}).as_dict()
    assert "seconds" not in doc
    assert doc["end_offsets"] == {"0": 7}
    assert set(doc) == {"at", "topic", "services", "up", "end_offsets", "messages_per_s", "groups", "pending", "errors"}
