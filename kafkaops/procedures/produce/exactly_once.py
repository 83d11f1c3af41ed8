"""``produce --exactly-once``: Kafka transactions, and the position recovered from the topic.

- The pipeline's transactional.id is stable (``kafkaops-<schema.table>-<topic>``, hashed when long),
  so a new run's ``init_transactions`` fences an older producer of the same pipeline and aborts the
  transaction it left open.
- The batches a run keeps in flight (up to MAX_IN_FLIGHT batches) go in one Kafka transaction; the
  offset moves after the transaction commits, in one compare-and-set that also replaces the
  pipeline's transaction token (``producer_offsets.txn_token``, a fresh random value each time).
- Every event of a transaction carries the header ``kafkaops.txn = <token>:<offset>:<batch's last id>``,
  where token and offset are the row's as the transaction began. A run killed between the Kafka
  commit and the offset update leaves the row at (offset, token); the next run reads the end of each
  partition with a read_committed consumer, finds that transaction's committed events, and moves
  the offset to the highest batch end they name: nothing is re-sent. An aborted transaction is
  invisible to read_committed readers, so its rows are simply sent again in a new one. A row
  rewound since (``kafkaops db rewind``) no longer matches the header and is left as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kafkaops.adapters import pipeline_sql
from kafkaops.adapters import transactions as txn
from kafkaops.errors import KafkaopsError, RefusedError
from kafkaops.procedures.db import Offset, TableRef
from kafkaops.procedures.produce.committer import OffsetCommitter
from kafkaops.procedures.produce.debezium import partitioner
from kafkaops.procedures.produce.delivery import Batch, DeliveryTracker, delivery_error
from kafkaops.procedures.produce.options import MAX_IN_FLIGHT, Hooks, ProduceOptions
from kafkaops.settings import Settings

RECOVERY_WINDOW = 20_000  # offsets read back from the end of each partition, at least


def recovery_window(batch_size: int) -> int:
    """How far back from each partition's end recovery reads: twice the largest transaction."""
    return max(RECOVERY_WINDOW, 2 * MAX_IN_FLIGHT * batch_size)


def header_prefix(token: str, offset: int) -> str:
    return f"{token}:{offset}:"


def recovered_end(values: list[bytes], prefix: str) -> int | None:
    """The highest batch end named by the ``kafkaops.txn`` header values that start with ``prefix``."""
    want = prefix.encode()
    ends = [int(v[len(want) :]) for v in values if v.startswith(want)]
    return max(ends) if ends else None


class TransactionalCommitter(OffsetCommitter):
    """The offset and the transaction token move together, from what this run last wrote."""

    def __init__(self, conn: Any, row: int, committed: int, pipeline: str, hooks: Hooks, token: str) -> None:
        super().__init__(conn, row, committed, pipeline, hooks)
        self.token = token

    def advance(self, batch: Batch) -> bool:
        new = txn.new_token()
        if not pipeline_sql.advance_offset_txn(self.conn, self.row, self.committed, self.token, batch.last_id, batch.last_created_at, new):
            return False
        self.token = new
        return True


class TransactionalTracker(DeliveryTracker):
    """The batches of the open transaction. ``drain`` commits the transaction once MAX_IN_FLIGHT
    batches are in it (or at the end), then moves the offset past its last batch."""

    def __init__(
        self, committer: TransactionalCommitter, transactions: txn.Transactions, *, topic: str, table: str, broker: str, delivery_timeout: float
    ) -> None:
        super().__init__(committer.commit, topic=topic, table=table, broker=broker, delivery_timeout=delivery_timeout)
        self.committer, self.transactions = committer, transactions
        self.producer, self.fatal = transactions.producer, transactions.fatal

    def open(self, settings: Settings, max_message_bytes: int, partitioner: str | None = None) -> None:
        if self.producer is None:
            self.producer = self.transactions.open(max_message_bytes)

    def send(self, batch: Batch, rows: list[tuple[Any, ...]], headers: Any = None) -> int:
        if not self.transactions.open_txn:
            self.transactions.begin()
        mark = f"{header_prefix(self.committer.token, self.committer.committed)}{batch.last_id}".encode()
        return super().send(batch, rows, headers=[(txn.TXN_HEADER, mark)])

    def drain(self, *, until_below: int) -> None:
        if self.fatal:
            self._stop_with_fatal()
        if len(self.inflight) < until_below or not self.inflight:
            self.producer.poll(0)
            return
        batches = list(self.inflight)
        try:
            self.transactions.commit()
        except KafkaopsError as exc:
            self.inflight.clear()
            errors = [e for b in batches for e in b.errors]
            if errors and not isinstance(exc, txn.FencedError):
                exc = delivery_error(errors, self.topic, self.delivery_timeout, self.broker, [k for b in batches for k in b.failed_keys])
            if exc.hint:  # the rerun that continues this pipeline
                exc.hint = exc.hint.replace("rerun `kafkaops produce`", "rerun `kafkaops produce --exactly-once`")
            raise exc from None
        self.inflight.clear()
        last = batches[-1]
        created = next((b.last_created_at for b in reversed(batches) if b.last_created_at is not None), None)
        whole = Batch(last.last_id, created, 0)
        whole.count = sum(b.count for b in batches)
        self.commit(whole)

    def _stop_with_fatal(self) -> None:
        """Abort the open transaction and stop: fenced (exit 5), or the fatal error as it is."""
        code, text = self.fatal[0].name(), self.fatal[0].str()
        self.transactions.abort()
        self.inflight.clear()
        if code in txn.FENCED:
            raise txn.fenced(self.transactions.txn_id)
        raise KafkaopsError(f"the Kafka producer failed: {code}: {text}")

    def flush(self) -> None:
        """A run that ends with a transaction open (an error, Ctrl+C twice) aborts it: its events are
        never seen by read_committed readers, and the offset stays where it is."""
        self.transactions.abort()
        self.inflight.clear()


@dataclass
class ExactlyOnce:
    """What an exactly-once run starts with: its producer (transactions initialized, so any earlier
    producer of the pipeline is fenced), the position (recovered from the topic if it was ahead)
    and the token its first transaction carries."""

    transactions: txn.Transactions
    offset: Offset
    token: str
    recovered_from: int | None = None  # the offset the row had, when the topic was ahead of it

    def install(self, run: Any) -> None:
        """Swap ``run``'s committer and tracker for the transactional ones."""
        old = run.committer
        run.committer = TransactionalCommitter(old.conn, old.row, old.committed, old.pipeline, old.hooks, self.token)
        run.committer.total = old.total
        run.tracker = TransactionalTracker(
            run.committer,
            self.transactions,
            topic=run.topic,
            table=run.ref.qualified,
            broker=run.settings.kafka_broker,
            delivery_timeout=run.opts.delivery_timeout,
        )


def start(settings: Settings, conn: Any, ref: TableRef, topic: str, offset: Offset, limit: int, opts: ProduceOptions, hooks: Hooks) -> ExactlyOnce:
    """Open the transactional producer (fencing an older one), then recover the position."""
    assert offset.row is not None
    transactions = txn.Transactions(settings, txn.transactional_id(ref.qualified, topic), opts.delivery_timeout, partitioner(opts.envelope))
    transactions.open(limit)
    pipeline_sql.ensure_eos_columns(conn)
    last_id, created, token = pipeline_sql.eos_state(conn, offset.row)
    new = txn.new_token()
    if token is None:  # the pipeline's first exactly-once run: nothing of it can be in the topic
        _cas(conn, offset.row, last_id, None, last_id, created, new, ref, topic)
        return ExactlyOnce(transactions, Offset(last_id, created, offset.row), new)
    prefix = header_prefix(token, last_id)
    end = recovered_end(list(txn.header_values(settings, topic, recovery_window(opts.batch_size))), prefix)
    if end is None or end <= last_id:
        return ExactlyOnce(transactions, Offset(last_id, created, offset.row), token)
    created_at = pipeline_sql.created_at_upto(conn, ref.schema, ref.name, "created_at" in ref.columns, end) or created
    _cas(conn, offset.row, last_id, token, end, created_at, new, ref, topic)
    hooks.waiting(
        f"the topic is ahead of the offset: the last run's final transaction (rows {last_id + 1}..{end}) was committed in Kafka; offset moved to {end}, nothing re-sent"
    )
    return ExactlyOnce(transactions, Offset(end, created_at, offset.row), new, recovered_from=last_id)


def warn_if_downgraded(conn: Any, offset: Offset, pipeline: str, hooks: Hooks) -> None:
    """A run without --exactly-once of a pipeline that ran with it says so (it stays allowed)."""
    if offset.row is not None and pipeline_sql.ran_exactly_once(conn, offset.row):
        hooks.warn(f"{pipeline} ran with --exactly-once before; this run is at-least-once (a crash may re-send the batches in flight): add --exactly-once")


def _cas(conn: Any, row: int, old: int, old_token: str | None, new: int, created: Any, token: str, ref: TableRef, topic: str) -> None:
    if not pipeline_sql.advance_offset_txn(conn, row, old, old_token, new, created, token):
        raise RefusedError(
            f"producer_offsets row id={row} ({ref.qualified} -> {topic}) changed while the exactly-once position was recovered",
            hint="find who writes producer_offsets (only one producer may run); then rerun `kafkaops produce --exactly-once`",
        )
