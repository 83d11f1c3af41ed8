"""The runner: every check under its own time limit, skips with reasons, and the verdict."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from urllib.parse import urlsplit

from kafkaops.doctor.common import _any_local, _first_line
from kafkaops.doctor.context import ClusterKind, Context
from kafkaops.doctor.registry import Check, checks, in_mode, modes, select
from kafkaops.doctor.results import FAIL, SKIP, WARN, CheckResult, DoctorReport, Outcome, Verdict, skipped
from kafkaops.errors import KafkaopsError
from kafkaops.redact import redact_dsn
from kafkaops.settings import Settings

# What `kafkaops up` needs: when one of these failed, the verdict never says "kafkaops up" (it would fail too).
UP_BLOCKERS = ("host.kafka_home", "host.java", "host.disk", "broker.meta_properties")


def _not_here(ctx: Context, local: str) -> str | None:
    """Why a check that needs this machine (Check.local) cannot run here (None when it can)."""
    if local == "stack":  # the local stack's files: either service's will do
        return _any_local(ctx)
    if local == "java":  # Java runs ZooKeeper and the broker: needed only when one of them is this machine's
        if not ctx.identity.local and ctx.cluster_kind.answered:
            return "remote cluster: a cluster kafkaops did not start answers at KAFKA_BROKER; Java is not needed here"
        if ctx.zk_local or ctx.broker_local:
            return None
        return "ZooKeeper and the broker are not on this machine: Java is not needed here"
    return ctx.local_reason(local)


def _blocked_by(ctx: Context, check: Check) -> str | None:
    """Why a check cannot run: the root check that failed (or was skipped for a reason of its own) below it."""
    for dep in check.requires:
        r = ctx.results.get(dep)
        if r is None:
            continue
        if r.status == FAIL:
            return f"skipped: {r.id} failed"
        if r.status == WARN and r.data.get("no_result"):
            return f"skipped: {r.id} gave no answer"
        if r.status == SKIP and r.skip_kind == "prerequisite":
            return r.finding if r.finding.startswith("skipped: ") else f"skipped: {r.id} was skipped"
    return None


def _run_bounded(fn: Callable[[Context], Outcome], ctx: Context, timeout: float) -> Outcome:
    """Run one check under its own time limit; a check that overruns is reported, never waited for."""
    box: list[Outcome | BaseException] = []

    def target() -> None:
        try:
            box.append(fn(ctx))
        except BaseException as exc:  # noqa: BLE001 - reported as the check's failure below
            box.append(exc)

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(timeout)
    if not box:
        return Outcome(
            FAIL,
            f"the check did not finish within {timeout:g}s",
            remedy="run `kafkaops doctor` again; if it repeats, read the logs",
            runbook=None,
            next="kafkaops status",
        )
    out = box[0]
    if isinstance(out, KafkaopsError):
        return Outcome(FAIL, out.message, list(out.details), out.hint or "see the runbook", out.runbook, None)
    if isinstance(out, BaseException):
        return Outcome(FAIL, f"the check itself failed: {type(out).__name__}: {_first_line(out)}", remedy="rerun with --traceback and report it")
    return out


def _verdict(results: list[CheckResult], mode: str | None = "zookeeper") -> Verdict:
    for status, label in ((FAIL, "fail"), (WARN, "warn")):
        first = next((r for r in results if r.status == status), None)
        if first is None:
            continue
        same_layer = [r for r in results if r.status == status and r.layer == first.layer]
        top = max(same_layer, key=lambda r: r.priority)  # max() keeps the first among equals
        if status == FAIL and top.next and "kafkaops up" in top.next:
            # `kafkaops up` cannot succeed while something it needs is missing: name that first.
            blocker = next((r for b in UP_BLOCKERS for r in results if r.id == b and r.status == FAIL and r is not top), None)
            top = blocker or top
        nxt = top.next or (f"kafkaops runbook {top.runbook}" if top.runbook else None)
        why = top.finding + (f". {top.remedy}" if top.remedy else "")
        return Verdict(label, top.layer, top.id, why, nxt, top.runbook)
    layer_one = {"zookeeper": "ZooKeeper, ", "kraft": "metadata quorum, "}.get(mode or "", "")
    return Verdict("ok", None, None, f"every check passed: {layer_one}broker, topic, configuration, database, producer and consumers look right", None, None)


def run_doctor(
    settings: Settings,
    *,
    canary: bool = False,
    only_local: bool = False,
    progress: Callable[[str], None] | None = None,
    only: Sequence[str] = (),
) -> DoctorReport:
    """Run the checklist and return the report (never raises for a failing check).

    ``only``: run just these check ids and what they require or use, transitively (naming
    producer.canary runs the canary); an unknown id is a :class:`UsageError`.
    """
    del only_local
    t0 = time.perf_counter()
    if only:
        selected = select(only)
        canary = canary or any(c.canary_only for c in selected)
    ctx = Context(settings, canary=canary)
    results: list[CheckResult] = []
    try:
        kind = ctx.cluster_kind  # the checks depend on what the cluster is: ZooKeeper mode, KRaft; local or remote
        if not only:
            selected = checks(canary, kind.mode)
        for check in selected:
            if progress:
                progress(f"step {check.step}: {check.title}")
            started = time.perf_counter()
            reason = _not_here(ctx, check.local) if check.local else None
            if not in_mode(check, kind.mode):
                out = skipped(_other_mode(check, kind), kind="not-configured")
            elif reason is not None:
                out = skipped(_remote(reason) if not kind.local else reason, kind="remote")
            else:
                blocked = _blocked_by(ctx, check)
                out = skipped(blocked) if blocked else _run_bounded(check.fn, ctx, check.timeout)
            if out.status == SKIP and out.skip_kind == "remote" and not kind.local:
                out = replace(out, finding=_remote(out.finding))
            result = CheckResult.of(check, out, seconds=time.perf_counter() - started)
            ctx.results[check.id] = result
            results.append(result)
    finally:
        ctx.close()
    secrets = tuple(s for s in _secrets(settings, ctx.db_url) if len(s) >= 3)
    context = {
        "kafka_broker": settings.kafka_broker,
        "zookeeper_connect": settings.zookeeper_connect,
        "kafka_topic": settings.kafka_topic,
        "database": (redact_dsn(ctx.db_url) if ctx.db_url else None),
        "database_source": ctx.db_source,
        "env_file": str(settings.env_file) if settings.env_file else None,
        "zookeeper_local": ctx.zk_local,
        "broker_local": ctx.broker_local,
        "local_stack": ctx.identity.local,
        "local_stack_reasons": ctx.identity.reasons,
        "canary": canary,
    }
    kind = ctx.cluster_kind
    return DoctorReport(results, _verdict(results, kind.mode), context, time.perf_counter() - t0, secrets, cluster=kind.to_dict())


def _remote(reason: str) -> str:
    """A local check's skip reason when the cluster is not the local stack: "remote cluster: <why>"."""
    for prefix in ("remote cluster: ", "not the local stack: "):
        if reason.startswith(prefix):
            reason = reason[len(prefix) :]
    return f"remote cluster: {reason}"


def _other_mode(check: Check, kind: ClusterKind) -> str:
    mode = kind.mode or "unknown-mode"
    only = " and ".join(modes(check)) or "another"
    return f"a {only}-mode check: the cluster is {'in ' + mode + ' mode' if kind.mode else 'of unknown mode'} ({kind.how})"


def _secrets(settings: Settings, db_url: str | None) -> Iterator[str]:
    for url in (settings.database_url, db_url):
        if url and "://" in url:
            try:
                password = urlsplit(url).password
            except ValueError:
                password = None
            if password:
                yield password
                from urllib.parse import unquote

                yield unquote(password)
    from kafkaops.profiles import is_secret

    for key, value in settings.client_security.items():  # sasl.password, ssl.key.password, sasl.oauthbearer.client.secret, -X ...
        if value and is_secret(key):
            yield value
