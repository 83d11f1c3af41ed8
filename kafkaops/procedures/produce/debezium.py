"""``produce --envelope debezium``: each row as the change event Debezium's PostgreSQL connector writes
(3.6.1.Final, default settings: decimal.handling.mode=precise, time.precision.mode=adaptive,
binary.handling.mode=bytes), so that consumers written for Debezium read it unchanged.

The value is ``{before, after, source{...}, transaction, op, ts_ms, ts_us, ts_ns}`` and the key the
struct ``{"id":5}``; with ``--with-schema`` both are Kafka Connect's ``{schema, payload}`` form (what
JsonConverter writes with schemas.enable=true), the schemas named as Debezium names them:
``<server>.<schema>.<table>.Envelope`` / ``.Value`` / ``.Key`` (``<server>``: the database's name).
PostgreSQL encodes every column the way Debezium does (``kafkaops/adapters/debezium_sql.py``) except
numeric and money, whose unscaled value Python turns into the big-endian two's complement bytes
Connect's Decimal expects. The side-by-side table is in ``runbooks/producer.md``.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from kafkaops.adapters import debezium_sql, pipeline_sql
from kafkaops.adapters.producer import JAVA_PARTITIONER
from kafkaops.procedures.db import TableRef
from kafkaops.procedures.produce.events import EventBuilder

DEBEZIUM_VERSION = "3.6.1.Final"  # the Debezium release whose events these follow (checked against its sources)
SOURCE_VERSION = f"{DEBEZIUM_VERSION}-kafkaops"  # source.version: the format followed, and who wrote it
MONEY_SCALE = 2  # Debezium's money.fraction.digits default
DEFAULT_PRECISION = 6  # PostgreSQL's timestamp/time precision when none is declared
SNAPSHOT_VALUES = "true,first,first_in_data_collection,last_in_data_collection,last,false,incremental"


@dataclass(frozen=True)
class Encoding:
    """How one column goes into the event: ``kind`` says how PostgreSQL reads it (see
    ``debezium_sql``), ``schema`` is its Connect schema; numeric and money have a ``scale``
    (None: numeric without a declared scale, io.debezium.data.VariableScaleDecimal)."""

    kind: str
    schema: dict[str, Any]
    width: int = 0
    scale: int | None = None
    decimal: bool = False


def _logical(type_: str, name: str, **extra: Any) -> dict[str, Any]:
    return {"type": type_, "name": name, "version": 1, **extra}


_SIMPLE = {
    "int2": Encoding("plain", {"type": "int16"}),
    "int4": Encoding("plain", {"type": "int32"}),
    "int8": Encoding("plain", {"type": "int64"}),
    "oid": Encoding("plain", {"type": "int64"}),
    "bool": Encoding("plain", {"type": "boolean"}),
    "float4": Encoding("plain", {"type": "float"}),
    "float8": Encoding("plain", {"type": "double"}),
    "text": Encoding("plain", {"type": "string"}),
    "varchar": Encoding("plain", {"type": "string"}),
    "bpchar": Encoding("plain", {"type": "string"}),
    "name": Encoding("text", {"type": "string"}),
    "bytea": Encoding("bytes", {"type": "bytes"}),
    "json": Encoding("text", _logical("string", "io.debezium.data.Json")),
    "jsonb": Encoding("text", _logical("string", "io.debezium.data.Json")),
    "uuid": Encoding("text", _logical("string", "io.debezium.data.Uuid")),
    "date": Encoding("days", _logical("int32", "io.debezium.time.Date")),
    "money": Encoding(
        "money", _logical("bytes", "org.apache.kafka.connect.data.Decimal", parameters={"scale": str(MONEY_SCALE)}), scale=MONEY_SCALE, decimal=True
    ),
}


# one-dimensional arrays whose elements row_to_json already writes as Debezium does
_ARRAYS = {
    "_int2": "int16",
    "_int4": "int32",
    "_int8": "int64",
    "_bool": "boolean",
    "_float4": "float",
    "_float8": "double",
    "_text": "string",
    "_varchar": "string",
}
_SIMPLE.update({name: Encoding("plain", {"type": "array", "items": {"type": item, "optional": True}}) for name, item in _ARRAYS.items()})


def encoding(typname: str, typmod: int) -> Encoding:
    """Debezium's default encoding of a PostgreSQL type (``typmod``: its modifier, -1 if none);
    types not listed go as their text (a string)."""
    if typname in _SIMPLE:
        return _SIMPLE[typname]
    precision = typmod if typmod >= 0 else DEFAULT_PRECISION
    if typname == "numeric":
        if typmod < 0:  # no declared precision/scale: the scale travels with each value
            fields = [{"type": "int32", "optional": False, "field": "scale"}, {"type": "bytes", "optional": False, "field": "value"}]
            return Encoding("numeric", _logical("struct", "io.debezium.data.VariableScaleDecimal", doc="Variable scaled decimal", fields=fields), decimal=True)
        digits, scale = ((typmod - 4) >> 16) & 0xFFFF, (typmod - 4) & 0xFFFF
        params = {"scale": str(scale), "connect.decimal.precision": str(digits)}
        return Encoding("numeric", _logical("bytes", "org.apache.kafka.connect.data.Decimal", parameters=params), scale=scale, decimal=True)
    if typname == "timestamp":  # adaptive: up to ms precision in ms, else in µs
        if precision <= 3:
            return Encoding("millis", _logical("int64", "io.debezium.time.Timestamp"))
        return Encoding("micros", _logical("int64", "io.debezium.time.MicroTimestamp"))
    if typname == "time":
        if precision <= 3:
            return Encoding("time_millis", _logical("int32", "io.debezium.time.Time"))
        return Encoding("time_micros", _logical("int64", "io.debezium.time.MicroTime"))
    if typname == "timestamptz":
        return Encoding("zoned", _logical("string", "io.debezium.time.ZonedTimestamp"), width=precision)
    return Encoding("text", {"type": "string"})


def decimal_bytes(text: str | None, scale: int | None) -> Any:
    """A decimal's text as Debezium encodes it (None for NULL, and for NaN/Infinity, which precise
    mode cannot carry): base64 of the unscaled value's big-endian two's complement (Java's
    BigInteger.toByteArray()), as Connect's Decimal with ``scale``; with ``scale`` None, as
    VariableScaleDecimal ``{"scale": s, "value": ...}`` with trailing zeros stripped."""
    if text is None:
        return None
    whole, _dot, fraction = text.partition(".")
    if whole.lstrip("-").isdigit() and (not fraction or fraction.isdigit()):  # PostgreSQL's numeric text: [-]digits[.digits]
        unscaled, exp = int(whole + fraction), -len(fraction)
    else:  # NaN, Infinity (precise mode cannot carry them), or an exponent form
        try:
            value = Decimal(text)
        except InvalidOperation:
            return None
        if not value.is_finite():
            return None
        sign, digits, exponent = value.as_tuple()  # exact: Decimal's arithmetic would round to 28 digits
        unscaled, exp = int("".join(map(str, digits))) * (-1 if sign else 1), int(exponent)
    if scale is None:  # Debezium strips trailing zeros, and a negative scale becomes 0
        while unscaled and unscaled % 10 == 0 and exp < 0:
            unscaled, exp = unscaled // 10, exp + 1
        if not unscaled:
            exp = 0
    scale_of = max(-exp, 0) if scale is None else scale
    shift = exp + scale_of  # PostgreSQL gives a numeric(p, s) exactly s digits: 0 there
    if shift > 0:
        unscaled *= 10**shift
    elif shift < 0:  # more digits than the scale: cut toward zero, as BigDecimal.setScale(s, DOWN)
        unscaled = (abs(unscaled) // 10**-shift) * (-1 if unscaled < 0 else 1)
    bits = unscaled.bit_length() if unscaled >= 0 else (~unscaled).bit_length()
    encoded = base64.b64encode(unscaled.to_bytes(bits // 8 + 1, "big", signed=True)).decode()
    return encoded if scale is not None else {"scale": scale_of, "value": encoded}


_decode = json.JSONDecoder().decode


def partitioner(envelope: str) -> str | None:
    """The partitioner of ``produce --envelope ...`` (None: librdkafka's default, consistent_random).

    Debezium's envelope uses murmur2, as Kafka Connect's producer does: its key (``{"id":5}``, the
    bytes JsonConverter writes for Debezium's key) then goes to the partition Connect puts the same
    row in, so after ``cdc deploy --from-producer`` a row's update follows its insert. kafkaops's own
    envelope keeps librdkafka's default (CRC32): changing it would move the keys of existing topics.
    A partitioner the user set (-X partitioner=..., a profile) wins over both."""
    return JAVA_PARTITIONER if envelope == "debezium" else None


_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


class StructKey(str):
    """The key as Debezium writes it (``{"id":5}``, or its ``{schema, payload}`` form); ``int(key)``
    is still the row's id, which the run uses to name rows and move the offset."""

    row_id: int

    def __new__(cls, text: str, row_id: int) -> StructKey:
        key = super().__new__(cls, text)
        key.row_id = row_id
        return key

    def __int__(self) -> int:
        return self.row_id


@dataclass
class _Parts:
    """The fixed text of every event of one table, joined around each row's values."""

    key_head: str = ""
    key_tail: str = ""
    value_head: str = ""
    source_head: str = ""  # up to source.ts_ms
    source_mid: str = ""  # snapshot, db, sequence
    source_table: str = ""  # schema, table
    value_tail: str = ""
    decimals: list[tuple[str, int | None]] = field(default_factory=list)


class DebeziumEventBuilder(EventBuilder):
    """The Debezium change event around each row (no mapper). ``op`` is "c", or "u" for a row the
    caller says was sent before (``events(rows, seen)``)."""

    sql_built = False  # Python finishes each event (the decimals, the envelope): measured as it is sent

    def __init__(self, conn: Any, db: str, ref: TableRef, *, with_schema: bool = False) -> None:
        super().__init__(db, ref)
        meta = debezium_sql.columns(conn, ref.schema, ref.name)
        self.encodings = {col: encoding(typ, mod) for col, typ, mod, _nn in meta}
        self.with_schema = with_schema
        self.commit_time = debezium_sql.commit_timestamps(conn)
        specs = [(col, enc.kind, enc.width) for col, enc in self.encodings.items()]
        self._query = debezium_sql.batch_query(ref.schema, ref.name, specs, has_created_at="created_at" in ref.columns, commit_time=self.commit_time)
        self.parts = _parts(db, ref, meta, self.encodings, with_schema)

    def query(self) -> Any:
        return self._query

    def key(self, row_id: str) -> StructKey:
        return StructKey(f"{self.parts.key_head}{row_id}{self.parts.key_tail}", int(row_id))

    def encode(self, row_id: str, after: str, tx_id: int | None, commit_ms: int | None, read_ms: int, op: str = "c") -> str:
        """One event's value: ``after`` is the row's JSON as the batch query built it."""
        p = self.parts
        if p.decimals:
            row = _decode(after)
            for col, scale in p.decimals:
                row[col] = decimal_bytes(row[col], scale)
            after = _encode(row)
        at = read_ms if commit_ms is None else commit_ms
        tx = "null" if tx_id is None else str(tx_id)
        return (
            f'{p.value_head}"after":{after},{p.source_head}{at},{p.source_mid}"ts_us":{at * 1000},"ts_ns":{at * 1000000},{p.source_table}'
            f'"txId":{tx},"lsn":null,"xmin":null,"origin":null,"origin_lsn":null}},"transaction":null,"op":"{op}",'
            f'"ts_ms":{read_ms},"ts_us":{read_ms * 1000},"ts_ns":{read_ms * 1000000}{p.value_tail}'
        )

    def events(self, rows: list[tuple[Any, ...]], seen: Sequence[bool] | None = None) -> list[tuple[Any, ...]]:
        """(key, created_at, value) per row of the batch query; ``seen[i]``: row i was sent before (op "u")."""
        read_ms = int(time.time() * 1000)
        encode, key = self.encode, self.key
        return [(key(r[0]), r[1], encode(r[0], r[2], r[3], r[4], read_ms, "u" if seen is not None and seen[i] else "c")) for i, r in enumerate(rows)]

    def value(self, row_id: int, row_json: str, ts_ms: int) -> str | None:
        return self.encode(str(row_id), row_json, None, None, ts_ms)


def _field(col: str, enc: Encoding, optional: bool) -> dict[str, Any]:
    return {**enc.schema, "optional": optional, "field": col}


def _source_schema() -> dict[str, Any]:
    def f(field_name: str, type_: str, optional: bool = False, **extra: Any) -> dict[str, Any]:
        return {"type": type_, "optional": optional, **extra, "field": field_name}

    snapshot = f("snapshot", "string", True, name="io.debezium.data.Enum", version=1, parameters={"allowed": SNAPSHOT_VALUES}, default="false")
    fields = [f("version", "string"), f("connector", "string"), f("name", "string"), f("ts_ms", "int64"), snapshot, f("db", "string")]
    fields += [f("sequence", "string", True), f("ts_us", "int64", True), f("ts_ns", "int64", True), f("schema", "string"), f("table", "string")]
    fields += [f("txId", "int64", True), f("lsn", "int64", True), f("xmin", "int64", True), f("origin", "string", True), f("origin_lsn", "int64", True)]
    return {"type": "struct", "fields": fields, "optional": False, "name": "io.debezium.connector.postgresql.Source", "version": 1, "field": "source"}


def envelope_schema(server: str, ref: TableRef, meta: list[debezium_sql.ColumnMeta], encodings: dict[str, Encoding]) -> dict[str, Any]:
    """The value's Connect schema, as Debezium's PostgreSQL connector declares it for this table."""
    prefix = f"{server}.{ref.schema}.{ref.name}"
    row = [_field(col, encodings[col], not notnull) for col, _t, _m, notnull in meta]
    value = {"type": "struct", "fields": row, "optional": True, "name": f"{prefix}.Value"}
    block = [{"type": "string", "optional": False, "field": "id"}, {"type": "int64", "optional": False, "field": "total_order"}]
    block += [{"type": "int64", "optional": False, "field": "data_collection_order"}]
    fields = [{**value, "field": "before"}, {**value, "field": "after"}, _source_schema()]
    fields += [{"type": "struct", "fields": block, "optional": True, "name": "event.block", "version": 1, "field": "transaction"}]
    fields += [{"type": "string", "optional": False, "field": "op"}] + [{"type": "int64", "optional": True, "field": t} for t in ("ts_ms", "ts_us", "ts_ns")]
    return {"type": "struct", "fields": fields, "optional": False, "name": f"{prefix}.Envelope", "version": 2}


def key_schema(server: str, ref: TableRef, encodings: dict[str, Encoding]) -> dict[str, Any]:
    """The key's Connect schema: the primary key ``id``."""
    return {"type": "struct", "fields": [_field("id", encodings["id"], False)], "optional": False, "name": f"{server}.{ref.schema}.{ref.name}.Key"}


def _parts(db: str, ref: TableRef, meta: list[debezium_sql.ColumnMeta], encodings: dict[str, Encoding], with_schema: bool) -> _Parts:
    dump = json.dumps
    compact = {"separators": (",", ":"), "ensure_ascii": False}
    parts = _Parts(decimals=[(col, enc.scale) for col, enc in encodings.items() if enc.decimal])
    parts.key_head, parts.key_tail = '{"id":', "}"
    parts.value_head, parts.value_tail = '{"before":null,', "}"
    if with_schema:
        parts.key_head = '{"schema":' + dump(key_schema(db, ref, encodings), **compact) + ',"payload":' + parts.key_head  # type: ignore[arg-type]
        parts.key_tail += "}"
        parts.value_head = '{"schema":' + dump(envelope_schema(db, ref, meta, encodings), **compact) + ',"payload":' + parts.value_head  # type: ignore[arg-type]
        parts.value_tail += "}"
    parts.source_head = f'"source":{{"version":"{SOURCE_VERSION}","connector":"postgresql","name":{dump(db)},"ts_ms":'
    parts.source_mid = f'"snapshot":"false","db":{dump(db)},"sequence":null,'
    parts.source_table = f'"schema":{dump(ref.schema)},"table":{dump(ref.name)},'
    return parts


def event_builder(conn: Any, ref: TableRef, envelope: str, with_schema: bool, mapper: Any = None) -> EventBuilder:
    """The builder of a run's events: Debezium's change event, or kafkaops' own (or the mapper's)."""
    db = pipeline_sql.database_name(conn)
    if envelope == "debezium":
        return DebeziumEventBuilder(conn, db, ref, with_schema=with_schema)
    return EventBuilder(db, ref, mapper)
