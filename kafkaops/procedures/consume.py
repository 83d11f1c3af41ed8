"""Consume: read a topic like the JVM console consumer, and say where reading starts and why.

The procedure's console-consumer pitfalls are made explicit here:

* Without a group nothing is committed, so running twice behaves the same: partitions are
  *assigned* (never subscribed) from start offsets computed now, from the watermarks.
* With a group, the group's committed offsets decide the start, and the plan says so; with
  ``--from-beginning`` the consumer really seeks to the beginning for this run instead of the
  option being silently ignored. What was shown is committed after it was written.
* "Caught up" (``exit_at_end``) compares the consumer's progress with the high watermark captured
  at start, and trusts librdkafka's partition-EOF events, so offset gaps (transaction markers,
  compacted or deleted records) cannot make it wait forever.

Nothing here prints: the caller renders :class:`StartPlan` and receives messages in batches.
"""

from __future__ import annotations

import base64
import gc
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kafkaops import text as wording
from kafkaops.adapters.kafka import client_config, metadata
from kafkaops.adapters.kafka import consumer as kafka_consumer
from kafkaops.errors import KafkaopsError, UsageError
from kafkaops.settings import Settings

BATCH = 1000  # messages per consume() call
POLL = 0.1  # seconds one consume() call may wait: the latency of a message arriving one by one
COMMIT_EVERY = 0.5  # seconds between (asynchronous) commits of what was shown; the last one is synchronous
JOIN_PATIENCE = 10.0  # seconds before saying that the group gave this consumer no partition yet


@dataclass(frozen=True)
class ConsumeRequest:
    topic: str
    group: str | None = None
    from_beginning: bool = False
    partition: int | None = None
    offset: int | str | None = None  # a number, "earliest" or "latest" (with partition)
    max_messages: int | None = None
    timeout: float | None = None  # stop after this many seconds without a message
    exit_at_end: bool = False


@dataclass(frozen=True)
class PartitionPlan:
    partition: int
    low: int  # oldest offset still kept
    high: int  # next offset to be written (the high watermark, captured at start)
    committed: int | None  # the group's committed offset, if any
    start: int  # where this run starts reading
    source: str  # latest | beginning | committed | offset | clamped

    @property
    def backlog(self) -> int:
        return max(self.high - self.start, 0)


@dataclass(frozen=True)
class StartPlan:
    topic: str
    group: str | None
    partitions: tuple[PartitionPlan, ...]
    notes: tuple[str, ...]  # why reading starts where it does, in the operator's words


@dataclass
class ConsumeResult:
    consumed: int = 0
    stopped_by: str = ""  # max-messages | end | timeout | interrupted | output-closed
    committed: dict[int, int] = field(default_factory=dict)  # partition -> offset committed for the group
    warnings: list[str] = field(default_factory=list)


class OutputClosed(Exception):
    """Raised by a sink when its reader went away (a closed pipe): stop, commit nothing more."""


# --- pure logic -----------------------------------------------------------------------------------


def _visible(names: Sequence[str]) -> list[str]:
    return [n for n in names if not n.startswith("__")]


def close_matches(name: str, names: Sequence[str]) -> list[str]:
    """The topics most like `name`, Kafka's internal ones left out."""
    return wording.close_matches(name, _visible(names))


def missing_topic(topic: str, names: Sequence[str], broker: str) -> UsageError:
    hint = wording.did_you_mean(topic, _visible(names))
    if not hint:
        hint = "list the topics with `kafkaops topics list`; create one with `kafkaops topics create`"
    return UsageError(f"topic {topic} does not exist on {broker}", hint=hint)


def validate(req: ConsumeRequest) -> None:
    if req.offset is not None and req.partition is None:
        raise UsageError("--offset needs --partition", hint="e.g. kafkaops consume --partition 0 --offset 42")
    if req.partition is not None and req.group:
        raise UsageError(
            "--partition reads one partition outside any group; it cannot be combined with --group",
            hint="drop --group to read a partition, or drop --partition to read as the group",
        )
    if req.offset is not None and req.from_beginning:
        raise UsageError("--offset and --from-beginning both choose where to start; give one", hint="--offset earliest is the beginning")
    if isinstance(req.offset, str) and req.offset not in ("earliest", "latest"):
        raise UsageError(f"--offset {req.offset!r} is not a number, 'earliest' or 'latest'")
    if isinstance(req.offset, int) and req.offset < 0:
        raise UsageError(f"--offset must be 0 or more (got {req.offset})")
    if req.max_messages is not None and req.max_messages < 1:
        raise UsageError(f"--max-messages must be at least 1 (got {req.max_messages})")
    if req.timeout is not None and req.timeout <= 0:
        raise UsageError(f"--timeout must be more than 0 seconds (got {req.timeout:g})")


def parse_offset(raw: str | None) -> int | str | None:
    if raw is None:
        return None
    raw = raw.strip().lower()
    if raw in ("earliest", "latest"):
        return raw
    try:
        return int(raw)
    except ValueError:
        raise UsageError(f"--offset {raw!r} is not a number, 'earliest' or 'latest'") from None


def _offsets(plans: Sequence[PartitionPlan], attr: str) -> str:
    if len(plans) == 1:
        return f"offset {getattr(plans[0], attr)}"
    return "offsets " + ", ".join(f"{p.partition}:{getattr(p, attr)}" for p in plans)


def plan_start(
    req: ConsumeRequest,
    watermarks: dict[int, tuple[int, int]],
    committed: dict[int, int | None],
) -> StartPlan:
    """Where each partition starts, and the notes that explain it. Pure: watermarks and commits are inputs."""
    notes: list[str] = []
    plans: list[PartitionPlan] = []
    parts = [req.partition] if req.partition is not None else sorted(watermarks)
    for p in parts:
        if p not in watermarks:
            raise UsageError(
                f"topic {req.topic} has no partition {p}",
                hint=f"its partitions are {', '.join(str(x) for x in sorted(watermarks))}",
            )
        low, high = watermarks[p]
        c = committed.get(p)
        if req.partition is not None:
            if req.offset == "earliest" or (req.offset is None and req.from_beginning):
                start, source = low, "beginning"
            elif req.offset is None or req.offset == "latest":
                start, source = high, "latest"
            else:
                assert isinstance(req.offset, int)
                if not low <= req.offset <= high:
                    raise UsageError(
                        f"offset {req.offset} is outside partition {p}'s offsets {low}..{high}",
                        hint=f"use an offset from {low} to {high}, or --offset earliest|latest",
                    )
                start, source = req.offset, "offset"
        elif req.group and c is not None:
            if req.from_beginning:
                start, source = low, "beginning"
            elif c < low:
                start, source = low, "clamped"
            elif c > high:
                start, source = high, "clamped"
            else:
                start, source = c, "committed"
        else:
            start, source = (low, "beginning") if req.from_beginning else (high, "latest")
        plans.append(PartitionPlan(p, low, high, c, start, source))

    if req.group:
        with_commits = [p for p in plans if p.committed is not None]
        if with_commits and req.from_beginning:
            notes.append(
                f"group {req.group} has committed offsets ({_offsets(with_commits, 'committed')}), "
                f"but --from-beginning was given: reading from the beginning ({_offsets(with_commits, 'start')}) for this run"
            )
        elif with_commits:
            notes.append(
                f"group {req.group} has committed offsets: reading from {_offsets(with_commits, 'start')}, not from the beginning"
                " (add --from-beginning to read everything)"
            )
            for plan in with_commits:
                if plan.source == "clamped":
                    why = "records before it were deleted" if plan.committed is not None and plan.committed < plan.low else "it is past the end"
                    notes.append(f"partition {plan.partition}: committed offset {plan.committed} no longer exists ({why}); reading from {plan.start}")
        without = [p for p in plans if p.committed is None]
        if without and not req.from_beginning:
            notes.append(
                f"group {req.group} has no committed offsets"
                + (f" for partition(s) {', '.join(str(p.partition) for p in without)}" if with_commits else "")
                + ": only messages that arrive from now on are shown (add --from-beginning for older ones)"
            )
    elif not req.from_beginning and req.partition is None:
        notes.append("reading only messages that arrive from now on (add --from-beginning for the ones already in the topic)")
    return StartPlan(req.topic, req.group, tuple(plans), tuple(notes))


def describe_ranges(plan: StartPlan) -> list[str]:
    """One line per partition: the offsets that exist and where this run starts."""
    lines = []
    for p in plan.partitions:
        kept = f"offsets {p.low}..{p.high - 1}" if p.high > p.low else f"empty (next offset {p.high})"
        lines.append(f"partition {p.partition}: {kept}; starting at {p.start} ({p.source}, {p.backlog} to read now)")
    return lines


# --- formatting (pure; used by the CLI's writers) -------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_decoder = json.JSONDecoder(parse_constant=_reject_constant)  # strict: NaN and Infinity are not JSON
_encode_str = json.encoder.encode_basestring_ascii  # type: ignore[attr-defined]  # C: a str as a JSON string
_iso_cache: dict[int, str] = {}


def _fast_json_parser() -> Callable[[bytes | str], Any] | None:
    """A fast strict JSON parser: orjson (a dependency of kafkaops), else pydantic-core's jiter when
    installed. Both reject NaN/Infinity and invalid UTF-8."""
    try:
        import orjson

        return orjson.loads  # type: ignore[no-any-return]
    except ImportError:
        pass
    try:
        from pydantic_core import from_json
    except ImportError:
        return None

    def jiter(data: bytes | str) -> Any:  # a def, not functools.partial: partial's keyword merge doubles the cost
        return from_json(data, allow_inf_nan=False, cache_strings="keys")

    return jiter


_fast_parse = _fast_json_parser()
try:
    from pydantic_core import from_json as _jiter
except ImportError:  # pydantic-core is optional: orjson is used
    _jiter = None  # type: ignore[assignment]
if _fast_parse is not None and getattr(_fast_parse, "__name__", "") != "jiter":
    _jiter = None  # orjson is installed: it is used instead


def parse_json(text: str) -> Any:
    """The JSON value of ``text``; ValueError when it is not (strict) JSON."""
    if _fast_parse is not None:
        try:
            return _fast_parse(text)
        except ValueError:
            pass  # the stdlib decides: it also accepts what the fast parsers refuse (lone surrogates)
    return _decoder.decode(text)


def decode_value(raw: bytes | None) -> tuple[Any, str | None, str | None]:
    """(value, format, json_text): format is json | text | base64 | None (a null value).

    json_text is the value's own JSON text on one line, ready to embed in a JSON line.
    """
    if raw is None:
        return None, None, None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode("ascii"), "base64", None
    try:
        value = parse_json(text)
    except ValueError:
        return text, "text", None
    return value, "json", _one_line(text)


def _one_line(text: str) -> str:
    # In valid JSON a raw CR or LF can only be whitespace between tokens (never inside a string).
    if "\n" in text or "\r" in text:
        return text.replace("\r", " ").replace("\n", " ")
    return text


def decode_key(raw: bytes | str | None) -> tuple[str | None, str | None]:
    if raw is None:
        return None, None
    if isinstance(raw, str):
        return raw, "text"
    try:
        return raw.decode("utf-8"), "text"
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode("ascii"), "base64"


def iso_ms(ms: int) -> str:
    iso = _iso_cache.get(ms)
    if iso is None:
        if len(_iso_cache) > 4096:
            _iso_cache.clear()
        iso = datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        _iso_cache[ms] = iso
    return iso


def decode_headers(headers: Sequence[tuple[str, bytes | None]] | None) -> list[tuple[str, str | None, str | None]]:
    """(key, value, value_format) per header, in the message's order (Kafka allows a key more than once).

    value_format is "text" (the value is UTF-8), "base64" (it is not: the value is its base64) or None
    (a null value), as for message keys. Header keys are strings in Kafka's protocol.
    """
    out: list[tuple[str, str | None, str | None]] = []
    for k, v in headers or ():
        value, fmt = decode_key(v)
        out.append((k, value, fmt))
    return out


def _headers_json(headers: Sequence[tuple[str, bytes | None]]) -> bytes:
    """Headers as a JSON list of {"key", "value", "value_format"} objects, in order."""
    items = [{"key": k, "value": v, "value_format": f} for k, v, f in decode_headers(headers)]
    return json.dumps(items, separators=(",", ":")).encode("ascii")


def header_line(key: str, value: str | None, value_format: str | None) -> str:
    """One header for a person: text quoted (as a JSON string, so a newline cannot break the line),
    binary marked as such with its base64, a null value as (null)."""
    if any(c < " " or c == "\x7f" for c in key):
        key = json.dumps(key, ensure_ascii=False)
    if value_format == "text":
        shown = json.dumps(value, ensure_ascii=False)
    elif value_format == "base64":
        shown = f"<binary, not UTF-8; base64> {value}"
    else:
        shown = "(null)"
    return f"header {key}: {shown}"


# Bytes that can stand inside a JSON string as they are: printable ASCII except '"' and '\\'.
_PLAIN = bytes(c for c in range(0x20, 0x7F) if c not in b'"\\')


def _is_json(raw: bytes) -> bool:
    """The stdlib's verdict (strict: no NaN/Infinity). It also accepts lone surrogates, which the fast parsers refuse."""
    try:
        _decoder.decode(raw.decode("utf-8"))
        return True
    except ValueError:
        return False


_LINE = b'{"topic":%b,"partition":%d,"offset":%d,"timestamp":%b,%b"headers":%b,"value":%b,"value_format":%b}\n'
_LINE_JSON = b'{"topic":%b,"partition":%d,"offset":%d,"timestamp":%b,%b"headers":[],"value":%b,"value_format":"json"}\n'


def _ts_json(ts: tuple[int, int]) -> bytes:
    return f'{ts[1]},"timestamp_iso":"{iso_ms(ts[1])}"'.encode("ascii") if ts[0] else b'null,"timestamp_iso":null'


def json_lines(messages: Sequence[Any], keys: bool = True, topic: str | None = None) -> bytes:
    """Messages as JSON lines (UTF-8): topic, partition, offset, timestamp (ms and ISO), key, headers, value.

    The value is the parsed JSON when it is JSON, else text, else base64 of the bytes; ``value_format``
    says which (json | text | base64 | null). The key is text or base64 (``key_format``); headers are a
    list, in order, of ``{"key": ..., "value": ..., "value_format": "text" | "base64" | null}``. This runs once per message, so it is written for speed:
    a value that is valid JSON is validated and embedded as its own bytes, never parsed into Python
    objects and dumped again; a plain ASCII key is embedded as it is. The common batch (one topic,
    JSON values, plain keys, no headers) is checked and written in bulk; any other goes message by message.
    """
    if messages and _fast_parse is not None:
        out = _json_lines_bulk(messages, keys, _fast_parse, topic)
        if out is not None:
            return out
    return _json_lines_each(messages, keys)


def _json_lines_bulk(messages: Sequence[Any], keys: bool, fast: Callable[[bytes], Any], topic: str | None = None) -> bytes | None:
    """The whole batch at once when every message takes the fast path; None when one does not.

    ``topic``: the one topic every message comes from, when the caller knows (a consumer of one topic).
    """
    if topic is None:
        topics = {m.topic() for m in messages}
        if len(topics) != 1:
            return None
        topic = topics.pop()
    rows = [(m.partition(), m.offset(), m.timestamp(), m.key(), m.value(), m.headers()) for m in messages]
    parts, offsets, stamps, ks, vs, hs = zip(*rows, strict=True)
    if None in vs or any(hs):
        return None
    try:
        if _jiter is not None:  # called directly: a wrapper per value costs as much as the parse
            jiter = _jiter
            for v in vs:
                jiter(v, allow_inf_nan=False, cache_strings="keys")
        else:
            for v in vs:
                fast(v)
    except ValueError:
        return None
    if keys:
        if b"".join([k for k in ks if k]).translate(None, _PLAIN):
            return None  # a key that needs escaping
        kjs = [b'"key":null,"key_format":null,' if k is None else b'"key":"' + k + b'","key_format":"text",' for k in ks]
    else:
        kjs = [b""] * len(vs)
    tj = _encode_str(topic).encode("ascii")
    cache: dict[tuple[int, int], bytes] = {}
    tjs = []
    for ts in stamps:
        j = cache.get(ts)
        if j is None:
            j = cache[ts] = _ts_json(ts)
        tjs.append(j)
    line = _LINE_JSON
    out = b"".join([line % (tj, p, o, t, k, v) for p, o, t, k, v in zip(parts, offsets, tjs, kjs, vs, strict=True)])
    if out.count(b"\n") != len(vs) or b"\r" in out:
        return None  # a value spread over lines: the per-message path puts it on one
    return out


def _json_lines_each(messages: Sequence[Any], keys: bool = True) -> bytes:
    enc = _encode_str
    plain = _PLAIN
    fast = _fast_parse
    slow = _is_json
    b64 = base64.b64encode
    out: list[bytes] = []
    append = out.append
    topic_json: dict[str, bytes] = {}
    last_ts: int | None = None
    ts_json = b'null,"timestamp_iso":null'
    no_key = b'"key":null,"key_format":null,' if keys else b""
    for m in messages:
        topic = m.topic()
        tj = topic_json.get(topic)
        if tj is None:
            tj = topic_json[topic] = enc(topic).encode("ascii")
        ts_type, ts = m.timestamp()
        if ts != last_ts:
            last_ts = ts
            ts_json = f'{ts},"timestamp_iso":"{iso_ms(ts)}"'.encode("ascii") if ts_type else b'null,"timestamp_iso":null'
        raw = m.value()
        if raw is None:
            vj, vf = b"null", b"null"
        else:
            if fast is not None:
                try:
                    fast(raw)  # strict: also fails on invalid UTF-8
                    ok = True
                except ValueError:
                    ok = slow(raw)
            else:
                ok = slow(raw)
            if ok:
                if b"\n" in raw or b"\r" in raw:  # in valid JSON a raw CR or LF is whitespace between tokens
                    raw = raw.replace(b"\r", b" ").replace(b"\n", b" ")
                vj, vf = raw, b'"json"'
            elif not raw.translate(None, plain):
                vj, vf = b'"' + raw + b'"', b'"text"'
            else:
                try:
                    vj, vf = enc(raw.decode("utf-8")).encode("ascii"), b'"text"'
                except UnicodeDecodeError:
                    vj, vf = b'"' + b64(raw) + b'"', b'"base64"'
        if keys:
            k = m.key()
            if k is None:
                kj = no_key
            elif not k.translate(None, plain):
                kj = b'"key":"' + k + b'","key_format":"text",'
            else:
                try:
                    kj = b'"key":' + enc(k.decode("utf-8")).encode("ascii") + b',"key_format":"text",'
                except UnicodeDecodeError:
                    kj = b'"key":"' + b64(k) + b'","key_format":"base64",'
        else:
            kj = b""
        hdrs = m.headers()
        hj = _headers_json(hdrs) if hdrs else b"[]"
        append(_LINE % (tj, m.partition(), m.offset(), ts_json, kj, hj, vj, vf))
    return b"".join(out)


def raw_lines(messages: Sequence[Any], keys: bool = False) -> bytes:
    """The value bytes, one message per line (a null value is an empty line); with keys: key TAB value."""
    if keys:
        return b"".join((m.key() or b"") + b"\t" + (m.value() or b"") + b"\n" for m in messages)
    return b"".join((m.value() or b"") + b"\n" for m in messages)


# --- the consumer ---------------------------------------------------------------------------------


def _kafka_error(exc: Exception, what: str) -> KafkaopsError:
    err = exc.args[0] if exc.args else None
    text = err.str() if err is not None and hasattr(err, "str") else str(exc)
    return KafkaopsError(f"{what}: {text}", hint="check the broker with `kafkaops status` or `kafkaops doctor`")


class ConsumerSession:
    """An open consumer for one topic with its start plan; :meth:`run` reads until a stop condition."""

    def __init__(self, settings: Settings, req: ConsumeRequest, consumer: Any, plan: StartPlan) -> None:
        self.settings = settings
        self.req = req
        self.consumer = consumer
        self.plan = plan
        self.result = ConsumeResult()
        self._next: dict[int, int] = {}  # partition -> offset after the last message shown
        self._committed: dict[int, int] = {}
        self._assigned: set[int] = set()
        self._ever_assigned = False
        self._targets: dict[int, int] = {p.partition: p.high for p in plan.partitions}
        self._done: set[int] = set()
        self._first_assignment = True

    # group mode: librdkafka calls these from inside consume()
    def _on_assign(self, consumer: Any, partitions: list[Any]) -> None:
        from confluent_kafka import OFFSET_INVALID

        starts = {p.partition: p.start for p in self.plan.partitions} if self._first_assignment else {}
        self._first_assignment = False
        for tp in partitions:
            tp.offset = starts.get(tp.partition, OFFSET_INVALID)  # invalid: the committed offset, else auto.offset.reset
            if tp.partition not in self._targets:
                try:
                    _, high = consumer.get_watermark_offsets(tp, timeout=5, cached=False)
                    self._targets[tp.partition] = high
                except Exception:  # noqa: BLE001 - it is only the end marker; without it the partition ends at EOF
                    self._targets[tp.partition] = 0
        consumer.assign(partitions)
        self._assigned = {tp.partition for tp in partitions}
        self._ever_assigned = True

    def _on_revoke(self, consumer: Any, partitions: list[Any]) -> None:
        self._commit([tp.partition for tp in partitions], asynchronous=False)
        self._assigned -= {tp.partition for tp in partitions}
        consumer.unassign()

    def _on_lost(self, consumer: Any, partitions: list[Any]) -> None:
        self._assigned -= {tp.partition for tp in partitions}
        consumer.unassign()

    def _commit(self, partitions: Sequence[int] | None = None, asynchronous: bool = True) -> None:
        if not self.req.group:
            return
        from confluent_kafka import KafkaException, TopicPartition

        todo = {p: o for p, o in self._next.items() if (partitions is None or p in partitions) and self._committed.get(p) != o}
        if not todo:
            return
        offsets = [TopicPartition(self.plan.topic, p, o) for p, o in todo.items()]
        try:
            self.consumer.commit(offsets=offsets, asynchronous=asynchronous)
        except KafkaException as exc:
            err = exc.args[0] if exc.args else exc
            self.result.warnings.append(f"could not commit offsets for group {self.req.group}: {getattr(err, 'str', lambda: err)()}")
            return
        self._committed.update(todo)
        self.result.committed.update(todo)

    def _caught_up(self) -> bool:
        """Every partition read up to the end captured at start (or librdkafka said EOF)."""
        if self.req.group and not self._ever_assigned:
            return False
        active = self._assigned if self.req.group else set(self._targets)
        pending = [p for p in active if p not in self._done]
        for p in pending:
            if self._next.get(p, -1) >= self._targets.get(p, 0):
                self._done.add(p)
        return all(p in self._done for p in active)

    def _recheck_positions(self) -> None:
        """When reading stalls short of the end: compare the consumer's position with the watermark."""
        from confluent_kafka import TopicPartition

        pending = [p for p in (self._assigned if self.req.group else self._targets) if p not in self._done]
        if not pending:
            return
        try:
            positions = self.consumer.position([TopicPartition(self.plan.topic, p) for p in pending])
        except Exception:  # noqa: BLE001 - best effort; EOF events remain the main signal
            return
        for tp in positions:
            if tp.offset >= 0 and tp.offset >= self._targets.get(tp.partition, 0):
                self._done.add(tp.partition)

    def _note_shown(self, batch: list[Any]) -> None:
        """The offset after the last message shown, per partition: from the end of the batch, stopping
        once every partition being read was seen (one step when a single partition is read)."""
        need = len(self._assigned) if self.req.group else len(self._targets)
        seen: dict[int, int] = {}
        for m in reversed(batch):
            p = m.partition()
            if p not in seen:
                seen[p] = m.offset() + 1
                if len(seen) >= need:
                    break
        self._next.update(seen)

    def _events(self, events: list[Any]) -> None:
        """Partition EOF (this partition is read to its end) and errors that come in the message stream."""
        from confluent_kafka import KafkaError

        for m in events:
            err = m.error()
            code = err.code()
            if code == KafkaError._PARTITION_EOF:
                if m.offset() >= self._targets.get(m.partition(), 0):
                    self._done.add(m.partition())
                continue
            if err.fatal() or code in (
                KafkaError.UNKNOWN_TOPIC_OR_PART,
                KafkaError.TOPIC_AUTHORIZATION_FAILED,
                KafkaError.GROUP_AUTHORIZATION_FAILED,
            ):
                raise KafkaopsError(f"reading {self.req.topic} failed: {err.str()}", hint="run `kafkaops doctor`")
            # transient (a broker connection dropped, ...): librdkafka retries by itself
            if err.str() not in self.result.warnings:
                self.result.warnings.append(err.str())

    def run(
        self,
        on_batch: Callable[[list[Any]], None],
        stop: threading.Event | None = None,
        notice: Callable[[str], None] | None = None,
    ) -> ConsumeResult:
        """Read until a stop condition; each batch goes to ``on_batch`` (which writes it), then is committed.

        Python's cyclic garbage collector is paused meanwhile: the loop makes no reference cycles, and
        the collector's passes over millions of short-lived objects cost a fifth of the throughput.
        """
        collecting = gc.isenabled()
        gc.disable()
        try:
            return self._run(on_batch, stop, notice or (lambda _: None))
        finally:
            if collecting:
                gc.enable()

    def _run(self, on_batch: Callable[[list[Any]], None], stop: threading.Event | None, notice: Callable[[str], None]) -> ConsumeResult:
        from confluent_kafka import KafkaException

        req, res = self.req, self.result
        consumer = self.consumer
        if req.exit_at_end:
            for p in self.plan.partitions:
                if p.start >= p.high:
                    self._done.add(p.partition)
        last_message = started = time.monotonic()
        last_recheck = last_message
        waited_for_group = False
        last_commit = 0.0
        remaining = req.max_messages
        while True:
            if stop is not None and stop.is_set():
                res.stopped_by = "interrupted"
                break
            if req.exit_at_end and self._caught_up():
                res.stopped_by = "end"
                break
            try:
                msgs = consumer.consume(num_messages=BATCH, timeout=POLL)
            except KafkaException as exc:
                raise _kafka_error(exc, f"reading {req.topic} failed") from None
            batch = [m for m in msgs if m.error() is None]
            if len(batch) != len(msgs):
                self._events([m for m in msgs if m.error() is not None])
            now = time.monotonic()
            if batch:
                if remaining is not None and len(batch) > remaining:
                    batch = batch[:remaining]
                try:
                    on_batch(batch)
                except OutputClosed:
                    res.stopped_by = "output-closed"
                    break
                self._note_shown(batch)
                res.consumed += len(batch)
                last_message = last_recheck = now
                if remaining is not None:
                    remaining -= len(batch)
                    if remaining <= 0:
                        res.stopped_by = "max-messages"
                        break
            elif req.group and not self._ever_assigned and not waited_for_group and now - started > JOIN_PATIENCE:
                waited_for_group = True
                notice(
                    f"no partition of {req.topic} assigned by group {req.group} after {JOIN_PATIENCE:g}s: the group "
                    "coordinator may be unavailable (run `kafkaops doctor`), or other members hold every partition"
                )
            elif req.exit_at_end and now - last_recheck > 1.0:
                self._recheck_positions()
                last_recheck = now
            if req.group and now - last_commit >= COMMIT_EVERY:
                self._commit()  # nothing to do when nothing new was shown
                last_commit = now
            if req.timeout is not None and now - last_message >= req.timeout:
                res.stopped_by = "timeout"
                break
        return res

    def close(self) -> None:
        try:
            self._commit(asynchronous=False)
        finally:
            with suppress(Exception):  # closing is best effort: the broker forgets a silent member anyway
                self.consumer.close()


def _watermarks(consumer: Any, topic: str, partitions: Sequence[int], timeout: float = 10.0) -> dict[int, tuple[int, int]]:
    from confluent_kafka import KafkaException, TopicPartition

    marks = {}
    for p in partitions:
        try:
            marks[p] = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout, cached=False)
        except KafkaException as exc:
            raise _kafka_error(exc, f"cannot read the offsets of {topic} partition {p}") from None
        if marks[p] is None:
            raise KafkaopsError(f"no answer for the offsets of {topic} partition {p} within {timeout:g}s", hint="run `kafkaops doctor`")
    return marks


def _committed(consumer: Any, topic: str, partitions: Sequence[int], timeout: float = 10.0) -> dict[int, int | None]:
    from confluent_kafka import KafkaException, TopicPartition

    try:
        tps = consumer.committed([TopicPartition(topic, p) for p in partitions], timeout=timeout)
    except KafkaException as exc:
        raise _kafka_error(exc, "cannot read the group's committed offsets") from None
    return {tp.partition: (tp.offset if tp.offset >= 0 else None) for tp in tps}


@contextmanager
def open_session(settings: Settings, req: ConsumeRequest) -> Iterator[ConsumerSession]:
    """Connect, check the topic exists, compute the start plan, and assign or subscribe.

    The session is closed on the way out: the group's offsets for what was shown committed
    (synchronously), then the consumer closed.
    """
    from confluent_kafka import TopicPartition

    validate(req)
    group = req.group or f"kafkaops-consume-{os.getpid()}-{uuid.uuid4().hex[:8]}"  # never joined, never committed
    conf = client_config(
        settings,
        **{
            "group.id": group,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest" if req.from_beginning else "latest",
            # Read-ahead: once librdkafka's queue holds queued.min.messages (100,000, its default) it
            # pauses fetching for fetch.queue.backoff.ms, 1 s by default: a consumer that drains the
            # queue fast would wait for that second over and over. 10 ms keeps it fed.
            "fetch.queue.backoff.ms": 10,
        },
    )
    consumer = kafka_consumer(settings, conf)  # bad settings: one readable error, exit 2
    session: ConsumerSession | None = None
    try:
        md = metadata(settings, timeout=5.0, client=consumer)
        topic = md.topics.get(req.topic)
        if topic is None or (topic.error is not None and not topic.partitions):
            raise missing_topic(req.topic, sorted(md.topics), settings.kafka_broker)
        parts = sorted(topic.partitions)
        marks = _watermarks(consumer, req.topic, parts if req.partition is None else [p for p in parts if p == req.partition] or parts)
        committed = _committed(consumer, req.topic, parts) if req.group else {}
        plan = plan_start(req, marks, committed)
        session = ConsumerSession(settings, req, consumer, plan)
        if req.group:
            consumer.subscribe([req.topic], on_assign=session._on_assign, on_revoke=session._on_revoke, on_lost=session._on_lost)
        else:
            consumer.assign([TopicPartition(req.topic, p.partition, p.start) for p in plan.partitions])
        yield session
    finally:
        if session is not None:
            session.close()
        else:
            consumer.close()
