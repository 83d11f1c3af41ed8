"""The transactional producer's naming and error translation (no broker)."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError, KafkaException

from kafkaops.adapters import transactions as txn
from kafkaops.errors import ExitCode, KafkaopsError


def test_the_transactional_id_is_stable_per_pipeline_and_hashed_when_long() -> None:
    assert txn.transactional_id("public.livedb", "db_live_events") == "kafkaops-public.livedb-db_live_events"
    assert txn.transactional_id("public.livedb", "db_live_events") == txn.transactional_id("public.livedb", "db_live_events")
    assert txn.transactional_id("public.livedb", "a") != txn.transactional_id("public.livedb", "b")
    long_one = txn.transactional_id("public." + "t" * 150, "topic-" + "x" * 100)
    assert long_one.startswith("kafkaops-") and len(long_one) <= txn.MAX_TXN_ID
    assert long_one == txn.transactional_id("public." + "t" * 150, "topic-" + "x" * 100)
    assert long_one != txn.transactional_id("public." + "t" * 150, "topic-" + "y" * 100)


def test_tokens_are_fresh() -> None:
    assert txn.new_token() != txn.new_token()


@pytest.mark.parametrize(
    ("code", "exit_code", "text"),
    [
        (KafkaError._FENCED, ExitCode.REFUSED, "this producer was fenced: another producer with transactional.id kafkaops-public.livedb-t started"),
        (KafkaError.PRODUCER_FENCED, ExitCode.REFUSED, "this producer was fenced"),
        (KafkaError._TIMED_OUT, ExitCode.UNREACHABLE, "Kafka at h:1 did not complete the transaction (commit_transaction: _TIMED_OUT)"),
        (
            KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
            ExitCode.ERROR,
            "the Kafka transaction failed (commit_transaction): TRANSACTIONAL_ID_AUTHORIZATION_FAILED",
        ),
    ],
)
def test_transaction_errors_are_translated(code: int, exit_code: ExitCode, text: str) -> None:
    err = txn.translate(KafkaException(KafkaError(code)), "kafkaops-public.livedb-t", "h:1", "commit_transaction")
    assert err.exit_code == exit_code
    assert text in err.message
    if exit_code == ExitCode.REFUSED:
        assert isinstance(err, txn.FencedError)


class _Producer:
    """A transactional producer's calls, each raising the KafkaError given for it (None: it succeeds)."""

    def __init__(self, commit: KafkaError | None, abort: KafkaError | None) -> None:
        self.errors = {"commit": commit, "abort": abort}
        self.calls: list[str] = []

    def _call(self, name: str) -> None:
        self.calls.append(name)
        if self.errors[name] is not None:
            raise KafkaException(self.errors[name])

    def commit_transaction(self, timeout: float) -> None:
        self._call("commit")

    def abort_transaction(self, timeout: float) -> None:
        self._call("abort")


def _transactions(producer: _Producer) -> txn.Transactions:
    from kafkaops.settings import load_settings

    t = txn.Transactions(load_settings(env={}), "kafkaops-public.livedb-t", 30.0)
    t.producer, t.open_txn = producer, True
    return t


def test_a_commit_the_broker_fails_while_it_fences_this_producer_says_fenced() -> None:
    """Kafka 3.9's coordinator answers a commit that arrives while it fences the epoch for a newer producer
    with UNKNOWN_SERVER_ERROR (seen in 1 of 20 fenced runs here); the abort after it says fenced, and that is
    what the run reports (exit 5), not 'the Kafka transaction failed'."""
    unknown = KafkaError(KafkaError.UNKNOWN, "EndTxn commit failed: Unknown broker error", txn_requires_abort=True)
    fenced = KafkaError(KafkaError._FENCED, "This instance has been fenced by a newer instance", fatal=True)
    producer = _Producer(commit=unknown, abort=fenced)
    t = _transactions(producer)
    with pytest.raises(txn.FencedError) as info:
        t.commit()
    assert info.value.exit_code == ExitCode.REFUSED and "transactional.id kafkaops-public.livedb-t" in info.value.message
    assert producer.calls == ["commit", "abort"] and not t.open_txn

    # the same failed commit with an abort that works: the commit's own error, as before
    t = _transactions(_Producer(commit=unknown, abort=None))
    with pytest.raises(KafkaopsError, match=r"the Kafka transaction failed \(commit_transaction\): UNKNOWN") as other:
        t.commit()
    assert not isinstance(other.value, txn.FencedError)
