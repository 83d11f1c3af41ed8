"""Pure logic of the produce step: the event, the batch bookkeeping, error wording, DSN scrubbing."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import pytest
from confluent_kafka import KafkaError

from kafkaops.adapters.postgres import password_in, scrub
from kafkaops.errors import ExitCode, KafkaopsError, RefusedError
from kafkaops.procedures import produce as proc
from kafkaops.procedures.db import TableRef, lock_key
from kafkaops.settings import load_settings


def _ref(name: str = "livedb") -> TableRef:
    return TableRef("public", name, {"id": "int8", "created_at": "timestamptz", "amount": "numeric", "blob": "bytea"})


def _as_postgres_joins_it(b: proc.EventBuilder, row_id: int, ts_ms: int, row_json: str) -> str:
    # what select_sql's payload expression makes of head, id, mid, ts and the row
    return b.head + str(row_id) + b.mid + str(ts_ms) + ',"after":' + row_json + "}"


def test_event_shape() -> None:
    b = proc.EventBuilder("kafkaops", _ref())
    value = _as_postgres_joins_it(b, 42, 1764349200123, '{"id":42,"amount":"1.50","note":null}')
    assert json.loads(value) == {
        "id": "livedb:42",
        "op": "c",
        "source": {"db": "kafkaops", "schema": "public", "table": "livedb"},
        "ts_ms": 1764349200123,
        "after": {"id": 42, "amount": "1.50", "note": None},
    }
    # the Python builder (docs, --mapper-less previews) makes the same text as the batch query
    assert b.value(42, '{"id":42,"amount":"1.50","note":null}', 1764349200123) == value


def test_event_with_a_table_name_that_needs_escaping() -> None:
    b = proc.EventBuilder('d"b', _ref('we"ird\\name'))
    event = json.loads(_as_postgres_joins_it(b, 1, 0, "{}"))
    assert event["id"] == 'we"ird\\name:1'
    assert event["source"] == {"db": 'd"b', "schema": "public", "table": 'we"ird\\name'}


def test_mapper_gets_the_row_and_may_skip() -> None:
    b = proc.EventBuilder("db", _ref(), lambda row: None if row["id"] == 2 else {"n": row["id"] * 10})
    assert b.value(1, '{"id":1}', 0) == '{"n":10}'
    assert b.value(2, '{"id":2}', 0) is None


def test_mapper_failure_names_the_row() -> None:
    b = proc.EventBuilder("db", _ref(), lambda row: 1 / 0)
    with pytest.raises(KafkaopsError, match=r"--mapper \S+:test_mapper_failure_names_the_row.<locals>.<lambda> failed on row id=7: ZeroDivisionError"):
        b.value(7, '{"id":7}', 0)


def test_load_mapper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "mapper_mod_for_test.py").write_text("def f(row):\n    return row\n")
    monkeypatch.chdir(tmp_path)
    assert proc.load_mapper("mapper_mod_for_test:f")({"a": 1}) == {"a": 1}
    with pytest.raises(KafkaopsError, match="has no function g"):
        proc.load_mapper("mapper_mod_for_test:g")
    with pytest.raises(KafkaopsError, match="is not module:function"):
        proc.load_mapper("mapper_mod_for_test")


def test_select_sql_makes_types_lossless() -> None:
    from psycopg import sql

    text = sql.Composed([proc.select_sql(_ref())]).as_string(None)
    assert '"amount"::text AS "amount"' in text
    assert "translate(encode(\"blob\", 'base64'), E'\\n', '') AS \"blob\"" in text
    assert "row_to_json(x)::text" in text
    assert "WHERE id > %(after)s AND id <= %(level)s ORDER BY id LIMIT %(limit)s" in text
    assert "%(head)s::text || x.id || %(mid)s::text || %(ts)s::bigint" in text
    assert "row_to_json(x)::text" in sql.Composed([proc.select_sql(_ref(), envelope=False)]).as_string(None)


def test_producer_config_is_idempotent_and_bounded() -> None:
    settings = load_settings(env={"KAFKA_BROKER": "h:1", "KAFKAOPS_HOME": "/tmp/x"}, cwd=Path("/tmp"))
    conf = proc.producer_config(settings, 12.5)
    assert conf["enable.idempotence"] is True
    assert conf["acks"] == "all"
    assert conf["message.timeout.ms"] == 12500
    assert conf["allow.auto.create.topics"] is False


@pytest.mark.parametrize(
    ("code", "exit_code", "text"),
    [
        (KafkaError._MSG_TIMED_OUT, ExitCode.UNREACHABLE, "did not acknowledge 2 event(s) within 30s"),
        (KafkaError.UNKNOWN_TOPIC_OR_PART, ExitCode.NOT_READY, "topic t does not exist"),
        (KafkaError.MSG_SIZE_TOO_LARGE, ExitCode.ERROR, "Kafka rejected 2 event(s): MSG_SIZE_TOO_LARGE"),
    ],
)
def test_delivery_errors(code: int, exit_code: ExitCode, text: str) -> None:
    err = proc.delivery_error([KafkaError(code), KafkaError(code)], "t", 30, "h:1")
    assert err.exit_code == exit_code
    assert text in err.message


class _FakeProducer:
    """Stands in for librdkafka in this pure test: reports are delivered when the test says so."""

    def __init__(self) -> None:
        self.queued: list[tuple[str, object]] = []

    def produce(self, topic: str, value: str, key: str, on_delivery) -> None:  # noqa: ANN001
        self.queued.append((key, on_delivery))

    def poll(self, _timeout: float = 0) -> int:
        return 0

    def flush(self, _timeout: float = 0) -> int:
        return 0

    def deliver(self, key: str, err: KafkaError | None = None) -> None:
        for k, cb in self.queued:
            if k == key:
                cb(err, None)


class _FakeConn:
    def __init__(self) -> None:
        self.offset = 0
        self.updates: list[int] = []

    def execute(self, _q: str, params: tuple) -> object:
        new, _created, row, old = params
        ok = row == 7 and old == self.offset  # the run's own pipeline row
        if ok:
            self.offset = new
            self.updates.append(new)

        class _Cur:
            rowcount = 1 if ok else 0

        return _Cur()


def _run(conn: _FakeConn, producer: _FakeProducer) -> tuple[proc.DeliveryTracker, proc.OffsetCommitter]:
    """The delivery tracker of a run on pipeline row 7, and the offset committer it commits through."""
    committer = proc.OffsetCommitter(conn, 7, 0, "public.livedb -> t", proc.Hooks())
    tracker = proc.DeliveryTracker(committer.commit, topic="t", table="public.livedb", broker="localhost:9092", delivery_timeout=30.0)
    tracker.producer = producer
    return tracker, committer


def _batch(tracker: proc.DeliveryTracker, ids: range) -> proc.Batch:
    batch = proc.Batch(ids[-1], None, len(ids))
    tracker.send(batch, [(str(i), None, "{}") for i in ids])
    tracker.inflight.append(batch)
    return batch


def test_offset_commits_only_a_fully_acknowledged_prefix_in_order() -> None:
    conn, producer = _FakeConn(), _FakeProducer()
    run, committer = _run(conn, producer)
    _batch(run, range(1, 4))
    _batch(run, range(4, 7))
    for key in ("4", "5", "6"):  # the second batch is acknowledged first (another partition)
        producer.deliver(key)
    run.drain(until_below=proc.MAX_IN_FLIGHT)
    assert conn.updates == []  # nothing: batch 1 is not acknowledged yet
    for key in ("1", "2"):
        producer.deliver(key)
    run.drain(until_below=proc.MAX_IN_FLIGHT)
    assert conn.updates == []  # row 3 still pending
    producer.deliver("3")
    run.drain(until_below=proc.MAX_IN_FLIGHT)
    assert conn.updates == [3, 6]
    assert committer.sent == 6 and committer.committed == 6


def test_a_failed_report_stops_the_run_before_its_batch() -> None:
    conn, producer = _FakeConn(), _FakeProducer()
    run, _committer = _run(conn, producer)
    _batch(run, range(1, 3))
    _batch(run, range(3, 5))
    _batch(run, range(5, 7))
    for key in ("1", "2", "3", "5", "6"):
        producer.deliver(key)
    producer.deliver("4", KafkaError(KafkaError._MSG_TIMED_OUT))
    with pytest.raises(KafkaopsError) as info:
        run.drain(until_below=1)
    assert info.value.exit_code == ExitCode.UNREACHABLE
    assert conn.offset == 2  # batch [3, 4] failed: neither it nor [5, 6] counts


def test_compare_and_set_catches_another_writer() -> None:
    conn, producer = _FakeConn(), _FakeProducer()
    run, _committer = _run(conn, producer)
    _batch(run, range(1, 3))
    conn.offset = 99  # someone else moved it
    producer.deliver("1")
    producer.deliver("2")
    with pytest.raises(RefusedError, match="no longer at 0"):
        run.drain(until_below=1)


def test_finish_commits_the_acknowledged_prefix_and_leaves_the_rest() -> None:
    conn, producer = _FakeConn(), _FakeProducer()
    run, committer = _run(conn, producer)
    _batch(run, range(1, 3))
    _batch(run, range(3, 5))
    _batch(run, range(5, 7))
    for key in ("1", "2", "3", "5", "6"):  # row 4 has no report yet
        producer.deliver(key)
    committer.finish(run)
    assert conn.updates == [2]
    assert [b.last_id for b in run.inflight] == [4, 6]
    assert committer.sent == 2


def test_password_is_found_and_scrubbed_even_in_malformed_dsns() -> None:
    for dsn in ("postgresql://u:pa55w0rd@h/db", "postgres//u:pa55w0rd@h/db", "host=h password=pa55w0rd", "host=h password='pa55w0rd'"):
        assert password_in(dsn) == "pa55w0rd"
        assert "pa55w0rd" not in scrub(f"could not parse {dsn}", dsn)
    assert "p@ss" not in scrub("bad p@ss here", "postgresql://u:p%40ss@h/db")


def test_lock_keys_are_stable_bigints_one_per_pipeline_row() -> None:
    keys = [lock_key(row) for row in (1, 2, 3, 2**31 - 1)]
    assert keys == [lock_key(row) for row in (1, 2, 3, 2**31 - 1)]
    assert len(set(keys)) == 4
    assert all(-(2**63) <= k < 2**63 for k in keys)
    assert keys[0] == zlib.crc32(b"kafkaops produce producer_offsets") - 2**31  # the default pipeline keeps the old key


def test_options_are_validated() -> None:
    for opts, text in (
        (proc.ProduceOptions(batch_size=0), "--batch-size"),
        (proc.ProduceOptions(max_rows=0), "--max-rows"),
        (proc.ProduceOptions(interval=0), "--interval"),
    ):
        with pytest.raises(KafkaopsError, match=text):
            proc.validate(opts)
