"""The event around each row (or the user's mapper), and events measured against the topic's limit."""

from __future__ import annotations

import importlib
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kafkaops.adapters import pipeline_sql
from kafkaops.adapters.producer import DEFAULT_MAX_MESSAGE_BYTES, max_event_bytes, record_size
from kafkaops.defaults import DEFAULT_BATCH_SIZE
from kafkaops.errors import KafkaopsError, UsageError
from kafkaops.procedures.db import TableRef
from kafkaops.settings import Settings

MIB = 1024 * 1024
SKIP_REASON = "event larger than the topic's max.message.bytes"


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
        self.ref = ref

    @property
    def sql_built(self) -> bool:
        """Whether PostgreSQL builds the whole event (no mapper): then it can also measure it."""
        return self.mapper is None

    def query(self) -> Any:
        """The batch query: (id as text, created_at as text, the event or the row's JSON)."""
        return pipeline_sql.batch_query(self.ref.schema, self.ref.name, self.ref.columns, envelope=self.mapper is None)

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

    def events(self, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """(key, created_at, value) per row of the batch query: the mapper's value when there is one (None: skip)."""
        if self.mapper is None:
            return rows
        value, ts_ms = self.value, int(time.time() * 1000)
        return [(key, created, value(int(key), payload, ts_ms)) for key, created, payload in rows]


def select_sql(ref: TableRef, envelope: bool = True) -> Any:
    """The batch query for ``ref`` (see :func:`kafkaops.adapters.pipeline_sql.batch_query`)."""
    return pipeline_sql.batch_query(ref.schema, ref.name, ref.columns, envelope)


# --- event sizes ---------------------------------------------------------------------------------


def topic_limit(settings: Settings, topic: str, client: Any = None) -> int:
    """The topic's max.message.bytes as the broker describes it (its own, or the broker's default);
    Kafka's default if it cannot be read (no describe permission)."""
    from kafkaops.adapters import kafka, kafka_configs

    try:
        for entry in kafka_configs.topic_configs(client if client is not None else kafka.admin(settings), topic, 10.0):
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
    builder = EventBuilder(pipeline_sql.database_name(conn), ref)
    largest = max_event_bytes(limit)
    found = pipeline_sql.event_sizes(conn, ref.schema, ref.name, ref.columns, builder.params(after, upper, rows, int(time.time() * 1000)))
    return [(i, n) for i, n in found if n > largest]
