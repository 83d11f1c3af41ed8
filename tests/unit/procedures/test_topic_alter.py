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
