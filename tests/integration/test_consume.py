"""kafkaops consume against a real broker (the shared stack), run as a user runs it: a subprocess.

Every test uses its own topic and group names. Messages are produced with confluent_kafka.Producer.
"""

from __future__ import annotations

import base64
import json
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from confluent_kafka import ConsumerGroupTopicPartitions, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from tests.conftest import Stack, run_kafkaops


def new_topic(stack: Stack, partitions: int = 1, config: dict[str, str] | None = None, prefix: str = "consume") -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:10]}"
    admin = AdminClient({"bootstrap.servers": stack.broker})
    admin.create_topics([NewTopic(name, partitions, 1, config=config or {})])[name].result(timeout=30)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        t = admin.list_topics(timeout=5).topics.get(name)
        if t is not None and t.partitions and all(p.leader >= 0 for p in t.partitions.values()):
            return name
        time.sleep(0.1)
    raise AssertionError(f"topic {name} has no leader")


def produce(stack: Stack, topic: str, values: Sequence[bytes | None], key: bytes | None = None, partition: int = 0, headers=None) -> None:
    p = Producer({"bootstrap.servers": stack.broker, "linger.ms": 0, "log_level": 2})
    for v in values:
        p.produce(topic, v, key=key, partition=partition, headers=headers)
    assert p.flush(30) == 0


def committed(stack: Stack, group: str, topic: str, partitions: int = 1) -> dict[int, int]:
    admin = AdminClient({"bootstrap.servers": stack.broker})
    req = ConsumerGroupTopicPartitions(group, [TopicPartition(topic, p) for p in range(partitions)])
    res = admin.list_consumer_group_offsets([req])[group].result(timeout=30)
    return {tp.partition: tp.offset for tp in res.topic_partitions}


def consume(stack: Stack, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return run_kafkaops(["consume", *args], env=stack.env, cwd=stack.root, timeout=timeout)


def lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines()]


def values(out: str) -> list:
    return [rec["value"] for rec in lines(out)]


def start(stack: Stack, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "kafkaops", "consume", *args],
        env=stack.env,
        cwd=stack.root,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_line(stream, needle: str, timeout: float = 30) -> list[str]:
    """Read lines from a pipe until one contains needle (the test fails if the process ends first)."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            raise AssertionError(f"stream ended before {needle!r}; got {seen}")
        seen.append(line)
        if needle in line:
            return seen
    raise AssertionError(f"no {needle!r} within {timeout}s; got {seen}")


def test_without_from_beginning_only_new_messages(shared_stack: Stack) -> None:
    topic = new_topic(shared_stack)
    produce(shared_stack, topic, [b'{"n": "old-1"}', b'{"n": "old-2"}', b'{"n": "old-3"}'])
    proc = start(shared_stack, topic, "--format", "json", "--max-messages", "2")
    try:
        before = wait_for_line(proc.stderr, "waiting for messages")
        produce(shared_stack, topic, [b'{"n": "new-1"}', b'{"n": "new-2"}'])
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill() if proc.poll() is None else None
    assert proc.returncode == 0, "".join(before) + err
    assert [(r["offset"], r["value"]) for r in lines(out)] == [(3, {"n": "new-1"}), (4, {"n": "new-2"})]
    talk = "".join(before)
    assert f"topic {topic}: 1 partition(s)" in talk
    assert "partition 0: offsets 0..2; starting at 3 (latest, 0 to read now)" in talk
    assert "Consumed 2 messages (reached --max-messages)" in err


def test_from_beginning_reads_everything_and_twice_the_same(shared_stack: Stack) -> None:
    topic = new_topic(shared_stack)
    produce(shared_stack, topic, [f'{{"i": {i}}}'.encode() for i in range(5)])
    first = consume(shared_stack, topic, "--from-beginning", "--exit-at-end")
    second = consume(shared_stack, topic, "--from-beginning", "--exit-at-end")
    assert first.returncode == 0, first.stderr
    assert [(r["offset"], r["value"]) for r in lines(first.stdout)] == [(i, {"i": i}) for i in range(5)]
    assert second.stdout == first.stdout  # no group: nothing was committed, the second run is the same
    assert "Consumed 5 messages (reached the end)" in first.stderr


def test_group_committed_offsets_decide_and_from_beginning_really_seeks(shared_stack: Stack) -> None:
    topic, group = new_topic(shared_stack), f"g-{uuid.uuid4().hex[:8]}"
    produce(shared_stack, topic, [f'{{"i": {i}}}'.encode() for i in range(5)])

    first = consume(shared_stack, topic, "--group", group, "--from-beginning", "--exit-at-end")
    assert first.returncode == 0, first.stderr
    assert len(lines(first.stdout)) == 5
    assert f"group {group} has no committed offsets" not in first.stderr  # --from-beginning given
    assert committed(shared_stack, group, topic) == {0: 5}

    produce(shared_stack, topic, [b'{"i": 5}', b'{"i": 6}'])
    second = consume(shared_stack, topic, "--group", group, "--exit-at-end")
    assert second.returncode == 0, second.stderr
    assert [r["offset"] for r in lines(second.stdout)] == [5, 6]
    assert f"group {group} has committed offsets: reading from offset 5, not from the beginning" in second.stderr
    assert committed(shared_stack, group, topic) == {0: 7}

    third = consume(shared_stack, topic, "--group", group, "--from-beginning", "--exit-at-end")
    assert third.returncode == 0, third.stderr
    assert [r["offset"] for r in lines(third.stdout)] == list(range(7))
    assert (
        f"group {group} has committed offsets (offset 7), but --from-beginning was given: reading from the beginning (offset 0) for this run"
    ) in third.stderr

    caught_up = consume(shared_stack, topic, "--group", group, "--exit-at-end")
    assert caught_up.returncode == 0 and caught_up.stdout == ""
    assert "Consumed 0 messages (reached the end)" in caught_up.stderr


def test_max_messages_and_offsets_in_json(shared_stack: Stack) -> None:
    topic = new_topic(shared_stack, partitions=2)
    produce(shared_stack, topic, [f'{{"p": 0, "i": {i}}}'.encode() for i in range(6)], partition=0)
    produce(shared_stack, topic, [f'{{"p": 1, "i": {i}}}'.encode() for i in range(3)], partition=1)
    r = consume(shared_stack, topic, "--from-beginning", "--max-messages", "4")
    assert r.returncode == 0, r.stderr
    assert len(lines(r.stdout)) == 4
    everything = consume(shared_stack, topic, "--from-beginning", "--exit-at-end")
    recs = lines(everything.stdout)
    assert sorted((x["partition"], x["offset"]) for x in recs) == [(0, i) for i in range(6)] + [(1, i) for i in range(3)]
    for x in recs:
        assert x["topic"] == topic
        assert x["value"] == {"p": x["partition"], "i": x["offset"]}
    assert "partition 1: offsets 0..2; starting at 0 (beginning, 3 to read now)" in everything.stderr


def test_partition_and_offset(shared_stack: Stack) -> None:
    topic = new_topic(shared_stack, partitions=2)
    produce(shared_stack, topic, [f'"{i}"'.encode() for i in range(6)], partition=1)
    r = consume(shared_stack, topic, "--partition", "1", "--offset", "4", "--exit-at-end", "--format", "raw")
    assert r.returncode == 0, r.stderr
    assert r.stdout == '"4"\n"5"\n'
    bad = consume(shared_stack, topic, "--partition", "1", "--offset", "9", "--exit-at-end")
    assert bad.returncode == 2
    assert "error: offset 9 is outside partition 1's offsets 0..6" in bad.stderr


def test_exit_at_end_across_transaction_markers(shared_stack: Stack) -> None:
    """Each committed transaction leaves a control record: the last data offset + 1 is below the end."""
    topic, group = new_topic(shared_stack), f"g-{uuid.uuid4().hex[:8]}"
    p = Producer({"bootstrap.servers": shared_stack.broker, "transactional.id": f"tx-{uuid.uuid4().hex[:8]}", "log_level": 2})
    p.init_transactions(30)
    for batch in ([b"1", b"2", b"3"], [b"4", b"5"]):
        p.begin_transaction()
        for v in batch:
            p.produce(topic, v, partition=0)
        p.commit_transaction(30)
    assert _watermarks(shared_stack, topic) == (0, 7)  # offsets 0-2 data, 3 marker, 4-5 data, 6 marker
    r = consume(shared_stack, topic, "--from-beginning", "--exit-at-end", timeout=60)
    assert r.returncode == 0, r.stderr
    assert [(x["offset"], x["value"]) for x in lines(r.stdout)] == [(0, 1), (1, 2), (2, 3), (4, 4), (5, 5)]
    g = consume(shared_stack, topic, "--group", group, "--from-beginning", "--exit-at-end", timeout=60)
    assert g.returncode == 0, g.stderr
    assert len(lines(g.stdout)) == 5
    assert "Consumed 5 messages (reached the end)" in g.stderr


def _watermarks(stack: Stack, topic: str, partition: int = 0) -> tuple[int, int]:
    from confluent_kafka import Consumer

    c = Consumer({"bootstrap.servers": stack.broker, "group.id": "test-probe"})
    try:
        return c.get_watermark_offsets(TopicPartition(topic, partition), timeout=10, cached=False)
    finally:
        c.close()


def test_exit_at_end_when_old_records_were_deleted(shared_stack: Stack) -> None:
    topic = new_topic(shared_stack)
    produce(shared_stack, topic, [f"{i}".encode() for i in range(10)])
    admin = AdminClient({"bootstrap.servers": shared_stack.broker})
    futures = admin.delete_records([TopicPartition(topic, 0, 4)])
    for f in futures.values():
        f.result(timeout=30)
    assert _watermarks(shared_stack, topic) == (4, 10)
    r = consume(shared_stack, topic, "--from-beginning", "--exit-at-end")
    assert r.returncode == 0, r.stderr
    assert [x["offset"] for x in lines(r.stdout)] == list(range(4, 10))
    assert "partition 0: offsets 4..9; starting at 4 (beginning, 6 to read now)" in r.stderr


def test_timeout_stops_after_silence(shared_stack: Stack) -> None:
    topic = new_topic(shared_stack)
    t0 = time.monotonic()
    r = consume(shared_stack, topic, "--timeout", "1")
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    assert "Consumed 0 messages (no message for 1s)" in r.stderr
    assert time.monotonic() - t0 < 30  # a functional bound (it stops at all), not a performance check


def test_json_lines_carry_every_field_and_odd_values_do_not_crash(shared_stack: Stack) -> None:
    topic = new_topic(shared_stack)
    p = Producer({"bootstrap.servers": shared_stack.broker, "log_level": 2})
    p.produce(topic, b'{"id": 1, "s": "\xc3\xa9"}', key=b"k1", partition=0, headers=[("source", b"db"), ("bin", b"\xff")])
    p.produce(topic, b"not json {", key=b"\xff\x00", partition=0)
    p.produce(topic, b"\x00\xff\xfe\x80binary", partition=0)
    p.produce(topic, None, key=b"tombstone", partition=0)
    p.produce(topic, b'{\n  "pretty": [1, 2]\n}\n', partition=0)
    p.produce(topic, b"NaN", partition=0)
    assert p.flush(30) == 0
    r = consume(shared_stack, topic, "--from-beginning", "--exit-at-end")
    assert r.returncode == 0, r.stderr
    recs = lines(r.stdout)
    assert len(recs) == 6
    first = recs[0]
    assert set(first) == {"topic", "partition", "offset", "timestamp", "timestamp_iso", "key", "key_format", "headers", "value", "value_format"}
    assert first["value"] == {"id": 1, "s": "é"} and first["value_format"] == "json"
    assert first["key"] == "k1" and first["key_format"] == "text"
    assert first["headers"] == [{"key": "source", "value": "db", "value_format": "text"}, {"key": "bin", "value": "/w==", "value_format": "base64"}]
    assert isinstance(first["timestamp"], int) and first["timestamp_iso"].endswith("Z")
    assert (recs[1]["value"], recs[1]["value_format"], recs[1]["key"], recs[1]["key_format"]) == ("not json {", "text", "/wA=", "base64")
    assert recs[2]["value_format"] == "base64"
    assert base64.b64decode(recs[2]["value"]) == b"\x00\xff\xfe\x80binary"
    assert (recs[3]["value"], recs[3]["value_format"], recs[3]["key"]) == (None, None, "tombstone")
    assert (recs[4]["value"], recs[4]["value_format"]) == ({"pretty": [1, 2]}, "json")
    assert (recs[5]["value"], recs[5]["value_format"]) == ("NaN", "text")  # not JSON: NaN is a Python-ism
    raw = subprocess.run(
        [sys.executable, "-m", "kafkaops", "consume", topic, "--from-beginning", "--exit-at-end", "--format", "raw"],
        env=shared_stack.env,
        cwd=shared_stack.root,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=60,
    )
    assert raw.returncode == 0, raw.stderr
    assert raw.stdout == b'{"id": 1, "s": "\xc3\xa9"}\nnot json {\n\x00\xff\xfe\x80binary\n\n{\n  "pretty": [1, 2]\n}\n\nNaN\n'
    pretty = consume(shared_stack, topic, "--from-beginning", "--exit-at-end", "--format", "pretty")
    assert pretty.returncode == 0, pretty.stderr
    assert "partition 0  offset 2" in pretty.stdout and "<binary, not UTF-8; base64>" in pretty.stdout
    assert "Traceback" not in raw.stderr.decode() + pretty.stderr


HEADERS = [
    ("a", b"base64:aGk="),  # text that only looks like the old "base64:" marker
    ("b", b"\xff\x80"),  # binary
    ("trace", b"1"),  # the same key twice: Kafka allows it, order matters
    ("trace", b"2"),
    ("none", None),  # a null value
    ("u", "caf\u00e9".encode()),
    ("e", b""),
]


def test_headers_come_back_exactly_and_agree_with_the_jvm_console_consumer(shared_stack: Stack, kafka_home: Path) -> None:
    topic = new_topic(shared_stack)
    produce(shared_stack, topic, [b'{"id": 1}'], key=b"k1", headers=HEADERS)
    produce(shared_stack, topic, [b'{"id": 2}'])
    r = consume(shared_stack, topic, "--from-beginning", "--exit-at-end", "--format", "json")
    assert r.returncode == 0, r.stderr
    first, second = lines(r.stdout)
    assert first["headers"] == [
        {"key": "a", "value": "base64:aGk=", "value_format": "text"},
        {"key": "b", "value": "/4A=", "value_format": "base64"},
        {"key": "trace", "value": "1", "value_format": "text"},
        {"key": "trace", "value": "2", "value_format": "text"},
        {"key": "none", "value": None, "value_format": None},
        {"key": "u", "value": "caf\u00e9", "value_format": "text"},
        {"key": "e", "value": "", "value_format": "text"},
    ]
    assert second["headers"] == []
    ours = [(h["key"], header_bytes(h)) for h in first["headers"]]
    assert ours == HEADERS

    pretty = consume(shared_stack, topic, "--from-beginning", "--exit-at-end", "--format", "pretty")
    assert pretty.returncode == 0, pretty.stderr
    shown = pretty.stdout.splitlines()
    assert shown[1:9] == [
        '  header a: "base64:aGk="',
        "  header b: <binary, not UTF-8; base64> /4A=",
        '  header trace: "1"',
        '  header trace: "2"',
        "  header none: (null)",
        '  header u: "caf\u00e9"',
        '  header e: ""',
        '{"id": 1}',
    ]
    assert shown[0].startswith("partition 0  offset 0  key k1  ") and shown[9].startswith("partition 0  offset 1  key (none)  ")
    assert shown[10:] == ['{"id": 2}']

    # Kafka's own console consumer on the same messages: it writes each header's raw bytes as
    # key:value, comma-separated, "null" for a null value and NO_HEADERS when there are none.
    jvm = subprocess.run(
        [
            *jvm_tool(kafka_home, "org.apache.kafka.tools.consumer.ConsoleConsumer"),
            *("--bootstrap-server", shared_stack.broker, "--topic", topic, "--from-beginning", "--max-messages", "2"),
            *("--property", "print.headers=true"),
        ],
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
        env=shared_stack.env,
    )
    assert jvm.returncode == 0, jvm.stderr.decode(errors="replace")
    jvm_lines = jvm.stdout.splitlines()
    assert [line.split(b"\t", 1)[1] for line in jvm_lines] == [b'{"id": 1}', b'{"id": 2}']
    jvm_headers = [tuple(h.split(b":", 1)) for h in jvm_lines[0].split(b"\t", 1)[0].split(b",")]
    assert jvm_headers == [(k.encode(), b"null" if v is None else v) for k, v in ours]
    assert jvm_lines[1].split(b"\t", 1)[0] == b"NO_HEADERS"


def jvm_tool(kafka_home: Path, main_class: str) -> list[str]:
    """The command line of one of Kafka's own JVM tools (the installation has no bin/ scripts)."""
    return ["java", "-Xmx128m", "-cp", str(kafka_home / "libs" / "*"), main_class]


def run_jvm_tool(stack: Stack, kafka_home: Path, main_class: str, *args: str) -> str:
    """Run one of Kafka's JVM tools against ``stack``'s broker; its stdout (a failure fails the test)."""
    r = subprocess.run(
        [*jvm_tool(kafka_home, main_class), "--bootstrap-server", stack.broker, *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
        env=stack.env,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def header_bytes(header: dict) -> bytes | None:
    if header["value_format"] is None:
        return None
    return base64.b64decode(header["value"]) if header["value_format"] == "base64" else header["value"].encode("utf-8")


def test_missing_topic_names_close_matches(shared_stack: Stack) -> None:
    topic = new_topic(shared_stack, prefix="db_live_events")
    typo = topic[:-1]
    r = consume(shared_stack, typo, timeout=60)
    assert r.returncode == 2
    assert r.stdout == ""
    assert f"error: topic {typo} does not exist on {shared_stack.broker}" in r.stderr
    assert f"hint: did you mean {topic}" in r.stderr


def test_ctrl_c_stops_cleanly_and_commits_what_was_shown(shared_stack: Stack) -> None:
    topic, group = new_topic(shared_stack), f"g-{uuid.uuid4().hex[:8]}"
    produce(shared_stack, topic, [f'{{"i": {i}}}'.encode() for i in range(5)])
    proc = start(shared_stack, topic, "--group", group, "--from-beginning", "--format", "json")
    try:
        got = [proc.stdout.readline() for _ in range(5)]
        assert [json.loads(x)["offset"] for x in got] == list(range(5))
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill() if proc.poll() is None else None
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert f"Consumed 5 messages (interrupted); committed for group {group}: partition 0 at 5" in err
    assert committed(shared_stack, group, topic) == {0: 5}


def test_a_running_group_consumer_commits_what_it_showed_without_waiting_for_exit(shared_stack: Stack) -> None:
    topic, group = new_topic(shared_stack), f"g-{uuid.uuid4().hex[:8]}"
    proc = start(shared_stack, topic, "--group", group, "--format", "json")
    try:
        wait_for_line(proc.stderr, "waiting for messages")
        produce(shared_stack, topic, [b'{"i": 0}', b'{"i": 1}', b'{"i": 2}'])
        got = [json.loads(proc.stdout.readline())["offset"] for _ in range(3)]
        assert got == [0, 1, 2]
        deadline = time.monotonic() + 30
        while committed(shared_stack, group, topic) != {0: 3} and time.monotonic() < deadline:
            time.sleep(0.2)
        assert proc.poll() is None  # still running
        assert committed(shared_stack, group, topic) == {0: 3}
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    assert proc.returncode == 130


def test_one_watermarks_function_answers_the_same_for_an_admin_client_and_a_consumer(shared_stack: Stack) -> None:
    """adapters.kafka.watermarks serves doctor, groups and topics (admin ListOffsets) and consume (the
    consumer's own query): both read the same ends, deleted records included."""
    from kafkaops.adapters import kafka
    from kafkaops.adapters.consumer import open_consumer

    topic = new_topic(shared_stack, partitions=2)
    produce(shared_stack, topic, [b"%d" % i for i in range(10)], partition=0)
    produce(shared_stack, topic, [b"x"] * 3, partition=1)
    admin = AdminClient({"bootstrap.servers": shared_stack.broker})
    for f in admin.delete_records([TopicPartition(topic, 0, 4)]).values():
        f.result(timeout=30)
    settings = shared_stack.settings
    by_admin = kafka.watermarks(kafka.admin(settings), topic, [0, 1], 10.0)
    consumer = open_consumer(settings, topic, f"test-{uuid.uuid4().hex[:8]}", from_beginning=False)
    try:
        partitions, names = consumer.topic_partitions()
        by_consumer = consumer.watermarks([0, 1], 10.0)
    finally:
        consumer.close()
    assert (partitions, topic in names) == ([0, 1], True)
    assert by_admin == by_consumer == {0: kafka.Watermark(0, 4, 10), 1: kafka.Watermark(1, 0, 3)}
