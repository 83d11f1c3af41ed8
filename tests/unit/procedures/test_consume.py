"""Pure logic of kafkaops consume and groups: start plans, notes, the JSON line format, reset plans.

Messages here are small stand-ins with confluent_kafka.Message's read methods (these are unit tests
of formatting; the integration tests read real messages from a real broker).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field

import orjson
import pytest

from kafkaops.errors import UsageError
from kafkaops.procedures import consume as proc
from kafkaops.procedures.consume import encode
from kafkaops.procedures.groups import plan_rows


@dataclass
class Msg:
    _value: bytes | None
    _key: bytes | None = None
    _offset: int = 0
    _partition: int = 0
    _topic: str = "db_live_events"
    _ts: tuple[int, int] = (1, 1795885966314)
    _headers: list[tuple[str, bytes | None]] | None = field(default=None)

    def value(self) -> bytes | None:
        return self._value

    def key(self) -> bytes | None:
        return self._key

    def offset(self) -> int:
        return self._offset

    def partition(self) -> int:
        return self._partition

    def topic(self) -> str:
        return self._topic

    def timestamp(self) -> tuple[int, int]:
        return self._ts

    def headers(self) -> list[tuple[str, bytes | None]] | None:
        return self._headers


def req(**kw: object) -> proc.ConsumeRequest:
    return proc.ConsumeRequest(topic="t", **kw)  # type: ignore[arg-type]


# --- start plans --------------------------------------------------------------------------------


def test_no_group_starts_at_the_end_and_says_so() -> None:
    plan = proc.plan_start(req(), {0: (0, 120), 1: (5, 7)}, {})
    assert [(p.partition, p.start, p.source) for p in plan.partitions] == [(0, 120, "latest"), (1, 7, "latest")]
    assert plan.notes == ("reading only messages that arrive from now on (add --from-beginning for the ones already in the topic)",)


def test_no_group_from_beginning_starts_at_the_low_watermark() -> None:
    plan = proc.plan_start(req(from_beginning=True), {0: (40, 120)}, {})
    assert [(p.start, p.source, p.backlog) for p in plan.partitions] == [(40, "beginning", 80)]
    assert plan.notes == ()


def test_group_committed_offsets_decide_and_it_is_said() -> None:
    plan = proc.plan_start(req(group="g"), {0: (0, 150)}, {0: 120})
    assert plan.partitions[0].start == 120 and plan.partitions[0].source == "committed"
    assert plan.notes == ("group g has committed offsets: reading from offset 120, not from the beginning (add --from-beginning to read everything)",)


def test_group_from_beginning_really_seeks_and_says_so() -> None:
    plan = proc.plan_start(req(group="g", from_beginning=True), {0: (0, 150), 1: (3, 9)}, {0: 120, 1: 9})
    assert [(p.start, p.source) for p in plan.partitions] == [(0, "beginning"), (3, "beginning")]
    assert plan.notes == (
        "group g has committed offsets (offsets 0:120, 1:9), but --from-beginning was given: reading from the beginning (offsets 0:0, 1:3) for this run",
    )


def test_group_without_commits_reads_new_messages_only() -> None:
    plan = proc.plan_start(req(group="g"), {0: (0, 10), 1: (0, 4)}, {0: 6, 1: None})
    assert [(p.start, p.source) for p in plan.partitions] == [(6, "committed"), (4, "latest")]
    assert (
        plan.notes[-1]
        == "group g has no committed offsets for partition(s) 1: only messages that arrive from now on are shown (add --from-beginning for older ones)"
    )


def test_a_committed_offset_that_was_deleted_is_clamped_and_explained() -> None:
    plan = proc.plan_start(req(group="g"), {0: (50, 80)}, {0: 10})
    assert (plan.partitions[0].start, plan.partitions[0].source) == (50, "clamped")
    assert "partition 0: committed offset 10 no longer exists (records before it were deleted); reading from 50" in plan.notes


def test_partition_and_offset() -> None:
    marks = {0: (0, 10), 1: (2, 30)}
    assert proc.plan_start(req(partition=1, offset=7), marks, {}).partitions == (proc.PartitionPlan(1, 2, 30, None, 7, "offset"),)
    assert proc.plan_start(req(partition=1, offset="earliest"), marks, {}).partitions[0].start == 2
    assert proc.plan_start(req(partition=1), marks, {}).partitions[0].start == 30
    with pytest.raises(UsageError, match=r"offset 31 is outside partition 1's offsets 2\.\.30"):
        proc.plan_start(req(partition=1, offset=31), marks, {})
    with pytest.raises(UsageError, match="topic t has no partition 5"):
        proc.plan_start(req(partition=5), marks, {})


def test_describe_ranges() -> None:
    plan = proc.plan_start(req(from_beginning=True), {0: (4, 10), 1: (7, 7)}, {})
    assert proc.describe_ranges(plan) == [
        "partition 0: offsets 4..9; starting at 4 (beginning, 6 to read now)",
        "partition 1: empty (next offset 7); starting at 7 (beginning, 0 to read now)",
    ]


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"offset": 3}, "--offset needs --partition"),
        ({"partition": 0, "group": "g"}, "--partition reads one partition outside any group"),
        ({"partition": 0, "offset": 3, "from_beginning": True}, "--offset and --from-beginning both choose"),
        ({"max_messages": 0}, "--max-messages must be at least 1"),
        ({"timeout": 0.0}, "--timeout must be more than 0 seconds"),
        ({"isolation": "committed"}, "--isolation must be read_committed or read_uncommitted"),
    ],
)
def test_bad_combinations_are_usage_errors(kw: dict, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        proc.validate(req(**kw))


def test_parse_offset() -> None:
    assert proc.parse_offset("42") == 42
    assert proc.parse_offset("Earliest") == "earliest"
    assert proc.parse_offset(None) is None
    with pytest.raises(UsageError):
        proc.parse_offset("soon")


def test_missing_topic_names_close_matches_and_hides_internal_topics() -> None:
    err = proc.missing_topic("db_live_event", ["db_live_events", "__consumer_offsets", "other"], "localhost:9092")
    assert err.message == "topic db_live_event does not exist on localhost:9092"
    assert err.hint == "did you mean db_live_events?"
    assert err.exit_code == 2
    none = proc.missing_topic("zzz", ["db_live_events"], "b:1")
    assert none.hint is not None and "kafkaops topics list" in none.hint
    assert proc.close_matches("consumer_offsets", ["__consumer_offsets"]) == []


# --- JSON lines -----------------------------------------------------------------------------------


def parse(out: bytes) -> list[dict]:
    text = out.decode("utf-8")
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def test_json_line_has_every_field() -> None:
    [rec] = parse(proc.json_lines([Msg(b'{"id": 1}', b"k", 7, 2)]))
    assert rec == {
        "topic": "db_live_events",
        "partition": 2,
        "offset": 7,
        "timestamp": 1795885966314,
        "timestamp_iso": "2026-11-28T17:12:46.314Z",
        "key": "k",
        "key_format": "text",
        "headers": [],
        "value": {"id": 1},
        "value_format": "json",
    }


ODD = [
    (b"plain text", "plain text", "text"),
    (b'text with "quotes" and \\ and \t tab', 'text with "quotes" and \\ and \t tab', "text"),
    ("caf\u00e9 \u2028".encode(), "caf\u00e9 \u2028", "text"),
    (b"\x00\xff\xfe binary", base64.b64encode(b"\x00\xff\xfe binary").decode(), "base64"),
    (b'"\xff"', base64.b64encode(b'"\xff"').decode(), "base64"),  # JSON-looking but not UTF-8
    (b"NaN", "NaN", "text"),
    (b"Infinity", "Infinity", "text"),
    (b'{"a": 1,}', '{"a": 1,}', "text"),
    (b"", "", "text"),
    (b"42", 42, "json"),
    (b'"a string"', "a string", "json"),
    (b'{\n  "multi": "line"\r\n}\n', {"multi": "line"}, "json"),
    (b'"\\ud800"', "\ud800", "json"),  # a lone surrogate escape: valid JSON text (the fast parsers refuse it)
    (b"null", None, "json"),
    (None, None, None),
]


@pytest.mark.parametrize(("raw", "value", "fmt"), ODD)
def test_odd_values_are_shown_safely(raw: bytes | None, value: object, fmt: str | None) -> None:
    [rec] = parse(proc.json_lines([Msg(raw)]))
    assert (rec["value"], rec["value_format"]) == (value, fmt)


def test_a_batch_of_odd_values_gives_one_line_each_in_order() -> None:
    msgs = [Msg(raw, _offset=i) for i, (raw, _, _) in enumerate(ODD)]
    msgs += [Msg(b'{"ok": true}', b"key", len(ODD) + i) for i in range(3)]
    recs = parse(proc.json_lines(msgs))
    assert [r["offset"] for r in recs] == list(range(len(ODD) + 3))
    assert [(r["value"], r["value_format"]) for r in recs[: len(ODD)]] == [(v, f) for _, v, f in ODD]


def test_the_bulk_path_and_the_per_message_path_agree() -> None:
    msgs = [Msg(b'{"id": %d, "s": "x"}' % i, b"%d" % i, i, _ts=(1, 1795885966314 + i // 3)) for i in range(50)]
    assert encode._fast_parse is orjson.loads  # orjson is a dependency: the bulk path is what runs
    bulk = encode._json_lines_bulk(msgs, True)
    assert bulk is not None
    assert bulk == encode._json_lines_each(msgs, True)
    assert proc.json_lines(msgs, keys=False) == encode._json_lines_each(msgs, False)
    assert "key" not in parse(proc.json_lines(msgs, keys=False))[0]


@pytest.mark.parametrize(
    "odd",
    [
        Msg(b'{"a": 1}', b'needs "escaping"'),
        Msg(b'{"a": 1}', b"\xff\x00"),
        Msg(b'{"a": 1}', _headers=[("h", b"v")]),
        Msg(b'{"a": 1}', _topic="other"),
        Msg(b"[1,\n2]"),
        Msg(None),
        Msg(b"not json"),
    ],
)
def test_a_batch_with_one_odd_message_leaves_the_bulk_path_and_stays_correct(odd: Msg) -> None:
    msgs = [Msg(b'{"a": 1}', b"k", 0), odd]
    recs = parse(proc.json_lines(msgs))
    assert len(recs) == 2
    assert parse(encode._json_lines_each(msgs)) == recs


def header_bytes(header: dict) -> bytes | None:
    """What a script does to get a header's bytes back from a JSON line."""
    if header["value_format"] is None:
        return None
    return base64.b64decode(header["value"]) if header["value_format"] == "base64" else header["value"].encode("utf-8")


def test_keys_and_headers_that_are_not_utf8() -> None:
    [rec] = parse(proc.json_lines([Msg(b"{}", b"\xff\x00", _headers=[("source", b"db"), ("bin", b"\xff"), ("none", None)])]))
    assert (rec["key"], rec["key_format"]) == ("/wA=", "base64")
    assert rec["headers"] == [
        {"key": "source", "value": "db", "value_format": "text"},
        {"key": "bin", "value": "/w==", "value_format": "base64"},
        {"key": "none", "value": None, "value_format": None},
    ]


def test_a_text_header_that_looks_like_base64_is_told_from_a_binary_one() -> None:
    [rec] = parse(proc.json_lines([Msg(b"{}", _headers=[("a", b"base64:aGk="), ("b", b"\xff\x80")])]))
    assert rec["headers"] == [
        {"key": "a", "value": "base64:aGk=", "value_format": "text"},
        {"key": "b", "value": "/4A=", "value_format": "base64"},
    ]
    assert [header_bytes(h) for h in rec["headers"]] == [b"base64:aGk=", b"\xff\x80"]


def test_duplicate_header_keys_and_odd_header_values_keep_their_order() -> None:
    hdrs = [("trace", b"1"), ("trace", b"2"), ("trace", None), ("e", b""), ("q", b'say "hi"\n\tthen \\ go'), ("u", "caf\u00e9".encode())]
    [rec] = parse(proc.json_lines([Msg(b'{"a": 1}', b"k", _headers=hdrs)]))
    assert rec["headers"] == [
        {"key": "trace", "value": "1", "value_format": "text"},
        {"key": "trace", "value": "2", "value_format": "text"},
        {"key": "trace", "value": None, "value_format": None},
        {"key": "e", "value": "", "value_format": "text"},
        {"key": "q", "value": 'say "hi"\n\tthen \\ go', "value_format": "text"},
        {"key": "u", "value": "caf\u00e9", "value_format": "text"},
    ]
    assert [(h["key"], header_bytes(h)) for h in rec["headers"]] == hdrs


def test_headers_take_the_per_message_path_and_both_paths_agree() -> None:
    msgs = [Msg(b'{"id": %d}' % i, b"k", i, _headers=[("n", b"%d" % i)] if i % 2 else None) for i in range(6)]
    assert encode._fast_parse is orjson.loads
    assert encode._json_lines_bulk(msgs, True) is None  # headers: never the bulk path
    assert encode._json_lines_bulk(msgs[::2], True) == encode._json_lines_each(msgs[::2], True)
    assert proc.json_lines(msgs) == encode._json_lines_each(msgs)
    recs = parse(proc.json_lines(msgs))
    assert [r["headers"] for r in recs[:2]] == [[], [{"key": "n", "value": "1", "value_format": "text"}]]
    assert proc.json_lines(msgs[::2]).count(b'"headers":[]') == 3  # no headers: an empty list, as before


def test_no_timestamp_is_null() -> None:
    [rec] = parse(proc.json_lines([Msg(b"1", _ts=(0, -1))]))
    assert rec["timestamp"] is None and rec["timestamp_iso"] is None


def test_raw_lines() -> None:
    msgs = [Msg(b"a", b"k1"), Msg(None), Msg(b"\xff", None)]
    assert proc.raw_lines(msgs) == b"a\n\n\xff\n"
    assert proc.raw_lines(msgs, keys=True) == b"k1\ta\n\t\n\t\xff\n"


def test_decode_value_for_pretty() -> None:
    assert proc.decode_value(b'{"a": [1]}')[:2] == ({"a": [1]}, "json")
    assert proc.decode_value(b"hi")[:2] == ("hi", "text")
    assert proc.decode_value(b"\xff")[:2] == ("/w==", "base64")
    assert proc.decode_value(None) == (None, None, None)


# --- group reset plans -------------------------------------------------------------------------------


def test_reset_rows() -> None:
    low, high = {("t", 0): 5, ("t", 1): 0}, {("t", 0): 50, ("t", 1): 10}
    current = {("t", 0): 20, ("t", 1): None}
    tps = [("t", 0), ("t", 1)]
    assert [(r.topic, r.partition, r.current, r.new) for r in plan_rows("earliest", None, tps, current, low, high)] == [("t", 0, 20, 5), ("t", 1, None, 0)]
    assert [r.new for r in plan_rows("latest", None, tps, current, low, high)] == [50, 10]
    rows = plan_rows("offset", 30, tps, current, low, high)
    assert [(r.new, r.note) for r in rows] == [(30, ""), (10, "30 is past the end 10: using 10")]
    assert plan_rows("offset", 1, tps[:1], current, low, high)[0].note == "1 is older than the oldest kept offset 5: using 5"


def test_a_negative_offset_is_clamped_to_the_oldest_kept_like_kafkas_tool() -> None:
    rows = plan_rows("offset", -1, [("a", 0), ("b", 0)], {("a", 0): 4, ("b", 0): None}, {("a", 0): 0, ("b", 0): 7}, {("a", 0): 10, ("b", 0): 9})
    assert [(r.topic, r.new, r.note) for r in rows] == [
        ("a", 0, "-1 is older than the oldest kept offset 0: using 0"),
        ("b", 7, "-1 is older than the oldest kept offset 7: using 7"),
    ]


def test_a_topic_given_by_the_caller_skips_the_per_message_check() -> None:
    msgs = [Msg(b'{"id": %d}' % i, b"k", i) for i in range(5)]
    assert proc.json_lines(msgs, topic="db_live_events") == proc.json_lines(msgs) == encode._json_lines_each(msgs)
    mixed = [Msg(b"1"), Msg(b"2", _topic="other")]
    assert [r["topic"] for r in parse(proc.json_lines(mixed))] == ["db_live_events", "other"]


# --- progress: the end, and what the group commits ---------------------------------------------------


def test_caught_up_when_every_partition_reached_its_end_captured_at_start() -> None:
    from kafkaops.adapters.consumer import PartitionOffset
    from kafkaops.procedures.consume.progress import ReadProgress

    plan = proc.plan_start(req(from_beginning=True), {0: (0, 3), 1: (5, 5), 2: (0, 10)}, {})
    progress = ReadProgress(plan, grouped=False)
    progress.skip_read_ones(plan)  # partition 1 is empty: nothing to read
    assert progress.pending() == [0, 2] and not progress.caught_up()
    progress.note_shown([Msg(b"1", _offset=0), Msg(b"1", _offset=2), Msg(b"1", _offset=4, _partition=2)])
    assert progress.shown == {0: 3, 2: 5}
    assert progress.caught_up() is False and progress.pending() == [2]
    progress.note_end(2, 9)  # an end event short of the end captured at start does not count
    assert not progress.caught_up()
    progress.note_positions([PartitionOffset(2, -1001)])  # no position yet
    assert not progress.caught_up()
    progress.note_positions([PartitionOffset(2, 10)])  # past a gap (a transaction marker): done
    assert progress.caught_up()


def test_a_group_is_not_caught_up_before_its_first_assignment() -> None:
    from kafkaops.procedures.consume.progress import ReadProgress

    plan = proc.plan_start(req(group="g", from_beginning=True), {0: (0, 0)}, {0: None})
    progress = ReadProgress(plan, grouped=True)
    progress.skip_read_ones(plan)
    assert not progress.caught_up()
    progress.assign([0])
    assert progress.caught_up()
    progress.unassign([0])
    assert progress.pending() == [] and progress.ever_assigned


class _Committer:
    """A stand-in for TopicConsumer.commit: records each call, fails when told."""

    def __init__(self, fail: str | None = None) -> None:
        self.calls: list[tuple[dict[int, int], bool]] = []
        self.fail = fail

    def commit(self, offsets: dict[int, int], asynchronous: bool) -> str | None:
        self.calls.append((dict(offsets), asynchronous))
        return self.fail


def test_the_group_commits_what_was_shown_once_and_a_failure_is_a_warning() -> None:
    from kafkaops.procedures.consume.progress import ConsumeResult, GroupCommitter, ReadProgress

    plan = proc.plan_start(req(group="g"), {0: (0, 9), 1: (0, 9)}, {0: None, 1: None})
    progress, result, consumer = ReadProgress(plan, grouped=True), ConsumeResult(), _Committer()
    committer = GroupCommitter(consumer, "g", progress, result)  # type: ignore[arg-type]
    committer.commit()
    assert consumer.calls == []  # nothing shown: nothing to commit
    progress.shown.update({0: 4, 1: 2})
    committer.commit([0], asynchronous=False)
    committer.commit()
    committer.commit()
    assert consumer.calls == [({0: 4}, False), ({1: 2}, True)]
    assert result.committed == {0: 4, 1: 2}
    failing = GroupCommitter(_Committer("Broker: Not coordinator"), "g", progress, ConsumeResult())  # type: ignore[arg-type]
    failing.commit()
    assert failing.result.warnings == ["could not commit offsets for group g: Broker: Not coordinator"] and failing.result.committed == {}
    without_group = _Committer()
    GroupCommitter(without_group, None, progress, ConsumeResult()).commit()  # type: ignore[arg-type]
    assert without_group.calls == []


@dataclass
class _Err:
    """A stand-in for confluent_kafka.KafkaError's read methods."""

    _name: str
    _fatal: bool = False

    def name(self) -> str:
        return self._name

    def fatal(self) -> bool:
        return self._fatal

    def str(self) -> str:
        return f"Broker: {self._name}"


@dataclass
class _ErrMsg:
    _err: _Err
    _partition: int = 0
    _offset: int = 7

    def error(self) -> _Err:
        return self._err

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset


@pytest.mark.parametrize(
    ("err", "kind"),
    [
        (_Err("_PARTITION_EOF"), "end"),
        (_Err("UNKNOWN_TOPIC_OR_PART"), "fatal"),
        (_Err("TOPIC_AUTHORIZATION_FAILED"), "fatal"),
        (_Err("GROUP_AUTHORIZATION_FAILED"), "fatal"),
        (_Err("_TRANSPORT", _fatal=True), "fatal"),
        (_Err("_TRANSPORT"), "transient"),
        (_Err("_ALL_BROKERS_DOWN"), "transient"),
    ],
)
def test_errors_in_the_message_stream_are_classified(err: _Err, kind: str) -> None:
    from kafkaops.adapters.consumer import StreamEvent, classify

    assert classify(_ErrMsg(err, 3, 7)) == StreamEvent(kind, 3, 7, f"Broker: {err.name()}")  # type: ignore[arg-type]


def test_the_session_ends_a_partition_on_its_end_event_warns_once_and_stops_on_a_fatal_error() -> None:
    from kafkaops.adapters.consumer import StreamEvent
    from kafkaops.errors import KafkaopsError
    from kafkaops.procedures.consume.session import ConsumerSession

    r = req(from_beginning=True)
    session = ConsumerSession(None, r, _Committer(), proc.plan_start(r, {0: (0, 7)}, {}))  # type: ignore[arg-type]
    session._events([StreamEvent("end", 0, 7, "eof"), StreamEvent("transient", 0, 7, "down"), StreamEvent("transient", 0, 7, "down")])
    assert session.progress.caught_up() and session.result.warnings == ["down"]
    with pytest.raises(KafkaopsError, match="reading t failed: Broker: gone"):
        session._events([StreamEvent("fatal", 0, 7, "Broker: gone")])


# --- --from / --until ---------------------------------------------------------------------------


def test_from_starts_at_the_first_offset_at_or_after_the_time_and_says_why() -> None:
    plan = proc.plan_start(req(from_time=1717000000000), {0: (0, 6), 1: (0, 3)}, {}, {0: 1, 1: None})
    assert [(p.start, p.source) for p in plan.partitions] == [(1, "time"), (3, "end")]
    assert plan.notes == (
        "partition 0: first message at or after 2024-05-29T16:26:40.000Z is offset 1",
        "partition 1: no message at or after 2024-05-29T16:26:40.000Z: starting at the end (offset 3)",
    )


def test_from_wins_over_a_groups_committed_offsets_for_this_run_and_says_so() -> None:
    plan = proc.plan_start(req(group="g", from_time=0), {0: (0, 6)}, {0: 5}, {0: 2})
    assert plan.partitions[0].start == 2
    assert plan.notes[0] == "group g has committed offsets (offset 5), but --from was given: starting by time for this run"
    assert proc.plan_start(req(partition=0, from_time=0), {0: (0, 6), 1: (0, 9)}, {}, {0: 4}).partitions[0].start == 4


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"from_time": 5, "from_beginning": True}, "--from and --from-beginning both choose where to start; give one"),
        ({"from_time": 5, "partition": 0, "offset": 3}, "--from and --offset both choose where to start; give one"),
        ({"from_time": 5, "until_time": 4}, r"--until \(1970-01-01T00:00:00.004Z\) is before --from \(1970-01-01T00:00:00.005Z\)"),
    ],
)
def test_contradicting_time_options_are_usage_errors(kw: dict, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        proc.validate(req(**kw))


class _TimedConsumer(_Committer):
    """A stand-in for TopicConsumer that hands out prepared batches and records pauses."""

    def __init__(self, batches: list[list[Msg]]) -> None:
        super().__init__()
        self.batches = batches
        self.paused: list[int] = []

    def consume(self, count: int, timeout: float) -> tuple[list[Msg], list]:
        return (self.batches.pop(0) if self.batches else []), []

    def pause(self, partitions: list[int]) -> None:
        self.paused += partitions

    def positions(self, partitions: list[int]) -> list:
        return []

    ends: dict[int, int] = {}  # noqa: RUF012 - the ends watermarks() reports now (none: as at the start)

    def watermarks(self, partitions: list[int], timeout: float = 10.0) -> dict:
        from kafkaops.adapters.kafka import Watermark

        return {p: Watermark(p, 0, self.ends[p]) for p in partitions if p in self.ends}


def test_until_stops_each_partition_at_its_first_message_after_the_time() -> None:
    from kafkaops.procedures.consume.session import ConsumerSession

    r = req(from_time=0, until_time=4000)
    plan = proc.plan_start(r, {0: (0, 9), 1: (0, 9)}, {}, {0: 1, 1: 6})
    p0 = [Msg(b"%d" % o, _offset=o, _ts=(1, o * 1000)) for o in range(1, 9)]
    p1 = [Msg(b"x", _offset=o, _partition=1, _ts=(1, 3000 + o)) for o in (6, 7)] + [Msg(b"late", _offset=8, _partition=1, _ts=(0, -1))]
    consumer = _TimedConsumer([p0[:3] + p1[:1], p0[3:] + p1[1:]])
    shown: list[tuple[int, int]] = []
    session = ConsumerSession(None, r, consumer, plan)  # type: ignore[arg-type]
    result = session.run(lambda batch: shown.extend((m.partition(), m.offset()) for m in batch))
    # partition 0: ts 1000..4000 shown, 5000 passes the time; partition 1: no timestamp never passes, its end ends it
    assert shown == [(0, 1), (0, 2), (0, 3), (1, 6), (0, 4), (1, 7), (1, 8)]
    assert result.stopped_by == "until" and consumer.paused == [0]
    assert session.progress.passed == {0}


def test_until_in_the_future_waits_for_every_partition_to_pass_it() -> None:
    from kafkaops.procedures.consume.session import ConsumerSession
    from kafkaops.procedures.timespec import now_ms

    r = req(from_time=0, until_time=now_ms() + 3_600_000)
    session = ConsumerSession(None, r, _TimedConsumer([]), proc.plan_start(r, {0: (0, 2), 1: (0, 0)}, {}, {0: 0, 1: None}))  # type: ignore[arg-type]
    session.progress.skip_read_ones(session.plan)
    session.progress.note_shown([Msg(b"1", _offset=1)])  # partition 0 at its end, partition 1 empty: the time has not come
    assert session._finished() == ""
    session.progress.note_passed(0)
    session.progress.note_passed(1)
    assert session._finished() == "until"


def test_when_until_has_come_messages_that_arrived_since_the_start_are_still_read() -> None:
    """Regression: once --until's time came, reading ended at the end captured at the start, so messages
    stamped before the time that arrived during the read (and were not shown yet) were left out."""
    from kafkaops.procedures.consume.session import ConsumerSession
    from kafkaops.procedures.timespec import now_ms

    r = req(from_time=0, until_time=now_ms() - 1)  # the time has come
    consumer = _TimedConsumer([])
    session = ConsumerSession(None, r, consumer, proc.plan_start(r, {0: (0, 2)}, {}, {0: 0}))  # type: ignore[arg-type]
    session.progress.skip_read_ones(session.plan)
    session.progress.note_shown([Msg(b"1", _offset=1)])  # the end as it was at the start
    consumer.ends = {0: 5}  # three more messages arrived meanwhile
    assert session._finished() == ""
    session.progress.note_shown([Msg(b"4", _offset=4)])
    assert session._finished() == "until"
