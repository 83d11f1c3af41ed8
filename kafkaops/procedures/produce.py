"""The produce step: send the table's new rows to the topic, advancing the offset only past acknowledged rows.

One run (see ``runbooks/producer.md`` for the user's view):

1. Connect (autocommit, session time zone UTC), resolve the table, read the pipeline's row of
   ``producer_offsets`` (table + topic; added at 0 if the pipeline never ran, see ``procedures/db.py``).
2. Take the pipeline's producer lock (``pg_try_advisory_lock`` on this session): a second producer of
   the same pipeline refuses; producers of other pipelines run side by side.
3. Check the topic exists (never relies on auto-creation) and the offset is not ahead of the table.
4. Settle gate: read the high-water mark L (the id sequence's last value, or ``max(id)``), then wait
   until every transaction that held a lock on the table or its sequence at that moment has ended.
   Any row with ``id <= L`` is then committed or gone for good, so rows committed out of id order are
   never skipped. If the gate does not clear in time, nothing is sent past the offset.
5. Read ``L >= id > last_id`` by keyset pagination in batches; PostgreSQL builds each row's JSON
   (numeric as text, bytea as base64, timestamps in UTC, json nested) and kafkaops wraps it in the event.
   Each event is measured against the topic's max.message.bytes before its batch is sent: one too
   large stops the run before it (naming it), or with --skip-oversize is recorded in producer_skipped.
6. Produce with an idempotent producer (acks=all). Each batch's delivery reports are counted and
   checked one by one; the offset moves to a batch's last row only when every earlier batch and this
   one are fully acknowledged, with a compare-and-set UPDATE (exactly one row or the run stops).

The event (value, JSON) for row 42 of ``public.livedb`` in database ``kafkaops``; key ``"42"``::

    {"id":"livedb:42","op":"c","source":{"db":"kafkaops","schema":"public","table":"livedb"},
     "ts_ms":1764349200123,"after":{"id":42,"created_at":"2026-11-28T17:00:00.123456+00:00",...}}
"""

from __future__ import annotations

import gc
import importlib
import json
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from kafkaops.adapters.kafka import MISSING_TOPIC, RETRIABLE
from kafkaops.defaults import DEFAULT_BATCH_SIZE, DEFAULT_DELIVERY_TIMEOUT, DEFAULT_INTERVAL, DEFAULT_SETTLE_TIMEOUT
from kafkaops.errors import KafkaopsError, NotReady, RefusedError, UnreachableError, UsageError
from kafkaops.procedures.db import (
    DEMO_TABLE,
    Offset,
    Pipeline,
    TableRef,
    claim_position,
    read_position,
    require_id_column,
    require_table,
    session,
    take_lock,
)
from kafkaops.settings import Settings

# DEFAULT_BATCH_SIZE (2000 rows, kafkaops/defaults.py): one offset UPDATE and one keyset query per 2000 rows
# keeps PostgreSQL far from the bottleneck, while a crash re-sends at most a few batches. Up to MAX_IN_FLIGHT
# batches are in flight at once, so the next batch is read while Kafka acknowledges the previous ones.
MAX_IN_FLIGHT = 4
READERS = 2  # connections reading batches ahead in parallel
READ_AHEAD = 3  # batches read ahead
OFFSET_SYNCHRONOUS_COMMIT = "on"  # durable offset updates (bench/bench_produce.py --offset-commit compares "off")

# Kafka's default max.message.bytes (the broker's, which a topic inherits unless it sets its own).
DEFAULT_MAX_MESSAGE_BYTES = 1048588
MIB = 1024 * 1024
SKIP_REASON = "event larger than the topic's max.message.bytes"


@dataclass(frozen=True)
class ProduceOptions:
    table: str = DEMO_TABLE
    topic: str | None = None  # default: KAFKA_TOPIC
    batch_size: int = DEFAULT_BATCH_SIZE
    max_rows: int | None = None
    dry_run: bool = False
    follow: bool = False
    interval: float = DEFAULT_INTERVAL
    mapper: str | None = None  # "module:function"
    delivery_timeout: float = DEFAULT_DELIVERY_TIMEOUT
    settle_timeout: float = DEFAULT_SETTLE_TIMEOUT
    preview: int = 5  # dry run: events shown
    skip_oversize: bool = False  # record rows too large for the topic in producer_skipped and go on


@dataclass(frozen=True)
class Plan:
    """What a run found at start: told to the user as "Producer initialized"."""

    table: str
    topic: str
    database: str
    offset: int
    high_water: int
    pending: int  # rows in (offset, high_water], capped by --max-rows
    dry_run: bool


@dataclass
class ProduceResult:
    table: str
    topic: str
    start_offset: int
    offset: int  # the committed offset at the end (dry run: the one it would reach)
    last_created_at: str | None
    sent: int  # events acknowledged by Kafka (dry run: events that would be sent)
    dry_run: bool = False
    preview: list[tuple[str, str]] = field(default_factory=list)  # dry run: (key, value)
    rounds: int = 0
    interrupted: bool = False
    skipped: int = 0  # rows too large for the topic, recorded in producer_skipped (--skip-oversize)
    too_large: list[tuple[int, int]] = field(default_factory=list)  # dry run: (id, event bytes) over the limit
    limit: int = 0  # dry run: the topic's max.message.bytes


class Hooks:
    """What a run tells its caller as it goes; the CLI renders it. The default is silent."""

    def initialized(self, plan: Plan) -> None: ...
    def progress(self, sent: int, total: int) -> None: ...
    def round(self, sent: int, offset: int) -> None: ...
    def waiting(self, message: str) -> None: ...
    def skipped(self, message: str) -> None: ...


# --- events ----------------------------------------------------------------------------------------


def load_mapper(spec: str) -> Callable[[dict[str, Any]], Any]:
    """``module:function`` -> the function. It gets the row (a dict, types already lossless) and
    returns the event value (anything JSON can encode), or None to skip the row."""
    module_name, sep, func_name = spec.partition(":")
    if not sep or not module_name or not func_name:
        raise UsageError(f"--mapper {spec!r} is not module:function", hint="for example --mapper mymapper:to_event (mymapper.py in the current folder)")
    if str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UsageError(f"--mapper: cannot import {module_name}: {exc}") from None
    except SystemExit as exc:
        raise UsageError(f"--mapper: importing {module_name} called sys.exit({exc.code})") from None
    except Exception as exc:  # the user's module failed while importing
        raise UsageError(f"--mapper: importing {module_name} failed: {type(exc).__name__}: {exc}") from None
    func = getattr(module, func_name, None)
    if not callable(func):
        raise UsageError(f"--mapper: {module_name} has no function {func_name}")
    return func  # type: ignore[no-any-return]


class EventBuilder:
    """The event around each row. Without a mapper PostgreSQL builds the whole value (the JSON of the
    row inside a fixed envelope, joined as text: nothing is parsed in Python); a mapper gets the
    parsed row and returns the value."""

    def __init__(self, db: str, ref: TableRef, mapper: Callable[[dict[str, Any]], Any] | None = None) -> None:
        source = json.dumps({"db": db, "schema": ref.schema, "table": ref.name}, separators=(",", ":"))
        # '{"id":"livedb:' + id + '","op":"c","source":{...},"ts_ms":' + ts + ',"after":' + row + '}'
        self.head = '{"id":' + json.dumps(ref.name + ":")[:-1]
        self.mid = f'","op":"c","source":{source},"ts_ms":'
        self.mapper = mapper

    def params(self, after: int, level: int, limit: int, ts_ms: int) -> dict[str, Any]:
        return {"head": self.head, "mid": self.mid, "ts": ts_ms, "after": after, "level": level, "limit": limit}

    def value(self, row_id: int, row_json: str, ts_ms: int) -> str | None:
        """The value for one row from its JSON: the event (the same text PostgreSQL joins in the
        batch query), or what the mapper returns (None: skip the row)."""
        if self.mapper is None:
            return f'{self.head}{row_id}{self.mid}{ts_ms},"after":{row_json}}}'
        # A mapper is the user's code: whatever it does wrong stops the run (exit 2) naming it and
        # the row, before anything of that row's batch is sent.
        name = f"{getattr(self.mapper, '__module__', '?')}:{getattr(self.mapper, '__qualname__', '?')}"
        hint = f"fix the mapper, then rerun `kafkaops produce`: the offset stands before row id={row_id}"
        try:
            event = self.mapper(json.loads(row_json))
        except SystemExit as exc:
            raise UsageError(f"--mapper {name} called sys.exit({exc.code}) on row id={row_id} instead of returning an event", hint=hint) from None
        except Exception as exc:
            raise UsageError(f"--mapper {name} failed on row id={row_id}: {type(exc).__name__}: {exc}", hint=hint) from None
        if event is None:
            return None
        if isinstance(event, str):  # already the value's text: sent as it is
            return event
        try:  # no default=str: a set or bytes must not go out as its Python repr; nor NaN as non-JSON
            return json.dumps(event, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError, RecursionError) as exc:
            raise UsageError(f"--mapper {name} returned a value JSON cannot hold for row id={row_id}: {exc}", hint=hint) from None


def select_sql(ref: TableRef, envelope: bool = True) -> Any:
    """The batch query: (id as text, created_at as text, the event or the row's JSON), in id order.

    PostgreSQL renders each row as JSON, losslessly:
    numeric as text (a JSON string: no float rounding), money as numeric text (its own text is
    lc_monetary's: "$1,234.50" or "1.234,50 €"), bytea as base64 (no newlines), timestamptz in ISO
    8601 (the session runs in UTC), json/jsonb nested as they are, NULL as null.
    """
    from psycopg import sql

    parts: list[sql.Composable] = []  # a column as it is (Identifier) or cast to text (Composed)
    for col, typ in ref.columns.items():
        c = sql.Identifier(col)
        if typ == "numeric":
            parts.append(sql.SQL("{}::text AS {}").format(c, c))
        elif typ == "money":
            parts.append(sql.SQL("{}::numeric::text AS {}").format(c, c))
        elif typ == "_numeric":
            parts.append(sql.SQL("{}::text[] AS {}").format(c, c))
        elif typ == "_money":
            parts.append(sql.SQL("{}::numeric[]::text[] AS {}").format(c, c))
        elif typ == "bytea":
            parts.append(sql.SQL("translate(encode({}, 'base64'), E'\\n', '') AS {}").format(c, c))
        else:
            parts.append(c)
    created = sql.SQL("x.created_at::text") if "created_at" in ref.columns else sql.SQL("NULL::text")
    payload = sql.SQL(
        "%(head)s::text || x.id || %(mid)s::text || %(ts)s::bigint || ',\"after\":' || row_to_json(x)::text || '}'" if envelope else "row_to_json(x)::text"
    )
    return sql.SQL(
        "SELECT x.id::text, {created}, {payload} FROM "
        "(SELECT {cols} FROM {table} WHERE id > %(after)s AND id <= %(level)s ORDER BY id LIMIT %(limit)s) AS x ORDER BY x.id"
    ).format(created=created, payload=payload, cols=sql.SQL(", ").join(parts), table=ref.ident())


# --- event sizes ---------------------------------------------------------------------------------


def record_size(event_bytes: int) -> int:
    """The largest record batch one event (key and value, ``event_bytes``) can make: the batch and
    record headers (61 + at most 32 bytes) and lz4's worst case (1/255 more, plus 16) on top of it.
    The broker refuses a batch over the topic's max.message.bytes."""
    return event_bytes + event_bytes // 255 + 128


def max_event_bytes(limit: int) -> int:
    """The largest event (key and value) whose record batch fits in ``limit`` bytes."""
    n = max(0, (limit - 128) * 255 // 256)
    while record_size(n + 1) <= limit:
        n += 1
    while n > 0 and record_size(n) > limit:
        n -= 1
    return n


def topic_limit(settings: Settings, topic: str, client: Any = None) -> int:
    """The topic's max.message.bytes as the broker describes it (its own, or the broker's default);
    Kafka's default if it cannot be read (no describe permission)."""
    from kafkaops.adapters import kafka

    try:
        for entry in kafka.topic_configs(client or kafka.admin(settings), topic, 10.0):
            if entry.name == "max.message.bytes" and entry.value:
                return int(entry.value)
    except (KafkaopsError, ValueError):
        pass
    return DEFAULT_MAX_MESSAGE_BYTES


def oversize_error(ref: TableRef, row_id: int, size: int, topic: str, limit: int, broker: str, offset: int) -> KafkaopsError:
    """A row whose event Kafka cannot take: which row, why, and the three ways on."""
    import os

    raised = -(-record_size(size) // MIB) * MIB  # enough for this row, in whole MiB
    tool = r"bin\windows\kafka-configs.bat" if os.name == "nt" else "bin/kafka-configs.sh"
    return KafkaopsError(
        f"row id={row_id} of {ref.qualified} is too large for topic {topic}: its event is {size:,} bytes, and the topic's "
        f"max.message.bytes is {limit:,} (with Kafka's framing it must fit in that)",
        details=[
            f"raise the topic's limit (produce follows it): {tool} --bootstrap-server {broker} --alter --entity-type topics "
            f"--entity-name {topic} --add-config max.message.bytes={raised}",
            f"or make the row smaller: UPDATE {ref.qualified} SET ... WHERE id = {row_id}",  # noqa: S608 - text shown, never run
            "or skip it: `kafkaops produce --skip-oversize` records it in producer_skipped and sends the rows after it",
        ],
        hint=f"every row before it was sent (the offset stands at {offset}); do one of the above, then rerun `kafkaops produce`",
        runbook="failures row-too-large",
    )


def oversize_rows(conn: Any, ref: TableRef, after: int, limit: int, rows: int = DEFAULT_BATCH_SIZE, upper: int = 2**63 - 1) -> list[tuple[int, int]]:
    """(id, event size) of the rows among the first ``rows`` above ``after`` whose event is too large
    for ``limit``: what `produce` stops at. PostgreSQL builds each event as produce does and counts
    its bytes; only the sizes come back."""
    from psycopg import sql

    builder = EventBuilder(conn.info.dbname, ref)
    query = sql.SQL("SELECT s.id, octet_length(s.ev) + octet_length(s.id) FROM ({}) AS s(id, created, ev)").format(select_sql(ref))
    largest = max_event_bytes(limit)
    found = conn.execute(query, builder.params(after, upper, rows, int(time.time() * 1000))).fetchall()
    return [(int(i), int(n)) for i, n in found if n > largest]


# --- the settle gate -------------------------------------------------------------------------------


def high_water(conn: Any, ref: TableRef) -> int:
    """The highest id any transaction may have taken: the id sequence's last value, or max(id)."""
    from psycopg import sql

    seq = conn.execute("SELECT pg_get_serial_sequence(%s, 'id')", (ref.quoted,)).fetchone()[0]
    max_id = conn.execute(sql.SQL("SELECT max(id) FROM {}").format(ref.ident())).fetchone()[0] or 0
    if seq:
        import psycopg

        try:
            last = conn.execute("SELECT pg_sequence_last_value(%s::regclass)", (seq,)).fetchone()[0]
        except psycopg.errors.InsufficientPrivilege:  # no privilege on the sequence: max(id) it is
            last = None
        return max(int(last or 0), int(max_id))
    return int(max_id)


def _second_producer(pipeline: Pipeline, holder: str) -> RefusedError:
    return RefusedError(
        f"another producer is running for {pipeline}{holder}; refusing to run a second one",
        hint="wait for it to finish (or stop it); two producers would send rows twice",
    )


def _lock_holders(conn: Any, ref: TableRef) -> list[str]:
    """Transactions (other than ours) holding or awaiting a lock on the table or its id sequence.

    An INSERT (or COPY) holds RowExclusiveLock on the table, and nextval() one on the sequence,
    until the transaction ends: so these are exactly the transactions that may still commit a row
    with an id we have already seen the sequence hand out. Plain readers (AccessShareLock) are not
    waited for: a long report query does not hold the producer up.
    """
    row = conn.execute(
        """SELECT coalesce(array_agg(DISTINCT l.virtualtransaction), '{}')
           FROM pg_locks l
           WHERE l.locktype = 'relation'
             AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
             AND l.relation IN (to_regclass(%s), to_regclass(pg_get_serial_sequence(%s, 'id')))
             AND l.mode NOT IN ('AccessShareLock', 'RowShareLock')  -- readers and SELECT FOR UPDATE insert nothing
             AND l.pid IS DISTINCT FROM pg_backend_pid()""",
        (ref.quoted, ref.quoted),
    ).fetchone()
    return list(row[0])


def settle(conn: Any, ref: TableRef, timeout: float, waiting: Callable[[str], None] | None = None) -> tuple[int, list[str]]:
    """Read the high-water mark L, then wait for the transactions in flight at that moment.

    Returns (L, blockers): blockers is empty when the gate cleared, else a description of the
    transactions still open after ``timeout`` (then no row above the offset may be sent).
    """
    level = high_water(conn, ref)
    vxids = _lock_holders(conn, ref)
    deadline = time.monotonic() + timeout
    told = False
    while vxids:
        still = conn.execute(
            """SELECT DISTINCT l.virtualtransaction, a.pid, a.application_name, a.state,
                      extract(epoch FROM clock_timestamp() - a.xact_start)::int
               FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
               WHERE l.virtualtransaction = ANY(%s)""",
            (vxids,),
        ).fetchall()
        if not still:
            break
        vxids = list({r[0] for r in still})
        if time.monotonic() >= deadline:
            blockers = [
                f"session pid {r[1]} ({r[2] or 'no application_name'}, {r[3] or 'unknown state'}, transaction open {r[4]}s)"
                if r[1]
                else f"prepared transaction {r[0]}"
                for r in still
            ]
            return level, sorted(set(blockers))
        if not told and waiting is not None:
            waiting(f"waiting for {len(vxids)} open transaction(s) that may still commit rows up to id {level}")
            told = True
        time.sleep(0.05)
    return level, []


# --- Kafka -----------------------------------------------------------------------------------------


class _Batch:
    __slots__ = ("last_id", "last_created_at", "count", "pending", "errors", "failed_keys", "sent_at")

    def __init__(self, last_id: int, last_created_at: Any, count: int) -> None:
        self.last_id = last_id
        self.last_created_at = last_created_at
        self.count = count
        self.pending = count
        self.errors: list[Any] = []
        self.failed_keys: list[str] = []  # the rows (keys) whose delivery failed
        self.sent_at = time.monotonic()

    def ack(self, err: Any, msg: Any) -> None:
        self.pending -= 1
        if err is not None:
            self.errors.append(err)
            key = msg.key() if msg is not None else None
            if key is not None:
                self.failed_keys.append(key.decode() if isinstance(key, bytes) else str(key))


def producer_config(settings: Settings, delivery_timeout: float, max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> dict[str, Any]:
    """The idempotent producer's settings. Its size limits follow the topic's max.message.bytes: one
    event as large as the topic takes is accepted (librdkafka's own default, 1,000,000 bytes, would
    refuse it), and a batch of many events stays within what the broker accepts."""
    from kafkaops.adapters.kafka import client_config

    return client_config(
        settings,
        **{
            "message.max.bytes": max(1_000_000, max_message_bytes),
            "batch.size": max(1, min(1_000_000, max_event_bytes(max_message_bytes))),
            "enable.idempotence": True,
            "acks": "all",
            "allow.auto.create.topics": False,
            "message.timeout.ms": int(delivery_timeout * 1000),
            "linger.ms": 5,
            "batch.num.messages": 10000,
            "compression.type": "lz4",
            "queue.buffering.max.kbytes": 65536,  # bounds memory whatever the backlog
        },
    )


def delivery_error(errors: list[Any], topic: str, delivery_timeout: float, broker: str, keys: list[str] | None = None) -> KafkaopsError:
    first = errors[0]
    code = first.name() if hasattr(first, "name") else str(first)
    text = first.str() if hasattr(first, "str") else str(first)
    if code == "MSG_SIZE_TOO_LARGE" and keys:
        return KafkaopsError(
            f"Kafka refused row id={keys[0]} as too large for topic {topic} ({code}: {text})",
            hint="raise the topic's max.message.bytes, make the row smaller, or rerun with `kafkaops produce --skip-oversize`",
            runbook="failures row-too-large",
        )
    if code in MISSING_TOPIC:
        return NotReady(f"topic {topic} does not exist (Kafka: {text})", hint=f"create it with `kafkaops topics create {topic}`")
    if code in RETRIABLE:
        return UnreachableError(
            f"Kafka at {broker} did not acknowledge {len(errors)} event(s) within {delivery_timeout:g}s ({code})",
            hint="check the broker with `kafkaops status`; rerun `kafkaops produce` once it is up (nothing acknowledged is lost)",
        )
    return KafkaopsError(f"Kafka rejected {len(errors)} event(s): {code}: {text}", hint="see `kafkaops runbook producer`")


def check_topic(settings: Settings, topic: str) -> None:
    from kafkaops.adapters.kafka import metadata

    md = metadata(settings, timeout=5.0)
    info = md.topics.get(topic)
    if info is None or (info.error is not None and info.error.name() in MISSING_TOPIC):
        raise NotReady(f"topic {topic} does not exist on {settings.kafka_broker}", hint=f"create it with `kafkaops topics create {topic}`")


# --- the run ---------------------------------------------------------------------------------------


class _Run:
    def __init__(
        self, settings: Settings, opts: ProduceOptions, conn: Any, ref: TableRef, builder: EventBuilder, hooks: Hooks, stop: threading.Event, dsn: str = ""
    ) -> None:
        self.settings, self.opts, self.conn, self.ref, self.builder, self.hooks, self.stop = settings, opts, conn, ref, builder, hooks, stop
        self.dsn = dsn
        self._pool: Any = None
        self._local = threading.local()
        self._readers: list[Any] = []
        self.query = select_sql(ref, envelope=builder.mapper is None)
        self.producer: Any = None
        self.fatal: list[Any] = []
        self.inflight: deque[_Batch] = deque()
        self.row = 0  # the pipeline's producer_offsets.id
        self.committed = 0
        self.committed_created_at: Any = None
        self.sent = 0
        self.limit = DEFAULT_MAX_MESSAGE_BYTES  # the topic's max.message.bytes
        self.skipped = 0

    # Kafka side
    def open_producer(self) -> None:
        from kafkaops.adapters import kafka

        conf = producer_config(self.settings, self.opts.delivery_timeout, self.limit)
        conf["error_cb"] = self._on_error
        self.producer = kafka.producer(self.settings, conf)  # bad settings: one readable error, exit 2

    def _on_error(self, err: Any) -> None:
        if err.fatal():
            self.fatal.append(err)

    def _events(self, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """(key, created_at, value) per row: the mapper's value when there is one (None: skip)."""
        if self.builder.mapper is None:
            return rows
        value, ts_ms = self.builder.value, int(time.time() * 1000)
        return [(key, created, value(int(key), payload, ts_ms)) for key, created, payload in rows]

    def _sizes_checked(self, rows: list[tuple[Any, ...]], topic: str) -> list[tuple[Any, ...]]:
        """The rows with every event too large for the topic dealt with before anything is sent:
        with --skip-oversize it is recorded in producer_skipped and dropped (the offset passes it);
        else the rows before it are sent and committed and the run stops, naming it."""
        largest = max_event_bytes(self.limit)
        quick = (largest - 20) // 4  # UTF-8: at most 4 bytes a character; a key: at most 20 digits
        out = rows
        for i in [i for i, r in enumerate(rows) if r[2] is not None and len(r[2]) > quick]:
            key, created, v = rows[i]
            size = len(v.encode()) + len(key)
            if size <= largest:
                continue
            if not self.opts.skip_oversize:
                if i:
                    head = _Batch(int(rows[i - 1][0]), rows[i - 1][1], i)
                    head.count = self._send(head, rows[:i], topic)
                    self.inflight.append(head)
                self._drain(until_below=1)
                raise oversize_error(self.ref, int(key), size, topic, self.limit, self.settings.kafka_broker, self.committed)
            from kafkaops.procedures.db import record_skipped

            record_skipped(self.conn, self.ref.qualified, topic, int(key), size, self.limit, SKIP_REASON)
            self.skipped += 1
            self.hooks.skipped(
                f"skipped row id={key} of {self.ref.qualified}: its event is {size:,} bytes, over topic {topic}'s max.message.bytes of {self.limit:,}; recorded in producer_skipped"
            )
            if out is rows:
                out = list(rows)
            out[i] = (key, created, None)
        return out

    def _send(self, batch: _Batch, rows: list[tuple[Any, ...]], topic: str) -> int:
        """Queue a batch's events (key, created_at, value; None: not sent, the offset passes it)."""
        from confluent_kafka import KafkaException

        produce, poll, ack = self.producer.produce, self.producer.poll, batch.ack
        n = 0
        for key, _created, v in rows:
            if v is None:  # skipped (by the mapper, or too large with --skip-oversize)
                batch.pending -= 1
                continue
            try:
                produce(topic, v, key, on_delivery=ack)
            except KafkaException as exc:  # refused before sending (a size or config limit of librdkafka)
                err = exc.args[0]
                raise KafkaopsError(
                    f"Kafka's client refused row id={key} of {self.ref.qualified}: {err.name()}: {err.str()}", hint="see `kafkaops runbook producer`"
                ) from None
            except BufferError:  # the local queue is full: serve delivery reports, then retry
                while True:
                    poll(0.05)
                    try:
                        produce(topic, v, key, on_delivery=ack)
                        break
                    except BufferError:
                        continue
            n += 1
        poll(0)
        return n

    def _drain(self, *, until_below: int) -> None:
        """Serve delivery reports and commit fully acknowledged batches (in order) until fewer than
        ``until_below`` batches are in flight. A failed batch stops the run after what came before it
        is committed."""
        poll = self.producer.poll
        grace = self.opts.delivery_timeout + 15.0
        while self.inflight:
            head = self.inflight[0]
            if head.pending <= 0:
                if head.errors:
                    self._fail()
                self._commit(head)
                self.inflight.popleft()
                continue
            if self.fatal:
                self._fail()
            if len(self.inflight) < until_below:
                poll(0)
                return
            poll(0.1)
            if time.monotonic() - head.sent_at > grace:
                raise UnreachableError(
                    f"Kafka at {self.settings.kafka_broker} sent no delivery report for {head.pending} event(s) within {grace:g}s",
                    hint="check the broker with `kafkaops status`; rerun `kafkaops produce` once it is up",
                )

    def _fail(self) -> None:
        """Stop: wait (bounded) for the reports of what is still in flight, commit the acknowledged
        prefix, then raise the first failure."""
        self.producer.flush(self.opts.delivery_timeout + 5)
        errors = [e for b in self.inflight for e in b.errors] + list(self.fatal)
        keys = [k for b in self.inflight for k in b.failed_keys]
        for batch in list(self.inflight):
            if batch.pending > 0 or batch.errors:
                break
            self._commit(batch)
            self.inflight.popleft()
        if self.fatal and not [b for b in self.inflight if b.errors]:
            err = self.fatal[0]
            raise KafkaopsError(f"the Kafka producer failed: {err.name()}: {err.str()}")
        raise delivery_error(
            errors or list(self.fatal), self.opts.topic or self.settings.kafka_topic, self.opts.delivery_timeout, self.settings.kafka_broker, keys
        )

    def _commit(self, batch: _Batch) -> None:
        """Compare-and-set: the offset moves from what this run last wrote, or the run stops."""
        cur = self.conn.execute(
            "UPDATE producer_offsets SET last_id = %s, last_created_at = coalesce(%s::timestamptz, last_created_at) WHERE id = %s AND last_id = %s",
            (batch.last_id, batch.last_created_at, self.row, self.committed),
        )
        if cur.rowcount != 1:
            raise RefusedError(
                f"producer_offsets row id={self.row} ({self.ref.qualified} -> {self.opts.topic or self.settings.kafka_topic}) is no longer at {self.committed}: "
                "something else changed it during this run",
                hint="find who writes producer_offsets (only one producer may run); then rerun `kafkaops produce`",
            )
        self.committed = batch.last_id
        if batch.last_created_at is not None:
            self.committed_created_at = batch.last_created_at
        self.sent += batch.count
        self.hooks.progress(self.sent, self.total)

    # one round: everything in (offset, L]
    def _read(self, after: int, upper: int, n: int) -> list[tuple[Any, ...]]:
        """One batch, on this reader thread's own connection (made on first use)."""
        from kafkaops.adapters.postgres import connect

        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.dsn, application_name="kafkaops-produce-reader")
            self._local.conn = conn
            self._readers.append(conn)
        params = self.builder.params(after, upper, n, int(time.time() * 1000))
        return conn.execute(self.query, params).fetchall()  # type: ignore[no-any-return]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        for conn in self._readers:
            conn.close()
        self._readers.clear()

    def round(self, level: int, limit: int | None) -> int:
        """Everything in (offset, level], batch by batch, in id order.

        The main connection finds each batch's upper id (an index-only lookup); READERS threads, each
        with its own connection, read the batches ahead in parallel (PostgreSQL building the JSON is
        the costly part), and they are produced in order as they arrive."""
        from concurrent.futures import ThreadPoolExecutor

        if self._pool is None:
            self._pool = ThreadPoolExecutor(READERS, thread_name_prefix="kafkaops-read")
        # Rows, events and delivery reports are short-lived and acyclic: the cyclic collector would
        # only burn CPU scanning them (reference counting frees them). Paused for the round.
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            return self._round(level, limit)
        finally:
            if gc_was_enabled:
                gc.enable()

    def _round(self, level: int, limit: int | None) -> int:
        from concurrent.futures import Future

        from psycopg import sql

        topic = self.opts.topic or self.settings.kafka_topic
        sent_before = self.sent
        boundary = sql.SQL("SELECT id FROM {} WHERE id > %s AND id <= %s ORDER BY id OFFSET %s LIMIT 1").format(self.ref.ident())
        after, planned, done = self.committed, 0, False
        ahead: deque[Future[list[tuple[Any, ...]]]] = deque()

        def plan() -> None:
            nonlocal after, planned, done
            n = self.opts.batch_size if limit is None else min(self.opts.batch_size, limit - planned)
            if n <= 0 or self.stop.is_set():
                done = True
                return
            row = self.conn.execute(boundary, (after, level, n - 1)).fetchone()
            upper = int(row[0]) if row else level
            assert self._pool is not None
            ahead.append(self._pool.submit(self._read, after, upper, n))
            planned += n
            after = upper
            if row is None:
                done = True

        while not done and len(ahead) < READ_AHEAD:
            plan()
        while ahead:
            rows = ahead.popleft().result()
            while not done and len(ahead) < READ_AHEAD:
                plan()
            if self.stop.is_set():
                for future in ahead:
                    future.cancel()
                break
            if rows:
                batch = _Batch(int(rows[-1][0]), rows[-1][1], len(rows))
                events = self._sizes_checked(self._events(rows), topic)
                batch.count = self._send(batch, events, topic)  # events: rows skipped (mapper, --skip-oversize) are not counted
                self.inflight.append(batch)
                self._drain(until_below=MAX_IN_FLIGHT)
        for future in ahead:  # interrupted: let running reads finish before their connections close
            if not future.cancelled():
                future.exception()
        self._drain(until_below=1)
        return self.sent - sent_before

    total = 0


def _count(conn: Any, ref: TableRef, after: int, level: int, limit: int | None) -> int:
    from psycopg import sql

    if limit is not None:
        q = sql.SQL("SELECT count(*) FROM (SELECT 1 FROM {} WHERE id > %s AND id <= %s LIMIT %s) AS x").format(ref.ident())
        return int(conn.execute(q, (after, level, limit)).fetchone()[0])
    q = sql.SQL("SELECT count(*) FROM {} WHERE id > %s AND id <= %s").format(ref.ident())
    return int(conn.execute(q, (after, level)).fetchone()[0])


def _validate(opts: ProduceOptions) -> None:
    if opts.batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1 (got {opts.batch_size})")
    if opts.max_rows is not None and opts.max_rows < 1:
        raise UsageError(f"--max-rows must be at least 1 (got {opts.max_rows})")
    if opts.interval <= 0:
        raise UsageError(f"--interval must be more than 0 seconds (got {opts.interval})")
    if opts.delivery_timeout <= 0 or opts.settle_timeout < 0:
        raise UsageError("timeouts must be positive")


def _gate_error(level: int, blockers: list[str], timeout: float) -> NotReady:
    return NotReady(
        f"{len(blockers)} open transaction(s) may still commit rows up to id {level}; not sending past the offset so that none is skipped (waited {timeout:g}s)",
        details=blockers,
        hint="let those transactions finish (or end them), then rerun `kafkaops produce`; raise --settle-timeout to wait longer",
    )


def produce(settings: Settings, opts: ProduceOptions, hooks: Hooks | None = None, stop: threading.Event | None = None) -> ProduceResult:
    """Send the rows above the offset to the topic (see the module's docstring for the steps)."""
    from psycopg import sql

    from kafkaops.adapters.embedded_pg import database_url
    from kafkaops.adapters.postgres import shown

    _validate(opts)
    hooks = hooks or Hooks()
    stop = stop or threading.Event()
    topic = opts.topic or settings.kafka_topic
    mapper = load_mapper(opts.mapper) if opts.mapper else None

    with session(settings, application_name="kafkaops-produce") as conn:
        ref = require_table(conn, opts.table)
        require_id_column(conn, ref)
        pipeline = Pipeline(ref.qualified, topic)
        if opts.dry_run:  # writes nothing: an old offset table is read as it is, a new pipeline is at 0
            offset = read_position(conn, pipeline, settings) or Offset(0, None)
        else:
            offset = claim_position(conn, pipeline, settings)
            assert offset.row is not None
            take_lock(conn, pipeline, offset.row, refuse=_second_producer)
            offset = read_position(conn, pipeline, settings) or offset  # as it is now that this run holds the lock
        check_topic(settings, topic)
        limit = topic_limit(settings, topic)
        builder = EventBuilder(conn.info.dbname, ref, mapper)
        # Each offset UPDATE waits for its WAL flush, whatever the server's or role's default: after
        # a PostgreSQL crash the offset is the last one committed, so only the batches in flight are
        # re-sent (off lost up to ~3 x wal_writer_delay of commits: tens of thousands of rows).
        conn.execute("SELECT set_config('synchronous_commit', %s, false)", (OFFSET_SYNCHRONOUS_COMMIT,))

        level, blockers = settle(conn, ref, opts.settle_timeout, hooks.waiting)
        if offset.last_id > level:
            newest = conn.execute(sql.SQL("SELECT max(id) FROM {}").format(ref.ident())).fetchone()[0]
            raise RefusedError(
                f"the offset is ahead of the table: producer_offsets.last_id={offset.last_id} but the newest id in {ref.qualified} is {newest if newest is not None else 'none (empty table)'}; "
                "rows would never be sent",
                hint=f"if the table was truncated and re-seeded, send it again from the start with `kafkaops db rewind --yes{pipeline.flags}`, then `kafkaops produce{pipeline.flags}`",
            )
        if blockers and not opts.follow:
            raise _gate_error(level, blockers, opts.settle_timeout)
        pending = _count(conn, ref, offset.last_id, level, opts.max_rows) if not blockers else 0
        plan = Plan(ref.qualified, topic, shown(database_url(settings)), offset.last_id, level, pending, opts.dry_run)
        result = ProduceResult(
            ref.qualified,
            topic,
            offset.last_id,
            offset.last_id,
            offset.last_created_at.isoformat() if offset.last_created_at else None,
            0,
            dry_run=opts.dry_run,
        )

        if opts.dry_run:
            hooks.initialized(plan)
            return _dry_run(conn, ref, builder, offset.last_id, level, opts, result, pending, limit)

        run = _Run(settings, opts, conn, ref, builder, hooks, stop, dsn=database_url(settings))
        run.row = offset.row or 0
        run.committed = offset.last_id
        run.total = pending
        run.limit = limit
        run.open_producer()
        hooks.initialized(plan)
        try:
            while True:
                if not blockers:
                    rows_left = None if opts.max_rows is None else opts.max_rows - run.sent  # not `limit`: that is the topic's max.message.bytes
                    n = run.round(level, rows_left)
                    result.rounds += 1
                    if opts.follow:
                        hooks.round(n, run.committed)
                else:
                    hooks.waiting(_gate_error(level, blockers, opts.settle_timeout).message)
                if not opts.follow or stop.is_set() or (opts.max_rows is not None and run.sent >= opts.max_rows):
                    break
                if stop.wait(opts.interval):
                    break
                level, blockers = settle(conn, ref, opts.settle_timeout, hooks.waiting)
                run.total = run.sent + (_count(conn, ref, run.committed, level, None) if not blockers else 0)
        finally:
            # Whatever happened, what is in flight gets its reports (bounded) and the acknowledged
            # prefix is committed before the session (and its lock) goes away.
            run.close()
            if run.inflight and run.producer is not None:
                run.producer.flush(opts.delivery_timeout + 5)
                while run.inflight and run.inflight[0].pending <= 0 and not run.inflight[0].errors:
                    run._commit(run.inflight.popleft())
        result.offset = run.committed
        result.sent = run.sent
        result.skipped = run.skipped
        if run.committed_created_at is not None:
            result.last_created_at = datetime.fromisoformat(run.committed_created_at).isoformat()
        result.interrupted = stop.is_set()
        return result


def _dry_run(
    conn: Any,
    ref: TableRef,
    builder: EventBuilder,
    after: int,
    level: int,
    opts: ProduceOptions,
    result: ProduceResult,
    pending: int,
    limit: int = DEFAULT_MAX_MESSAGE_BYTES,
) -> ProduceResult:
    from psycopg import sql

    if pending and builder.mapper is None:  # a mapper's events are measured when it runs, not here
        result.too_large, result.limit = oversize_rows(conn, ref, after, limit, rows=pending, upper=level), limit
    too_large = {row_id for row_id, _size in result.too_large}
    if too_large and not opts.skip_oversize:  # a real run stops before the first one
        first = min(too_large)
        pending = int(conn.execute(sql.SQL("SELECT count(*) FROM {} WHERE id > %s AND id < %s").format(ref.ident()), (after, first)).fetchone()[0])
    query = select_sql(ref, envelope=builder.mapper is None)
    ts_ms = int(time.time() * 1000)
    rows = conn.execute(query, builder.params(after, level, min(opts.preview, pending), ts_ms)).fetchall() if pending else []
    if builder.mapper is None:  # PostgreSQL built the events
        result.preview = [(r[0], r[2]) for r in rows]
    else:
        result.preview = [(r[0], v) for r in rows if (v := builder.value(int(r[0]), r[2], ts_ms)) is not None]
    result.preview = [(k, v) for k, v in result.preview if int(k) not in too_large]
    result.sent = pending - (len(too_large) if opts.skip_oversize else 0)
    if pending:
        last = conn.execute(
            sql.SQL("SELECT id, created_at FROM {} WHERE id > %s AND id <= %s ORDER BY id OFFSET %s LIMIT 1").format(ref.ident())
            if "created_at" in ref.columns
            else sql.SQL("SELECT id, NULL::timestamptz FROM {} WHERE id > %s AND id <= %s ORDER BY id OFFSET %s LIMIT 1").format(ref.ident()),
            (after, level, pending - 1),
        ).fetchone()
        result.offset = int(last[0])
        if last[1] is not None:
            result.last_created_at = last[1].isoformat()
    return result
