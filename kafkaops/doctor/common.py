"""Helpers more than one checklist layer uses."""

from __future__ import annotations

from kafkaops.adapters import zookeeper as zk
from kafkaops.adapters.javaprops import parse_listeners
from kafkaops.doctor.context import Context
from kafkaops.errors import KafkaopsError
from kafkaops.redact import redact_text
from kafkaops.settings import Settings
from kafkaops.stack_record import STACK_RECORD
from kafkaops.text import close_matches


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return redact_text(text[0] if text else type(exc).__name__)


def _registered_endpoints(ctx: Context) -> list[tuple[int, str, int]]:
    """(broker id, host, port) of each broker's PLAINTEXT-or-first endpoint, as registered in ZooKeeper."""
    out: list[tuple[int, str, int]] = []
    try:
        client = ctx.zk()
        for broker_id in zk.broker_ids(client):
            node = zk.broker_znode(client, broker_id)
            if node is None or not node.endpoints:
                continue
            listeners = parse_listeners(",".join(node.endpoints))
            chosen = next((lst for lst in listeners if lst.port == ctx.broker_port), listeners[0])
            out.append((broker_id, chosen.host, chosen.port))
    except KafkaopsError:
        return []
    return out


def _closest(name: str, candidates: list[str]) -> list[str]:
    return close_matches(name, candidates, n=3, cutoff=0.75)


def _user_topics(ctx: Context) -> list[str]:
    return sorted(t for t in ctx.md.topics if not t.startswith("__"))


def _source(settings: Settings, name: str) -> str:
    src = settings.sources.get(name, "default")
    if src == ".env":
        return f".env file {settings.env_file}"
    if src == "profile":
        return f"profile {settings.profile} ({settings.profile_file})"
    if src == "stack record":
        return f"stack record {settings.kafkaops_home / STACK_RECORD} (written by migrate/upgrade)"
    return {
        "env": "environment",
        "flag": "command-line flag",
        "config": f"derived from {settings.server_properties}",
        "installation": f"the release in {settings.kafka_home}/libs",
        "default": "built-in default",
    }.get(src, src)


def _any_local(ctx: Context) -> str | None:
    if ctx.local_reason("zookeeper") is None or ctx.local_reason("broker") is None:
        return None
    return ctx.local_reason("broker")


_SHOWN = (("kafka_broker", "KAFKA_BROKER"), ("zookeeper_connect", "ZOOKEEPER_CONNECT"), ("kafka_topic", "KAFKA_TOPIC"), ("database_url", "DATABASE_URL"))


def client_source(settings: Settings, key: str) -> str:
    """Where a librdkafka client setting came from: a profile, a client config file, -X, or its KAFKA_* variable's source."""
    origin = settings.client_origins.get(key)
    if origin:
        return "command-line -X" if origin == "-X" else origin
    names = {"security.protocol": "security_protocol", "sasl.mechanism": "sasl_mechanism", "sasl.username": "sasl_username", "sasl.password": "sasl_password"}
    names |= {k: k.replace(".", "_") for k in ("ssl.ca.location", "ssl.certificate.location", "ssl.key.location", "ssl.key.password")}
    return _source(settings, names.get(key, key))


def where_from(settings: Settings) -> dict[str, object]:
    """Each connection setting's value (secrets masked) and where it came from: for status and doctor --json."""
    from kafkaops.profiles import is_secret
    from kafkaops.redact import MASK, redact_dsn

    doc: dict[str, object] = {"profile": settings.profile, "profile_file": str(settings.profile_file) if settings.profile_file else None}
    for name, var in _SHOWN:
        value = getattr(settings, name)
        doc[var] = {"value": redact_dsn(value) if name == "database_url" else value, "source": _source(settings, name)}
    doc["client"] = {
        key: {"value": MASK if is_secret(key) else value, "source": client_source(settings, key)} for key, value in sorted(settings.client_security.items())
    }
    return doc
