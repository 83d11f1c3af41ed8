"""status --watch / groups describe --watch: rates and trends between two refreshes."""

from __future__ import annotations

from pathlib import Path

from kafkaops.procedures import watch
from kafkaops.procedures.connect import workers
from kafkaops.procedures.services.pidfiles import pid_path
from kafkaops.settings import load_settings


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


def test_status_watch_has_a_row_per_connect_worker_as_status_has(tmp_path: Path) -> None:
    # status showed each Connect worker; status --watch showed none of them.
    settings = load_settings(env={"KAFKAOPS_HOME": str(tmp_path)}, cwd=tmp_path)
    snap = _snap(0.0, None)
    snap.services, snap.up = [{"service": "kafka", "state": "running", "pid": 7}], True
    watch._connect_workers(settings, snap)  # Connect never ran here: no row
    assert [s["service"] for s in snap.services] == ["kafka"] and snap.up
    workers.properties_path(settings, 1).parent.mkdir(parents=True)
    workers.properties_path(settings, 1).write_text("listeners=http://127.0.0.1:18083\n")
    workers.properties_path(settings, 2).write_text("listeners=http://127.0.0.1:18084\n")
    pid_path(settings, "connect-2").parent.mkdir(parents=True, exist_ok=True)
    pid_path(settings, "connect-2").write_text("not json")  # a pid file of a process that is gone
    watch._connect_workers(settings, snap)
    assert snap.services[1:] == [{"service": "connect-1", "state": "stopped", "pid": None}, {"service": "connect-2", "state": "stale", "pid": -1}]
    assert snap.up is False  # a worker that should run and does not, as `status` exits 3 for it
