"""Messages as text: JSON lines, raw values, and the pieces a person's view is made of (pure).

:func:`json_lines` runs once per message, so it is written for speed: a value that is valid JSON is
validated and embedded as its own bytes, never parsed into Python objects and dumped again.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from kafkaops.adapters.consumer import Message


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_decoder = json.JSONDecoder(parse_constant=_reject_constant)  # strict: NaN and Infinity are not JSON
_encode_str = json.encoder.encode_basestring_ascii  # type: ignore[attr-defined]  # C: a str as a JSON string
_iso_cache: dict[int, str] = {}


# orjson is a dependency of kafkaops (pyproject.toml): fast and strict (it rejects NaN/Infinity and invalid UTF-8).
_fast_parse: Callable[[bytes | str], Any] = orjson.loads


def parse_json(text: str) -> Any:
    """The JSON value of ``text``; ValueError when it is not (strict) JSON."""
    try:
        return _fast_parse(text)
    except ValueError:
        pass  # the stdlib decides: it also accepts what orjson refuses (lone surrogates)
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


def json_lines(messages: Sequence[Message], keys: bool = True, topic: str | None = None) -> bytes:
    """Messages as JSON lines (UTF-8): topic, partition, offset, timestamp (ms and ISO), key, headers, value.

    The value is the parsed JSON when it is JSON, else text, else base64 of the bytes; ``value_format``
    says which (json | text | base64 | null). The key is text or base64 (``key_format``); headers are a
    list, in order, of ``{"key": ..., "value": ..., "value_format": "text" | "base64" | null}``. This runs once per message, so it is written for speed:
    a value that is valid JSON is validated and embedded as its own bytes, never parsed into Python
    objects and dumped again; a plain ASCII key is embedded as it is. The common batch (one topic,
    JSON values, plain keys, no headers) is checked and written in bulk; any other goes message by message.
    """
    if messages:
        out = _json_lines_bulk(messages, keys, topic)
        if out is not None:
            return out
    return _json_lines_each(messages, keys)


def _json_lines_bulk(messages: Sequence[Message], keys: bool, topic: str | None = None) -> bytes | None:
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
    fast = _fast_parse
    try:
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


_NULL_TS = b'null,"timestamp_iso":null'


def _value_json(raw: bytes | None) -> tuple[bytes, bytes]:
    """(the value as JSON, its value_format as JSON): the JSON itself on one line, else text, else base64."""
    if raw is None:
        return b"null", b"null"
    try:
        _fast_parse(raw)  # strict: also fails on invalid UTF-8
        ok = True
    except ValueError:
        ok = _is_json(raw)
    if ok:
        if b"\n" in raw or b"\r" in raw:  # in valid JSON a raw CR or LF is whitespace between tokens
            raw = raw.replace(b"\r", b" ").replace(b"\n", b" ")
        return raw, b'"json"'
    if not raw.translate(None, _PLAIN):
        return b'"' + raw + b'"', b'"text"'
    try:
        return _encode_str(raw.decode("utf-8")).encode("ascii"), b'"text"'
    except UnicodeDecodeError:
        return b'"' + base64.b64encode(raw) + b'"', b'"base64"'


def _key_json(k: bytes) -> bytes:
    """A key that is not null, with its key_format: text, else base64."""
    if not k.translate(None, _PLAIN):
        return b'"key":"' + k + b'","key_format":"text",'
    try:
        return b'"key":' + _encode_str(k.decode("utf-8")).encode("ascii") + b',"key_format":"text",'
    except UnicodeDecodeError:
        return b'"key":"' + base64.b64encode(k) + b'","key_format":"base64",'


def _json_lines_each(messages: Sequence[Message], keys: bool = True) -> bytes:
    """Message by message: any topic, value, key or headers."""
    out: list[bytes] = []
    append = out.append
    topic_json: dict[str, bytes] = {}
    last_ts: int | None = None
    ts_json = _NULL_TS
    no_key = b'"key":null,"key_format":null,' if keys else b""
    for m in messages:
        topic = m.topic()
        tj = topic_json.get(topic)
        if tj is None:
            tj = topic_json[topic] = _encode_str(topic).encode("ascii")
        ts_type, ts = m.timestamp()
        if ts != last_ts:
            last_ts = ts
            ts_json = f'{ts},"timestamp_iso":"{iso_ms(ts)}"'.encode("ascii") if ts_type else _NULL_TS
        vj, vf = _value_json(m.value())
        k = m.key() if keys else None
        kj = no_key if k is None else _key_json(k)
        hdrs = m.headers()
        hj = _headers_json(hdrs) if hdrs else b"[]"
        append(_LINE % (tj, m.partition(), m.offset(), ts_json, kj, hj, vj, vf))
    return b"".join(out)


def raw_lines(messages: Sequence[Message], keys: bool = False) -> bytes:
    """The value bytes, one message per line (a null value is an empty line); with keys: key TAB value."""
    if keys:
        return b"".join((m.key() or b"") + b"\t" + (m.value() or b"") + b"\n" for m in messages)
    return b"".join((m.value() or b"") + b"\n" for m in messages)
