"""The hand-over's look at the topic's last events: a broker that does not answer is exit 4, not a crash."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from kafkaops.adapters.topic_tail import last_keys
from kafkaops.errors import ExitCode, UnreachableError
from kafkaops.settings import load_settings
from tests.conftest import free_port


def test_a_broker_that_does_not_answer_is_unreachable_not_an_unexpected_kafka_exception(tmp_path: Path) -> None:
    # list_topics' KafkaException went up raw: "unexpected KafkaException ... report it", exit 1, after 10 s.
    settings = load_settings(env={"KAFKAOPS_HOME": str(tmp_path), "KAFKA_BROKER": f"127.0.0.1:{free_port()}"}, cwd=tmp_path)
    started = time.monotonic()
    with pytest.raises(UnreachableError) as info:
        last_keys(settings, "db_live_events", timeout=2.0)
    assert info.value.exit_code == ExitCode.UNREACHABLE and time.monotonic() - started < 8
