"""topics alter's plan (pure parts): the config diff and the partition rules."""

from __future__ import annotations

import pytest

from kafkaops.adapters.kafka_configs import ConfigValue
from kafkaops.errors import RefusedError, UsageError
from kafkaops.procedures.topic_alter import ConfigChange, _check_request, _config_steps

CURRENT = {
    "retention.ms": ConfigValue("retention.ms", "604800000", "DEFAULT_CONFIG", True, False),
    "cleanup.policy": ConfigValue("cleanup.policy", "compact", "DYNAMIC_TOPIC_CONFIG", False, False),
    "segment.ms": ConfigValue("segment.ms", "60000", "DYNAMIC_TOPIC_CONFIG", False, False),
}


def test_the_diff_shows_old_and_new_and_skips_what_is_already_so() -> None:
    changes, notes = _config_steps(CURRENT, {"retention.ms": "1000", "segment.ms": "60000", "x.new": "1"}, ["cleanup.policy", "retention.ms2"])
    assert changes == [
        ConfigChange("retention.ms", "604800000", "DEFAULT_CONFIG", "1000"),
        ConfigChange("x.new", None, "", "1"),
        ConfigChange("cleanup.policy", "compact", "DYNAMIC_TOPIC_CONFIG", None),
    ]
    assert notes == ["segment.ms is already 60000 on the topic", "retention.ms2 is not set on the topic: nothing to delete"]


def test_deleting_a_config_that_only_has_its_default_is_a_note() -> None:
    changes, notes = _config_steps(CURRENT, {}, ["retention.ms"])
    assert changes == [] and notes == ["retention.ms is not set on the topic (it is 604800000 from DEFAULT_CONFIG): nothing to delete"]


def test_requests_that_cannot_work() -> None:
    with pytest.raises(UsageError, match="nothing to change"):
        _check_request("t", None, {}, [])
    with pytest.raises(RefusedError, match="__consumer_offsets is one of Kafka's internal topics"):
        _check_request("__consumer_offsets", 3, {}, [])


def test_a_short_retention_on_a_windows_broker_is_warned_in_the_plan(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # noqa: ANN001
    """topics create warned about KAFKA-1194 before a short retention on Windows; topics alter did not."""
    from types import SimpleNamespace

    from kafkaops.procedures import topic_alter, windows
    from kafkaops.settings import load_settings

    part = SimpleNamespace(replicas=[0])
    md = SimpleNamespace(topics={"t": SimpleNamespace(partitions={0: part})})
    monkeypatch.setattr(topic_alter, "admin", lambda settings: object())
    monkeypatch.setattr(topic_alter, "metadata", lambda settings, timeout, client: md)
    monkeypatch.setattr(topic_alter.kafka_configs, "topic_configs", lambda client, name, timeout: list(CURRENT.values()))
    monkeypatch.setattr(topic_alter, "_send", lambda *a, **k: None)
    settings = load_settings(env={"KAFKAOPS_HOME": str(tmp_path)}, cwd=tmp_path)
    for on_windows, expected in ((True, 1), (False, 0)):
        monkeypatch.setattr(windows, "broker_on_windows", lambda settings, platform=None, _w=on_windows: _w)
        plan = topic_alter.plan_alter(settings, "t", None, {"retention.ms": "60000"}, [])
        assert len([w for w in plan.warnings if "KAFKA-1194" in w]) == expected
