"""produce --exactly-once without services: the transaction around the batches in flight, the offset
and token moved together after the commit, the recovery arithmetic, failures."""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka import KafkaError

from kafkaops.adapters import transactions as txn
from kafkaops.errors import ExitCode, KafkaopsError, UnreachableError
from kafkaops.procedures.produce import Batch, Hooks
from kafkaops.procedures.produce import exactly_once as eos
from kafkaops.procedures.produce.options import MAX_IN_FLIGHT


class _Producer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, Any, Any]] = []

    def produce(self, topic: str, value: str, key: str, on_delivery: Any, headers: Any = None) -> None:
        self.sent.append((key, headers, on_delivery))

    def poll(self, _timeout: float = 0) -> int:
        return 0

    def deliver_all(self, err: Any = None) -> None:
        for _k, _h, cb in self.sent:
            cb(err, None)
        self.sent.clear()


class _Transactions:
    """Stands in for adapters.transactions.Transactions: records begin/commit/abort."""

    def __init__(self, producer: _Producer, fail: KafkaopsError | None = None) -> None:
        self.producer, self.fail, self.txn_id = producer, fail, "kafkaops-public.livedb-t"
        self.open_txn = False
        self.fatal: list[Any] = []
        self.calls: list[str] = []

    def begin(self) -> None:
        self.calls.append("begin")
        self.open_txn = True

    def commit(self) -> None:
        self.calls.append("commit")
        self.producer.deliver_all()
        if self.fail is not None:
            self.abort()
            raise self.fail
        self.open_txn = False

    def abort(self) -> None:
        if self.open_txn:
            self.calls.append("abort")
        self.open_txn = False


class _Conn:
    """producer_offsets row 7: (last_id, token), moved only by a matching compare-and-set."""

    def __init__(self, last_id: int = 0, token: str | None = "t0") -> None:
        self.last_id, self.token = last_id, token
        self.updates: list[tuple[int, str]] = []

    def execute(self, _q: str, params: tuple) -> Any:
        new, _created, new_token, row, old, old_token = params
        ok = row == 7 and old == self.last_id and old_token == self.token

        class _Cur:
            rowcount = 1 if ok else 0

        if ok:
            self.last_id, self.token = new, new_token
            self.updates.append((new, new_token))
        return _Cur()


def _tracker(conn: _Conn, fail: KafkaopsError | None = None) -> tuple[eos.TransactionalTracker, _Transactions, _Producer]:
    producer = _Producer()
    transactions = _Transactions(producer, fail)
    committer = eos.TransactionalCommitter(conn, 7, conn.last_id, "public.livedb -> t", Hooks(), conn.token or "")
    tracker = eos.TransactionalTracker(committer, transactions, topic="t", table="public.livedb", broker="h:1", delivery_timeout=30)  # type: ignore[arg-type]
    return tracker, transactions, producer


def _send(tracker: eos.TransactionalTracker, first: int, last: int) -> Batch:
    rows = [(str(i), None, f'{{"id":{i}}}') for i in range(first, last + 1)]
    batch = Batch(last, None, len(rows))
    batch.count = tracker.send(batch, rows)
    tracker.inflight.append(batch)
    return batch


def test_the_batches_in_flight_commit_as_one_transaction_then_the_offset_and_token_move() -> None:
    conn = _Conn(0, "t0")
    tracker, transactions, producer = _tracker(conn)
    for n in range(MAX_IN_FLIGHT):
        _send(tracker, n * 10 + 1, n * 10 + 10)
        headers = {h for _k, h, _cb in producer.sent for h in [h[0][1]]}
        assert headers == {f"t0:0:{(i + 1) * 10}".encode() for i in range(n + 1)}  # token:offset as it began, then the batch's end
        tracker.drain(until_below=MAX_IN_FLIGHT)
    assert transactions.calls == ["begin", "commit"]
    assert conn.last_id == 40 and conn.token not in ("t0", None)  # one update, a fresh token
    assert len(conn.updates) == 1
    assert tracker.committer.sent == 40 and not tracker.inflight

    _send(tracker, 41, 45)  # the next transaction carries the new token and offset
    assert {h[0][1] for _k, h, _cb in producer.sent} == {f"{conn.token}:40:45".encode()}
    tracker.drain(until_below=1)
    assert transactions.calls == ["begin", "commit", "begin", "commit"]
    assert conn.last_id == 45


def test_a_failed_commit_moves_nothing() -> None:
    conn = _Conn(0, "t0")
    tracker, transactions, _ = _tracker(
        conn, fail=UnreachableError("Kafka at h:1 did not complete the transaction", hint="check the broker; rerun `kafkaops produce` once it is up")
    )
    _send(tracker, 1, 10)
    with pytest.raises(UnreachableError) as info:
        tracker.drain(until_below=1)
    assert info.value.hint == "check the broker; rerun `kafkaops produce --exactly-once` once it is up"
    assert transactions.calls == ["begin", "commit", "abort"]
    assert (conn.last_id, conn.token) == (0, "t0") and not tracker.inflight


def test_a_rejected_event_names_the_delivery_error_not_the_transaction() -> None:
    conn = _Conn(0, "t0")
    tracker, _, producer = _tracker(conn, fail=KafkaopsError("the Kafka transaction failed"))
    batch = _send(tracker, 1, 3)
    producer.sent[1][2](KafkaError(KafkaError.MSG_SIZE_TOO_LARGE), None)
    producer.sent.pop(1)
    assert batch.errors
    with pytest.raises(KafkaopsError, match="Kafka rejected 1 event"):
        tracker.drain(until_below=1)
    assert conn.last_id == 0


def test_a_fenced_producer_stops_with_exit_5_and_aborts() -> None:
    conn = _Conn(0, "t0")
    tracker, transactions, _ = _tracker(conn)
    _send(tracker, 1, 10)
    transactions.fatal.append(KafkaError(KafkaError._FENCED, "fenced by a newer producer", fatal=True))
    with pytest.raises(txn.FencedError) as info:
        tracker.drain(until_below=MAX_IN_FLIGHT)
    assert info.value.exit_code == ExitCode.REFUSED
    assert "transactional.id kafkaops-public.livedb-t" in info.value.message
    assert "abort" in transactions.calls and conn.last_id == 0


class _FencedOnProduce(_Producer):
    """What librdkafka does once a newer producer fenced this one: produce() raises only _FATAL, and the reason
    (_FENCED) reaches the error callback at a later poll."""

    def __init__(self, transactions: Any, polls_before_reason: int = 2) -> None:
        super().__init__()
        self.transactions, self.polls_before_reason = transactions, polls_before_reason

    def produce(self, topic: str, value: str, key: str, on_delivery: Any, headers: Any = None) -> None:
        from confluent_kafka import KafkaException

        raise KafkaException(KafkaError(KafkaError._FATAL, "Unable to produce message: Local: Fatal error"))

    def poll(self, _timeout: float = 0) -> int:
        self.polls_before_reason -= 1
        if self.polls_before_reason == 0:
            self.transactions.fatal.append(KafkaError(KafkaError._FENCED, "fenced by a newer producer", fatal=True))
        return 0


def test_a_producer_fenced_before_its_error_callback_ran_still_stops_as_fenced() -> None:
    """CI (session 24): produce() raised _FATAL before any poll had served the fenced error, and the run said
    "Kafka's client refused row id=13151 ...: _FATAL" with exit 1 instead of "fenced", exit 5. The reason is now
    served from the error callback first."""
    conn = _Conn(0, "t0")
    tracker, transactions, _ = _tracker(conn)
    tracker.producer = transactions.producer = _FencedOnProduce(transactions)
    with pytest.raises(txn.FencedError) as info:
        _send(tracker, 1, 10)
    assert info.value.exit_code == ExitCode.REFUSED
    assert "abort" in transactions.calls and conn.last_id == 0


def test_a_producer_fenced_while_its_queue_was_full_stops_as_fenced() -> None:
    """The retry after a full queue (BufferError) let produce()'s _FATAL escape as a raw KafkaException."""

    class _FullThenFenced(_FencedOnProduce):
        full = 3

        def produce(self, topic: str, value: str, key: str, on_delivery: Any, headers: Any = None) -> None:
            if self.full:
                self.full -= 1
                raise BufferError("Local: Queue full")
            super().produce(topic, value, key, on_delivery, headers)

    conn = _Conn(0, "t0")
    tracker, transactions, _ = _tracker(conn)
    tracker.producer = transactions.producer = _FullThenFenced(transactions, polls_before_reason=5)
    with pytest.raises(txn.FencedError):
        _send(tracker, 1, 10)


def test_a_fatal_producer_with_no_reason_reported_is_still_a_clear_refusal() -> None:
    conn = _Conn(0, "t0")
    tracker, transactions, _ = _tracker(conn)
    tracker.producer = transactions.producer = _FencedOnProduce(transactions, polls_before_reason=-1)  # never reports
    with pytest.raises(KafkaopsError, match=r"refused row id=1 of public.livedb: _FATAL"):
        _send(tracker, 1, 10)


def test_an_unfinished_run_aborts_its_open_transaction() -> None:
    conn = _Conn(0, "t0")
    tracker, transactions, _ = _tracker(conn)
    _send(tracker, 1, 10)
    tracker.committer.finish(tracker)  # what Run.finish does after an error
    assert transactions.calls == ["begin", "abort"] and conn.last_id == 0


def test_someone_else_moving_the_row_stops_the_run() -> None:
    conn = _Conn(0, "t0")
    tracker, _, _ = _tracker(conn)
    conn.token = "rewound"  # e.g. another process wrote the row
    _send(tracker, 1, 10)
    with pytest.raises(KafkaopsError, match="is no longer at 0"):
        tracker.drain(until_below=1)


def test_recovery_takes_the_highest_batch_end_of_the_rows_own_transaction_only() -> None:
    values = [b"old:0:2000", b"tok:4000:6000", b"tok:4000:8000", b"tok:40:9000", b"other:4000:9999", b"tok:4000:7000"]
    assert eos.recovered_end(values, eos.header_prefix("tok", 4000)) == 8000
    assert eos.recovered_end(values, eos.header_prefix("tok", 0)) is None  # the row was rewound since
    assert eos.recovered_end([], "tok:1:") is None


def test_the_recovery_window_covers_twice_the_largest_transaction() -> None:
    assert eos.recovery_window(10) == eos.RECOVERY_WINDOW
    assert eos.recovery_window(100_000) == 2 * MAX_IN_FLIGHT * 100_000
