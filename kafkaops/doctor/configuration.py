"""Step 4 of the checklist: the producer's configuration."""

from __future__ import annotations

from typing import Any

from kafkaops.adapters import network
from kafkaops.doctor.common import _closest, _registered_endpoints, _source, _user_topics, where_from
from kafkaops.doctor.context import Context
from kafkaops.doctor.registry import check
from kafkaops.doctor.results import Outcome, failed, passed, skipped, warned
from kafkaops.redact import redact_dsn


@check("config.variables", 4, "configuration", "KAFKA_BROKER, KAFKA_CLIENT_ID, KAFKA_TOPIC, DATABASE_URL set")
def check_variables(ctx: Context) -> Outcome:
    s = ctx.settings
    env_note = (
        f"settings read from the environment and {s.env_file}" if s.env_file else "no .env file was found; settings come from the environment and defaults"
    )
    details = [
        f"KAFKA_BROKER={s.kafka_broker} ({_source(s, 'kafka_broker')})",
        f"KAFKA_CLIENT_ID={s.kafka_client_id} ({_source(s, 'kafka_client_id')})",
        f"KAFKA_TOPIC={s.kafka_topic} ({_source(s, 'kafka_topic')})",
        f"DATABASE_URL={redact_dsn(s.database_url) if s.database_url else '(unset)'}" + (f" ({_source(s, 'database_url')})" if s.database_url else ""),
        env_note,
    ]
    if s.profile:
        details.insert(0, f"profile {s.profile} ({s.profile_file})")
    details += [f"client {key}={v['value']} ({v['source']})" for key, v in where_from(s)["client"].items()]  # type: ignore[attr-defined]
    data: dict[str, Any] = {
        "settings": where_from(s),
        "env_file": str(s.env_file) if s.env_file else None,
        "sources": {
            v: _source(s, k)
            for k, v in (
                ("kafka_broker", "KAFKA_BROKER"),
                ("kafka_client_id", "KAFKA_CLIENT_ID"),
                ("kafka_topic", "KAFKA_TOPIC"),
                ("database_url", "DATABASE_URL"),
            )
        },
    }
    if s.database_url:
        return passed("KAFKA_BROKER, KAFKA_CLIENT_ID, KAFKA_TOPIC and DATABASE_URL are set; " + env_note, details=details, data=data)
    where = f"the environment or {s.env_file}" if s.env_file else "the environment or a .env file"
    if ctx.database.source == "embedded":
        if ctx.database.url is not None:  # the documented default: nothing to warn about
            return passed(
                "KAFKA_BROKER, KAFKA_CLIENT_ID and KAFKA_TOPIC are set; DATABASE_URL is unset, so the embedded PostgreSQL is used; " + env_note,
                details=details,
                data=data,
            )
        return warned(
            "DATABASE_URL is unset and the embedded PostgreSQL it falls back to is not set up (see database.reachable)",
            remedy=f"start it with `kafkaops up`, or set DATABASE_URL in {where} to use your own database",
            runbook="database-unreachable",
            details=details,
            next="kafkaops up",
            data=data,
        )
    return failed(
        "DATABASE_URL is unset: the producer has no database",
        remedy=f"set DATABASE_URL=postgresql://USER:PASSWORD@HOST:5432/DB in {where}",
        runbook="database-unreachable",
        details=details,
        next="set DATABASE_URL in .env, then `kafkaops doctor`",
        data=data,
    )


@check("config.advertised", 4, "configuration", "KAFKA_BROKER vs advertised listeners", requires=("broker.process",))
def check_advertised(ctx: Context) -> Outcome:
    if ctx.md is not None:
        endpoints = [(b.id, b.host, b.port) for b in sorted(ctx.md.brokers, key=lambda b: b.id)]
    else:  # no metadata answer: what the brokers registered in ZooKeeper is what clients are sent to
        endpoints = _registered_endpoints(ctx)
        if not endpoints:
            return skipped("no metadata answer and no broker registered in ZooKeeper: nothing to compare")
    probes = [network.probe(host, port, timeout=1.0) for _, host, port in endpoints]
    ids = [i for i, _, _ in endpoints]
    details = [
        f"broker {i} advertises {p.host}:{p.port}: " + ("reachable" if p.connected else p.error or "unreachable") + (f" ({p.ms:g} ms)" if p.connected else "")
        for i, p in zip(ids, probes, strict=False)
    ]
    data: dict[str, Any] = {
        "kafka_broker": ctx.settings.kafka_broker,
        "advertised": [{"broker": i, "host": p.host, "port": p.port, "reachable": p.connected, "error": p.error} for i, p in zip(ids, probes, strict=False)],
    }
    bad = [p for p in probes if not p.connected]
    if bad:
        p = bad[0]
        return failed(
            f"the broker advertises {p.host}:{p.port}, which {'does not resolve' if p.error == 'does not resolve' else 'cannot be reached (' + str(p.error) + ')'} "
            f"from here: bootstrap through KAFKA_BROKER={ctx.settings.kafka_broker} works, then every client times out",
            remedy=f"set advertised.listeners=PLAINTEXT://{ctx.broker_host}:{p.port} (a name clients can reach) in {ctx.settings.server_properties}, "
            "then restart the broker: `kafkaops down && kafkaops up`",
            runbook="advertised-listeners",
            details=details,
            next=f"fix advertised.listeners in {ctx.settings.server_properties}, then `kafkaops down && kafkaops up`",
            data=data,
        )
    match = any(p.host == ctx.broker_host and p.port == ctx.broker_port for p in probes)
    if match:
        return passed(f"KAFKA_BROKER={ctx.settings.kafka_broker} is the advertised listener, and it is reachable", details=details, data=data)
    return passed(
        f"KAFKA_BROKER={ctx.settings.kafka_broker} bootstraps; clients then use the advertised "
        f"{', '.join(f'{p.host}:{p.port}' for p in probes)}, reachable from here",
        details=details,
        data=data,
    )


@check("config.topic", 4, "configuration", "KAFKA_TOPIC matches a topic", requires=("broker.metadata",))
def check_topic_name(ctx: Context) -> Outcome:
    name = ctx.settings.kafka_topic
    if name in ctx.md.topics:
        return passed(f"KAFKA_TOPIC={name} ({_source(ctx.settings, 'kafka_topic')}) names an existing topic", data={"topic": name})
    close = _closest(name, _user_topics(ctx))
    if not close:
        return skipped(f"no existing topic has a name like {name}: the topic itself is missing (step 3)")
    where = _source(ctx.settings, "kafka_topic")
    return failed(
        f"KAFKA_TOPIC={name} ({where}) matches no topic; did you mean {close[0]}?",
        remedy=f"set KAFKA_TOPIC={close[0]} in the {where} (or create {name}: `kafkaops topics create {name}`)",
        runbook="topic-missing",
        details=[f"similar topics: {', '.join(close)}"],
        next=f"set KAFKA_TOPIC={close[0]}, then `kafkaops doctor`",
        data={"topic": name, "suggestions": close},
    )
