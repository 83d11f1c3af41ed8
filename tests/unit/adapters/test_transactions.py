"""The transactional producer's naming and error translation (no broker)."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError, KafkaException

from kafkaops.adapters import transactions as txn
from kafkaops.errors import ExitCode


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
