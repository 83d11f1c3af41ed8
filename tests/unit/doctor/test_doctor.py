"""doctor's pure logic: the verdict, skipping, time limits, secrets, log tails, and the JSON document."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from kafkaops import doctor as d
from kafkaops.adapters import network
from kafkaops.doctor import FAIL, PASS, SKIP, WARN, CheckResult, Outcome
from kafkaops.doctor import common as d_common
from kafkaops.doctor import host as d_host
from kafkaops.doctor import logs as d_logs
from kafkaops.doctor import runner as d_runner
from kafkaops.errors import KafkaopsError

RUNBOOK_ANCHORS = {
    "stale-broker-registration", "cluster-id-mismatch", "zookeeper-unreachable", "port-in-use", "advertised-listeners",
    "log-dir-failure", "windows-file-lock", "unclean-shutdown", "foreign-process", "broker-unreachable", "topic-missing",
    "offsets-topic-replication", "consumer-shows-nothing", "producer-offset-ahead", "rows-committed-out-of-order",
    "database-unreachable", "java-missing", "kafka-not-installed", "data-under-tmp", "disk-space", "row-too-large",
    "client-security", "broker-not-answering",
}  # fmt: skip


def result(check_id: str, layer: str, status: str, priority: int = 0, **kw: object) -> CheckResult:
    return CheckResult(id=check_id, step=1, layer=layer, title=check_id, status=status, finding=f"{check_id} finding",
                       priority=priority, **kw)  # type: ignore[arg-type]  # fmt: skip


# --- the verdict ------------------------------------------------------------------------------


def test_verdict_names_the_first_failing_layer_and_its_next_command() -> None:
    results = [
        result("zookeeper.serving", "zookeeper", PASS),
        result("broker.process", "broker", FAIL, next="kafkaops up", remedy="start it", runbook="failures broker-unreachable"),
        result("database.reachable", "database", FAIL),
    ]
    v = d_runner._verdict(results)
    assert (v.status, v.layer, v.check, v.next, v.runbook) == ("fail", "broker", "broker.process", "kafkaops up", "failures broker-unreachable")
    assert v.why == "broker.process finding. start it"


def test_verdict_prefers_the_root_cause_within_the_failing_layer() -> None:
    results = [
        result("broker.process", "broker", FAIL),
        result("broker.registration", "broker", FAIL, priority=10, runbook="failures stale-broker-registration"),
        result("topic.exists", "topic", FAIL, priority=20),
    ]
    v = d_runner._verdict(results)
    assert (v.layer, v.check) == ("broker", "broker.registration")
    assert v.next == "kafkaops runbook failures stale-broker-registration"  # no command: the runbook


def test_verdict_with_only_warnings_names_their_layer_and_without_any_is_ok() -> None:
    warn = d_runner._verdict([result("a", "topic", PASS), result("consumer.groups", "consumer", WARN), result("host.disk", "host", WARN)])
    assert (warn.status, warn.layer, warn.check) == ("warn", "consumer", "consumer.groups")
    ok = d_runner._verdict([result("a", "topic", PASS), result("b", "logs", SKIP)])
    assert (ok.status, ok.layer, ok.check, ok.next) == ("ok", None, None, None)


# --- skipping and time limits -----------------------------------------------------------------


def _ctx_with(results: dict[str, CheckResult]) -> d.Context:
    ctx = d.Context.__new__(d.Context)
    ctx.results = results
    return ctx


def test_a_check_is_skipped_with_the_root_cause_when_a_prerequisite_failed() -> None:
    ctx = _ctx_with({"broker.process": result("broker.process", "broker", FAIL)})
    meta = d.Check("broker.metadata", 2, "broker", "t", lambda c: Outcome(PASS, ""), ("broker.process",))
    reason = d_runner._blocked_by(ctx, meta)
    assert reason == "skipped: broker.process failed"
    ctx.results["broker.metadata"] = result("broker.metadata", "broker", SKIP, skip_kind="prerequisite")
    ctx.results["broker.metadata"].finding = reason or ""
    topic = d.Check("topic.exists", 3, "topic", "t", lambda c: Outcome(PASS, ""), ("broker.metadata",))
    assert d_runner._blocked_by(ctx, topic) == "skipped: broker.process failed"  # the root, not a chain


def test_a_remote_skip_does_not_block_the_checks_after_it() -> None:
    ctx = _ctx_with({"zookeeper.process": result("zookeeper.process", "zookeeper", SKIP, skip_kind="remote")})
    serving = d.Check("zookeeper.serving", 1, "zookeeper", "t", lambda c: Outcome(PASS, ""), ("zookeeper.process",))
    assert d_runner._blocked_by(ctx, serving) is None


def test_a_check_that_overruns_its_time_limit_fails_without_being_waited_for() -> None:
    def slow(_ctx: object) -> Outcome:
        time.sleep(5)
        return Outcome(PASS, "never")

    t0 = time.monotonic()
    out = d_runner._run_bounded(slow, None, 0.2)  # type: ignore[arg-type]
    assert time.monotonic() - t0 < 1.0
    assert out.status == FAIL and out.finding == "the check did not finish within 0.2s"


def test_errors_inside_a_check_become_its_failure() -> None:
    def raises_kafkaops(_ctx: object) -> Outcome:
        raise KafkaopsError("broker gone", hint="run kafkaops up", runbook="failures broker-unreachable")

    def raises_other(_ctx: object) -> Outcome:
        raise ValueError("boom")

    out = d_runner._run_bounded(raises_kafkaops, None, 1)  # type: ignore[arg-type]
    assert (out.status, out.finding, out.remedy, out.runbook) == (FAIL, "broker gone", "run kafkaops up", "failures broker-unreachable")
    out = d_runner._run_bounded(raises_other, None, 1)  # type: ignore[arg-type]
    assert out.status == FAIL and out.finding == "the check itself failed: ValueError: boom"


def test_every_check_has_a_short_time_limit_and_a_known_layer() -> None:
    for check in d.checks(canary=True):
        assert 0 < check.timeout <= 15, check.id
        assert check.layer in d.LAYERS, check.id
        assert check.step in (*range(1, 9), d.EXTRAS_STEP), check.id


def test_runbook_references_name_existing_anchors() -> None:
    import ast

    trees = [ast.parse(path.read_text(encoding="utf-8")) for path in sorted(Path(d.__file__).parent.glob("*.py"))]
    anchors: set[str] = set()
    for node in (n for tree in trees for n in ast.walk(tree)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("failed", "warned"):
            args = list(node.args[2:3]) + [k.value for k in node.keywords if k.arg == "runbook"]
            anchors |= {a.value for a in args if isinstance(a, ast.Constant) and isinstance(a.value, str)}
    assert len(anchors) >= 10, anchors
    assert anchors <= RUNBOOK_ANCHORS, anchors - RUNBOOK_ANCHORS


# --- secrets and the JSON document ------------------------------------------------------------


def test_scrub_masks_dsn_passwords_and_known_secrets_everywhere() -> None:
    doc = {"a": "postgresql://u:hunter22@h:5432/db", "b": ["password=hunter22 host=x", {"c": "raw hunter22 and s3cr3t-x"}], "n": 3}
    out = d.scrub(doc, ("s3cr3t-x", "hunter22"))
    assert "hunter22" not in json.dumps(out) and "s3cr3t-x" not in json.dumps(out)
    assert out["a"] == "postgresql://u:***@h:5432/db" and out["n"] == 3


def test_report_document_shape() -> None:
    checks = [result("zookeeper.process", "zookeeper", FAIL, runbook="failures zookeeper-unreachable", next="kafkaops up"),
              result("host.disk", "host", PASS)]  # fmt: skip
    report = d.DoctorReport(checks, d_runner._verdict(checks), {"kafka_broker": "localhost:9092"}, 0.1234, ("pw",))
    doc = report.to_dict()
    assert set(doc) == {"schema", "ok", "exit_code", "summary", "verdict", "cluster", "context", "checks", "seconds"}
    assert doc["schema"] == "kafkaops.doctor/1"
    assert (doc["ok"], doc["exit_code"]) == (False, 3)
    assert doc["summary"] == {"PASS": 1, "WARN": 0, "FAIL": 1, "SKIP": 0}
    assert set(doc["checks"][0]) == {"id", "step", "layer", "title", "status", "finding", "details", "remedy", "runbook", "next", "seconds", "data"}
    assert doc["verdict"] == {"status": "fail", "layer": "zookeeper", "check": "zookeeper.process", "why": "zookeeper.process finding",
                              "next": "kafkaops up", "runbook": "failures zookeeper-unreachable"}  # fmt: skip
    json.dumps(doc)  # JSON-able as it is


def test_render_lines_explain_failures_and_end_with_the_verdict() -> None:
    from kafkaops.cli.doctor import render_lines

    checks = [result("broker.process", "broker", FAIL, remedy="start it", runbook="failures broker-unreachable", next="kafkaops up",
                     details=["port 9092"])]  # fmt: skip
    doc = d.DoctorReport(checks, d_runner._verdict(checks), {}, 1.0).to_dict()
    lines = render_lines(doc)
    assert lines[1:5] == ["FAIL broker.process: broker.process finding", "    port 9092", "  fix: start it",
                          "  see: kafkaops runbook failures broker-unreachable"]  # fmt: skip
    assert lines[-4:] == [
        "verdict: fault in broker layer (0 passed, 0 warning(s), 1 failed, 0 skipped in 1.0s)",
        "  why: broker.process finding. start it",
        "  next: kafkaops up",
        "  see: kafkaops runbook failures broker-unreachable",
    ]


# --- logs -------------------------------------------------------------------------------------


def test_read_tail_keeps_real_line_numbers(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_text("".join(f"[2026-11-28 10:00:{i % 60:02d},000] INFO line {i} (x)\n" for i in range(1, 2001)))
    text, first = d_logs.read_tail(log, max_bytes=4096)
    lines = text.splitlines()
    assert lines[0].endswith(f"line {first} (x)")
    assert lines[-1].endswith("line 2000 (x)")


def test_only_the_last_run_is_scanned_and_findings_carry_file_line_and_time(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_text(
        "[2026-11-28 09:00:00,000] INFO Connecting to zookeeper on localhost:2181 (kafka.server.KafkaServer)\n"
        "[2026-11-28 09:00:01,000] ERROR Socket server failed to bind to 0.0.0.0:9092: Address already in use. (kafka.network.SocketServer)\n"
        "[2026-11-28 10:00:00,000] INFO Connecting to zookeeper on localhost:2181 (kafka.server.KafkaServer)\n"
        "[2026-11-28 10:00:02,000] INFO something (x)\n"
        "[2026-11-28 10:00:03,000] ERROR Error while creating ephemeral at /brokers/ids/0, node already exists and owner "
        "'0x1' does not match current session '0x2' (kafka.zk.KafkaZkClient$CheckedEphemeral)\n"
    )
    findings = d_logs.scan_log(log)
    assert [(f.id, f.line_no, f.timestamp) for f in findings] == [("kafka.node_exists", 5, "2026-11-28 10:00:03,000")]


# --- network helpers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "expected"),
    [("localhost:9092", ("localhost", 9092)), ("h1:1,h2:2", ("h1", 1)), ("[::1]:19092", ("::1", 19092)),
     ("PLAINTEXT://broker:29092", ("broker", 29092)), ("justhost", ("justhost", 9092))],
)  # fmt: skip
def test_split_hostport(address: str, expected: tuple[str, int]) -> None:
    assert network.split_hostport(address, 9092) == expected


def test_locality() -> None:
    assert network.is_local("localhost") and network.is_local("127.0.0.1") and network.is_local(socket.gethostname())
    assert not network.is_local("kafkaops-unresolvable.invalid", timeout=1.0)


def test_probe_tells_unresolvable_from_refused() -> None:
    assert network.probe("kafkaops-unresolvable.invalid", 9092, timeout=1.0).error == "does not resolve"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: refused
        p = network.probe("127.0.0.1", port, timeout=1.0)
    assert (p.connected, p.error) == (False, "connection refused")


def test_closest_topic_name() -> None:
    assert d_common._closest("db_live_event", ["db_live_events", "orders", "db_dead_letters"])[0] == "db_live_events"
    assert d_common._closest("payments", ["db_live_events", "orders"]) == []


def test_a_pid_file_naming_another_live_program_is_not_called_harmless(tmp_path: Path) -> None:
    """A pid file whose process is alive (same start time) but is not the service: up and down refuse while it
    stands, so doctor must not say they remove it (issue 11, item 6)."""
    import subprocess

    from kafkaops.adapters import processes
    from kafkaops.procedures import services
    from kafkaops.settings import load_settings

    settings = load_settings(env={"KAFKAOPS_HOME": str(tmp_path / "home"), "KAFKA_BROKER": "localhost:1", "ZOOKEEPER_CONNECT": "localhost:1"}, cwd=tmp_path)
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        info = None
        while info is None or not info.cmdline:
            info = processes.proc_info(sleeper.pid)
        record = services.PidRecord(services.KAFKA, sleeper.pid, info.create_time, "kafka.Kafka", "server.properties", "", "", 0, 0.0, "")
        services.write_pid(settings, record)
        out = d_host.check_pid_files(d.Context(settings, canary=False))
    finally:
        sleeper.kill()
        sleeper.wait()
    assert out.status == WARN
    assert out.finding == f"pid file {services.pid_path(settings, services.KAFKA)} names pid {sleeper.pid}, which runs another program (sleep 60)"
    assert out.remedy == (
        "kafkaops never signals it, and `kafkaops up` / `kafkaops down` refuse while this file stands: "
        f"check that process, then delete {services.pid_path(settings, services.KAFKA)}"
    )
    assert out.runbook == "failures foreign-process"


def test_the_registry_keeps_the_procedures_order() -> None:
    # ZooKeeper mode: today's checklist, unchanged (KRaft's quorum layer: tests/unit/doctor/test_modes.py)
    assert [c.id for c in d.checks(canary=True, mode="zookeeper")] == [
        "zookeeper.process",
        "zookeeper.serving",
        "broker.process",
        "broker.metadata",
        "broker.requests",
        "broker.registration",
        "broker.controller",
        "broker.meta_properties",
        "broker.cluster_id",
        "topic.exists",
        "topic.layout",
        "topic.internal_replication",
        "config.variables",
        "config.advertised",
        "config.topic",
        "database.reachable",
        "database.schema",
        "database.offset",
        "database.pending",
        "producer.leader",
        "producer.canary",
        "messages.end_offsets",
        "consumer.groups",
        "logs.zookeeper",
        "logs.broker",
        "host.kafka_home",
        "host.java",
        "host.tmp_dirs",
        "host.disk",
        "host.pid_files",
        "migration.state",  # only while a migration is in progress (else skipped)
        "connect.workers",  # the Connect layer: skipped where the pipeline does not use Kafka Connect
        "connect.logs",
        "connect.connector",
        "connect.slot",
    ]
    assert "producer.canary" not in [c.id for c in d.checks(canary=False)]


def test_what_a_check_requires_or_uses_exists_and_runs_before_it() -> None:
    order = [c.id for c in d.checks(canary=True)]
    for c in d.checks(canary=True):
        for dep in (*c.requires, *c.uses):
            assert dep in order and order.index(dep) < order.index(c.id), (c.id, dep)


def test_the_database_target_is_a_fact_computed_on_first_use_not_left_by_config_variables(tmp_path: Path) -> None:
    from kafkaops.settings import load_settings

    env = {"KAFKAOPS_HOME": str(tmp_path / "home"), "KAFKA_BROKER": "localhost:1", "ZOOKEEPER_CONNECT": "localhost:1"}
    ctx = d.Context(load_settings(env={**env, "DATABASE_URL": "postgresql://u:pw@db.example:5432/x"}, cwd=tmp_path), canary=False)
    assert (ctx.db_url, ctx.db_source, ctx.db_problem) == ("postgresql://u:pw@db.example:5432/x", "DATABASE_URL", None)  # no check ran
    ctx = d.Context(load_settings(env=env, cwd=tmp_path), canary=False)
    assert ctx.db_source == "embedded" and (ctx.db_url is None) == (ctx.db_problem is not None)


def test_the_process_checks_name_who_holds_a_port_as_status_does(tmp_path: Path) -> None:
    """zookeeper.process and broker.process are one check (the services probe), worded per service."""
    import os

    from kafkaops.adapters import processes
    from kafkaops.doctor import broker as d_broker
    from kafkaops.doctor import zookeeper as d_zookeeper
    from kafkaops.procedures import services
    from tests.unit.procedures.test_services import _free_port, _stack

    zk_port, broker_port = _free_port(), _free_port()
    settings = _stack(tmp_path, zk_port, broker_port)
    ctx = d.Context.__new__(d.Context)
    ctx.settings, ctx.cfg, ctx.broker_port = settings, services.read_stack_config(settings), broker_port
    assert d_zookeeper.check_zookeeper_process(ctx).finding == f"ZooKeeper is not running (nothing listens on port {zk_port})"
    with socket.socket() as zk_sock, socket.socket() as broker_sock:  # this test's process (python, no service) holds both ports
        for sock, port in ((zk_sock, zk_port), (broker_sock, broker_port)):
            sock.bind(("127.0.0.1", port))
            sock.listen(1)
        zk_out, broker_out = d_zookeeper.check_zookeeper_process(ctx), d_broker.check_broker_process(ctx)
    me = f"pid {os.getpid()} ({processes.proc_info(os.getpid()).name})"  # the status wording, no longer "python (pid N)"
    assert zk_out.status == FAIL and zk_out.finding == f"port {zk_port} is held by {me}, not by ZooKeeper"
    assert zk_out.remedy == f"stop that process (pid {os.getpid()}) or set another clientPort in {settings.zookeeper_properties}, then `kafkaops up`"
    assert broker_out.status == FAIL and broker_out.finding == f"port {broker_port} is held by {me}, not by a Kafka broker"
    assert (zk_out.runbook, broker_out.runbook, broker_out.next) == (
        "failures port-in-use",
        "failures port-in-use",
        f"kafkaops status  # then stop pid {os.getpid()}",
    )
