"""produce --envelope debezium without services: Debezium's type encodings, the decimal bytes, the
envelope's and the key's shapes and schemas, and the options that go (or do not go) together.
(Real readers reading real events: tests/integration/test_produce_debezium.py.)"""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from kafkaops.errors import UsageError
from kafkaops.procedures import produce as proc
from kafkaops.procedures.db import TableRef
from kafkaops.procedures.produce.debezium import SOURCE_VERSION, DebeziumEventBuilder, StructKey, decimal_bytes, encoding, partitioner
from kafkaops.settings import load_settings

META = [("id", "int8", -1, True), ("price", "numeric", ((12 << 16) | 2) + 4, False), ("amount", "numeric", -1, False), ("at", "timestamptz", -1, True)]


class FakeConn:
    """Answers the two questions the builder asks PostgreSQL: the columns, and track_commit_timestamp."""

    def __init__(self, meta: list[tuple[str, str, int, bool]], commit_time: bool = False) -> None:
        self.meta, self.commit_time = meta, commit_time

    def execute(self, query: Any, params: Any = None) -> Any:
        rows = self.meta if "pg_attribute" in str(query) else [(self.commit_time,)]

        class Cursor:
            def fetchall(self) -> list[Any]:
                return rows

            def fetchone(self) -> Any:
                return rows[0]

        return Cursor()


def _builder(with_schema: bool = False) -> DebeziumEventBuilder:
    ref = TableRef("public", "items", {name: typ for name, typ, _m, _n in META})
    return DebeziumEventBuilder(FakeConn(META), "shop", ref, with_schema=with_schema)


@pytest.mark.parametrize(
    ("typname", "typmod", "name", "type_"),
    [
        ("int2", -1, None, "int16"),
        ("int4", -1, None, "int32"),
        ("int8", -1, None, "int64"),
        ("float4", -1, None, "float"),
        ("float8", -1, None, "double"),
        ("numeric", ((10 << 16) | 3) + 4, "org.apache.kafka.connect.data.Decimal", "bytes"),
        ("numeric", -1, "io.debezium.data.VariableScaleDecimal", "struct"),
        ("timestamp", -1, "io.debezium.time.MicroTimestamp", "int64"),
        ("timestamp", 3, "io.debezium.time.Timestamp", "int64"),
        ("timestamptz", -1, "io.debezium.time.ZonedTimestamp", "string"),
        ("date", -1, "io.debezium.time.Date", "int32"),
        ("time", -1, "io.debezium.time.MicroTime", "int64"),
        ("time", 0, "io.debezium.time.Time", "int32"),
        ("jsonb", -1, "io.debezium.data.Json", "string"),
        ("json", -1, "io.debezium.data.Json", "string"),
        ("uuid", -1, "io.debezium.data.Uuid", "string"),
        ("bytea", -1, None, "bytes"),
        ("money", -1, "org.apache.kafka.connect.data.Decimal", "bytes"),
        ("_int4", -1, None, "array"),
        ("_text", -1, None, "array"),
        ("_numeric", -1, None, "string"),  # not matched yet: its text
        ("inet", -1, None, "string"),  # not listed: its text
    ],
)
def test_debeziums_default_encodings(typname: str, typmod: int, name: str | None, type_: str) -> None:
    schema = encoding(typname, typmod).schema
    assert (schema.get("name"), schema["type"]) == (name, type_)


def test_decimal_parameters_and_zoned_width() -> None:
    assert encoding("numeric", ((10 << 16) | 3) + 4).schema["parameters"] == {"scale": "3", "connect.decimal.precision": "10"}
    assert encoding("money", -1).schema["parameters"] == {"scale": "2"}
    assert encoding("timestamptz", -1).width == 6 and encoding("timestamptz", 0).width == 0


@pytest.mark.parametrize(
    ("text", "scale", "unscaled", "java_bytes"),
    [  # java_bytes: new BigInteger(unscaled).toByteArray()
        ("1.27", 2, 127, b"\x7f"),
        ("1.28", 2, 128, b"\x00\x80"),
        ("-1.28", 2, -128, b"\x80"),
        ("-1.29", 2, -129, b"\xff\x7f"),
        ("0.00", 2, 0, b"\x00"),
    ],
)
def test_decimal_bytes_are_javas_two_complement(text: str, scale: int, unscaled: int, java_bytes: bytes) -> None:
    assert base64.b64decode(decimal_bytes(text, scale)) == java_bytes
    assert int.from_bytes(java_bytes, "big", signed=True) == unscaled


def test_variable_scale_decimal_strips_trailing_zeros_and_keeps_every_digit() -> None:
    assert decimal_bytes("1.500", None) == {"scale": 1, "value": base64.b64encode(b"\x0f").decode()}
    assert decimal_bytes("100", None) == {"scale": 0, "value": base64.b64encode(b"\x64").decode()}
    assert decimal_bytes("0.000", None) == {"scale": 0, "value": "AA=="}
    big = decimal_bytes("12345678901234567890.123456789000", None)  # 29 digits: more than Decimal's default context
    assert big["scale"] == 9
    assert int.from_bytes(base64.b64decode(big["value"]), "big", signed=True) == 12345678901234567890123456789
    assert decimal_bytes(None, 2) is None and decimal_bytes("NaN", None) is None and decimal_bytes("Infinity", 2) is None


def test_key_is_the_struct_and_still_the_row_id() -> None:
    key = _builder().key("5")
    assert key == '{"id":5}' and int(key) == 5 and isinstance(key, StructKey)
    schema_key = json.loads(_builder(with_schema=True).key("5"))
    assert schema_key == {
        "schema": {"type": "struct", "fields": [{"type": "int64", "optional": False, "field": "id"}], "optional": False, "name": "shop.public.items.Key"},
        "payload": {"id": 5},
    }


@pytest.mark.parametrize("typname", ["int2", "int4", "int8"])
def test_key_bytes_are_what_jsonconverter_writes_for_debeziums_key(typname: str) -> None:
    """JsonConverter (schemas.enable=false) writes Debezium's key struct as compact JSON, the id as a JSON
    number whatever its integer type: the same bytes, hence (murmur2) the same partition as Connect's."""
    meta = [("id", typname, -1, True), *META[1:]]
    b = DebeziumEventBuilder(FakeConn(meta), "shop", TableRef("public", "items", {name: typ for name, typ, _m, _n in meta}))
    assert [b.key(i).encode() for i in ("1", "-7", "9223372036854775807")] == [b'{"id":1}', b'{"id":-7}', b'{"id":9223372036854775807}']


def _conf(envelope: str, *x: str) -> dict[str, Any]:
    settings = load_settings({"client_x": list(x)}, env={"KAFKA_BROKER": "h:1", "KAFKAOPS_HOME": "/tmp/x"}, cwd=Path("/tmp"))
    return proc.producer_config(settings, 10.0, partitioner=partitioner(envelope))


def test_debeziums_envelope_partitions_as_connect_and_kafkaops_envelope_as_before() -> None:
    """Debezium's envelope: murmur2, Java's default partitioner (Connect's) for keyed messages; kafkaops's own
    keeps librdkafka's default (no setting: existing topics keep their keys' partitions); -X still wins."""
    assert _conf("debezium")["partitioner"] == "murmur2_random"
    assert "partitioner" not in _conf("kafkaops")
    assert _conf("debezium", "partitioner=consistent_random")["partitioner"] == "consistent_random"
    assert _conf("kafkaops", "partitioner=murmur2")["partitioner"] == "murmur2"


def test_the_event_is_debeziums_change_event() -> None:
    b = _builder()
    [(key, created, value)] = b.events([("7", None, '{"id":7,"price":"-1.29","amount":"1.500","at":"2026-01-01T00:00:00.000000Z"}', 912, None)])
    event = json.loads(value)
    assert (key, created) == ('{"id":7}', None)
    assert list(event) == ["before", "after", "source", "transaction", "op", "ts_ms", "ts_us", "ts_ns"]
    assert event["after"] == {"id": 7, "price": "/38=", "amount": {"scale": 1, "value": "Dw=="}, "at": "2026-01-01T00:00:00.000000Z"}
    assert (event["before"], event["op"], event["transaction"]) == (None, "c", None)
    assert event["ts_us"] == event["ts_ms"] * 1000 and event["ts_ns"] == event["ts_ms"] * 1000000
    source = event["source"]
    assert list(source) == ["version", "connector", "name", "ts_ms", "snapshot", "db", "sequence", "ts_us", "ts_ns", "schema", "table"] + [
        "txId",
        "lsn",
        "xmin",
        "origin",
        "origin_lsn",
    ]
    assert source["version"] == SOURCE_VERSION and source["connector"] == "postgresql" and source["name"] == source["db"] == "shop"
    assert (source["snapshot"], source["schema"], source["table"], source["txId"], source["lsn"]) == ("false", "public", "items", 912, None)
    assert source["ts_ms"] == event["ts_ms"]  # no commit time recorded: the read time


def test_commit_time_when_postgresql_records_it_and_op_u_for_rows_seen_before() -> None:
    b = _builder()
    rows = [("1", None, '{"id":1,"price":null,"amount":null,"at":"x"}', 5, 1700000000123), ("2", None, '{"id":2,"price":null,"amount":null,"at":"x"}', 6, None)]
    first, second = (json.loads(v) for _k, _c, v in b.events(rows, seen=[True, False]))
    assert first["source"]["ts_ms"] == 1700000000123 and first["source"]["ts_us"] == 1700000000123000
    assert (first["op"], second["op"]) == ("u", "c")


def test_with_schema_is_connects_schema_and_payload() -> None:
    event = json.loads(_builder(with_schema=True).value(7, '{"id":7,"price":"1.00","amount":"2","at":"x"}', 1))
    assert set(event) == {"schema", "payload"}
    schema = event["schema"]
    assert (schema["name"], schema["version"], schema["optional"]) == ("shop.public.items.Envelope", 2, False)
    fields = {f["field"]: f for f in schema["fields"]}
    assert list(fields) == ["before", "after", "source", "transaction", "op", "ts_ms", "ts_us", "ts_ns"]
    assert fields["after"]["name"] == "shop.public.items.Value" and fields["after"]["optional"]
    row = {f["field"]: f for f in fields["after"]["fields"]}
    assert row["id"] == {"type": "int64", "optional": False, "field": "id"}
    assert row["price"]["parameters"] == {"scale": "2", "connect.decimal.precision": "12"} and row["price"]["optional"]
    assert fields["source"]["name"] == "io.debezium.connector.postgresql.Source"
    assert [f["field"] for f in fields["source"]["fields"]][:6] == ["version", "connector", "name", "ts_ms", "snapshot", "db"]
    assert event["payload"]["after"]["price"] == "ZA=="


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"envelope": "avro"}, "--envelope must be one of kafkaops, debezium (got 'avro')"),
        ({"with_schema": True}, "--with-schema goes with --envelope debezium"),
        ({"envelope": "debezium", "mapper": "m:f"}, "--mapper and --envelope debezium cannot go together: the mapper builds the whole event"),
    ],
)
def test_options_that_do_not_go_together(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError) as exc:
        proc.validate(replace(proc.ProduceOptions(), **changes))
    assert exc.value.message == message


def test_the_default_is_kafkaops_own_envelope() -> None:
    opts = proc.ProduceOptions()
    assert (opts.envelope, opts.with_schema) == ("kafkaops", False)
    proc.validate(replace(opts, envelope="debezium", with_schema=True))


def test_a_long_struct_key_counts_in_the_events_size() -> None:
    """Regression: the quick size filter assumed keys of at most 20 digits; a --with-schema key is
    hundreds of bytes, so a value just under the limit with it went to Kafka's client unchecked."""
    import threading
    from pathlib import Path

    from kafkaops.errors import KafkaopsError
    from kafkaops.settings import load_settings

    settings = load_settings(env={"KAFKAOPS_HOME": "/tmp/x", "KAFKA_BROKER": "h:9"}, cwd=Path("/tmp"))
    ref = TableRef("public", "items", {"id": "int8"})
    run = proc.Run(settings, proc.ProduceOptions(topic="t"), None, ref, proc.EventBuilder("db", ref), proc.Hooks(), threading.Event(), limit=1000)
    run.tracker.producer = type("NoProducer", (), {"poll": lambda self, _t=0: 0, "flush": lambda self, _t=0: 0})()  # nothing before the row
    key = StructKey('{"schema":' + "s" * 670 + ',"payload":{"id":1}}', 1)  # 700 bytes
    with pytest.raises(KafkaopsError) as info:
        run.check_sizes([(key, None, "v" * 200)])  # 900 bytes with the key: over the topic's limit
    assert info.value.message.startswith("row id=1 of public.items is too large for topic t: its event is 900 bytes")
