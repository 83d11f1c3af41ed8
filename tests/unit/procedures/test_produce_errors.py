"""Pure logic of produce's error paths: event sizes against the topic's limit, rows too large,
mapper results JSON cannot hold."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from confluent_kafka import KafkaError

from kafkaops.errors import ExitCode, KafkaopsError
from kafkaops.procedures import produce as proc
from kafkaops.procedures.db import TableRef
from kafkaops.settings import load_settings


def _ref() -> TableRef:
    return TableRef("public", "livedb", {"id": "int8", "blob": "bytea"})


@pytest.mark.parametrize("limit", [1000, 1_048_588, 14_680_064, 100_000_000])
def test_the_largest_event_is_the_last_that_fits(limit: int) -> None:
    n = proc.max_event_bytes(limit)
    assert proc.record_size(n) <= limit < proc.record_size(n + 1)
    assert limit - n <= 128 + limit // 255 + 1  # the margin is Kafka's framing and lz4's worst case, no more


def test_the_producer_takes_an_event_as_large_as_the_topic_does() -> None:
    settings = load_settings(env={"KAFKA_BROKER": "h:1", "KAFKAOPS_HOME": "/tmp/x"}, cwd=Path("/tmp"))
    assert proc.producer_config(settings, 30, 14_680_064)["message.max.bytes"] == 14_680_064
    small = proc.producer_config(settings, 30, 500_000)
    assert small["message.max.bytes"] == 1_000_000
    assert small["batch.size"] == proc.max_event_bytes(500_000)  # a batch of many events fits the topic too


class _Producer:
    def __init__(self) -> None:
        self.sent: list[str] = []
        self.reports: list[tuple[object, str]] = []

    def produce(self, topic: str, value: str, key: str, on_delivery) -> None:  # noqa: ANN001
        self.sent.append(key)
        self.reports.append((on_delivery, key))

    def poll(self, _timeout: float = 0) -> int:
        for cb, _key in self.reports:
            cb(None, None)
        self.reports.clear()
        return 0

    def flush(self, _timeout: float = 0) -> int:
        return self.poll()


class _Conn:
    def __init__(self) -> None:
        self.offset = 0

    def execute(self, _q: str, params: tuple) -> object:
        self.offset = params[0]

        class _Cur:
            rowcount = 1

        return _Cur()


def test_a_row_too_large_stops_the_run_after_the_rows_before_it_are_committed() -> None:
    settings = load_settings(env={"KAFKAOPS_HOME": "/tmp/x", "KAFKA_BROKER": "h:9"}, cwd=Path("/tmp"))
    conn, producer = _Conn(), _Producer()
    run = proc.Run(settings, proc.ProduceOptions(topic="t"), conn, _ref(), proc.EventBuilder("db", _ref()), proc.Hooks(), threading.Event(), limit=1000)
    run.tracker.producer = producer
    rows = [("1", None, "{}"), ("2", None, "x" * 900), ("3", None, "{}")]
    with pytest.raises(KafkaopsError) as info:
        run.check_sizes(rows)
    assert info.value.exit_code == ExitCode.ERROR
    assert (
        info.value.message
        == "row id=2 of public.livedb is too large for topic t: its event is 901 bytes, and the topic's max.message.bytes is 1,000 (with Kafka's framing it must fit in that)"
    )
    assert "--entity-name t --add-config max.message.bytes=1048576" in info.value.details[0]
    assert producer.sent == ["1"] and conn.offset == 1


def test_a_size_refusal_in_a_delivery_report_names_the_row() -> None:
    err = proc.delivery_error([KafkaError(KafkaError.MSG_SIZE_TOO_LARGE)], "t", 30, "h:1", ["42"])
    assert err.message.startswith("Kafka refused row id=42 as too large for topic t (MSG_SIZE_TOO_LARGE")
    assert err.runbook == "failures row-too-large"


def _mapper_value(fn) -> KafkaopsError:  # noqa: ANN001
    with pytest.raises(KafkaopsError) as info:
        proc.EventBuilder("db", _ref(), fn).value(3, '{"id":3}', 0)
    return info.value


def _exits(_row: dict) -> object:
    raise SystemExit(3)


def test_mapper_results_json_cannot_hold_are_refused_with_the_row() -> None:
    for result, why in (({1, 2}, "set"), (b"raw", "bytes"), ({"x": float("nan")}, "Out of range float"), ({(1, 2): 1}, "keys must be str")):
        err = _mapper_value(lambda _row, r=result: r)
        assert err.exit_code == ExitCode.USAGE
        assert "returned a value JSON cannot hold for row id=3" in err.message and why in err.message
    err = _mapper_value(_exits)
    assert err.exit_code == ExitCode.USAGE
    assert err.message == f"--mapper {__name__}:_exits called sys.exit(3) on row id=3 instead of returning an event"
    # what JSON can hold still goes out as JSON, a string as it is
    assert proc.EventBuilder("db", _ref(), lambda _row: {"a": [1, None, True]}).value(3, "{}", 0) == '{"a":[1,null,true]}'
    assert proc.EventBuilder("db", _ref(), lambda _row: "plain").value(3, "{}", 0) == "plain"
