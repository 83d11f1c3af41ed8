"""Any librdkafka setting: ``-X key=value`` and Java client config files (``--client-config FILE``).

A ``--command-config`` file written for Kafka's own scripts holds Java client keys. Most have the same
name in librdkafka; these are translated:

- ``sasl.jaas.config``: ``ScramLoginModule`` / ``PlainLoginModule`` give ``sasl.username`` and
  ``sasl.password``; ``OAuthBearerLoginModule`` gives ``sasl.oauthbearer.client.id``,
  ``sasl.oauthbearer.client.secret``, ``sasl.oauthbearer.scope`` and ``sasl.oauthbearer.method=oidc``
  when the file has ``sasl.oauthbearer.token.endpoint.url`` (other ``sasl.oauthbearer.*`` keys pass as they are).
- ``ssl.truststore.location`` of a PEM file becomes ``ssl.ca.location``; a JKS or PKCS12 truststore is
  refused (librdkafka reads no Java truststore) with the command that exports its CA as PEM.
- ``ssl.keystore.location`` of a PKCS12 file stays (librdkafka reads PKCS12 with ``ssl.keystore.password``);
  a JKS keystore is refused with the keytool command that converts it to PKCS12.
- ``ssl.endpoint.identification.algorithm=`` (empty, Java's "off") becomes ``none``.
- Java-only keys (store types, truststore password, protocol lists, class names) are dropped and named
  in a warning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from kafkaops.errors import UsageError

if TYPE_CHECKING:
    from kafkaops.profiles import Chosen

_HINT_X = "write each client setting as -X key=value, e.g. -X security.protocol=SASL_SSL"
# Java client keys librdkafka has no equivalent for: dropped, and said so.
JAVA_ONLY = frozenset(
    {
        "ssl.truststore.type",
        "ssl.keystore.type",
        "ssl.truststore.password",
        "ssl.protocol",
        "ssl.enabled.protocols",
        "ssl.trustmanager.algorithm",
        "ssl.keymanager.algorithm",
        "ssl.secure.random.implementation",
        "sasl.login.callback.handler.class",
        "sasl.client.callback.handler.class",
        "sasl.login.class",
        "ssl.engine.factory.class",
    }
)
_JAAS = re.compile(r"^\s*([\w.$]+)\s+(required|requisite|sufficient|optional)\s*(.*?);?\s*$", re.S)
_JAAS_OPTION = re.compile(r"([\w.]+)\s*=\s*(\"(?:[^\"\\]|\\.)*\"|[^\s;]+)")


@dataclass
class ClientConfig:
    """librdkafka settings read from a file, each with where it came from, and what was dropped."""

    values: dict[str, str] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def parse_x(items: tuple[str, ...] | list[str]) -> dict[str, str]:
    """``-X key=value`` pairs (the last of a key wins)."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"-X {item.split('=')[0] if sep else item!r} is not key=value", hint=_HINT_X)
        out[key.strip()] = value
    return out


def parse_jaas(text: str) -> tuple[str, dict[str, str]]:
    """A ``sasl.jaas.config`` value: the login module's class name and its options."""
    found = _JAAS.match(text)
    if not found:
        raise UsageError('sasl.jaas.config is not `<LoginModule class> required key="value" ...;`', hint="fix sasl.jaas.config in the client config file")
    options = {}
    for key, raw in _JAAS_OPTION.findall(found.group(3)):
        options[key] = re.sub(r"\\(.)", r"\1", raw[1:-1]) if raw.startswith('"') else raw
    return found.group(1), options


def _jaas(cfg: ClientConfig, value: str, origin: str, has_token_url: bool) -> None:
    module, options = parse_jaas(value)
    short = module.rsplit(".", 1)[-1]
    from_jaas = f"{origin}, from sasl.jaas.config"
    if short in ("ScramLoginModule", "PlainLoginModule"):
        for java, rd in (("username", "sasl.username"), ("password", "sasl.password")):
            if java in options:
                cfg.values[rd], cfg.origins[rd] = options[java], from_jaas
        return
    if short == "OAuthBearerLoginModule":
        pairs = (("clientId", "sasl.oauthbearer.client.id"), ("clientSecret", "sasl.oauthbearer.client.secret"), ("scope", "sasl.oauthbearer.scope"))
        for java, rd in pairs:
            if java in options:
                cfg.values[rd], cfg.origins[rd] = options[java], from_jaas
        if has_token_url:
            cfg.values["sasl.oauthbearer.method"], cfg.origins["sasl.oauthbearer.method"] = "oidc", from_jaas
        return
    raise UsageError(
        f"sasl.jaas.config ({origin}) uses {short}, which kafkaops cannot translate for librdkafka",
        hint="use SCRAM, PLAIN or OAUTHBEARER, or give librdkafka's own keys with -X (e.g. sasl.kerberos.* for GSSAPI)",
    )


def _store_kind(path: Path) -> str:
    """pem, jks or pkcs12 (by the file's first bytes), or missing."""
    try:
        head = path.read_bytes()[:64]
    except OSError:
        return "missing"
    if head.startswith(b"\xfe\xed\xfe\xed") or head.startswith(b"\xce\xce\xce\xce"):
        return "jks"
    if b"-----BEGIN" in head or head.lstrip().startswith(b"-----"):
        return "pem"
    return "pkcs12" if head[:1] == b"\x30" else "unknown"


def _truststore(cfg: ClientConfig, location: str, origin: str) -> None:
    path = Path(location).expanduser()
    kind = _store_kind(path)
    if kind == "missing":
        raise UsageError(f"ssl.truststore.location={location} ({origin}): no such file", hint="give the path of the cluster's CA certificate")
    if kind != "pem":
        raise UsageError(
            f"ssl.truststore.location={location} ({origin}) is a {kind.upper()} truststore: librdkafka reads only PEM CA certificates",
            hint=f"export the CA as PEM (keytool -exportcert -rfc -keystore {location} -alias <ca alias> -file ca.pem; or "
            f"openssl pkcs12 -in {location} -nokeys -out ca.pem) and set ssl.truststore.location=ca.pem (or ssl.ca.location)",
        )
    cfg.values["ssl.ca.location"], cfg.origins["ssl.ca.location"] = location, f"{origin}, from ssl.truststore.location"


def _keystore(cfg: ClientConfig, location: str, origin: str) -> None:
    kind = _store_kind(Path(location).expanduser())
    if kind == "jks":
        raise UsageError(
            f"ssl.keystore.location={location} ({origin}) is a JKS keystore: librdkafka reads PKCS12 or PEM",
            hint=f"convert it: keytool -importkeystore -srckeystore {location} -destkeystore client.p12 -deststoretype PKCS12, "
            "then set ssl.keystore.location=client.p12",
        )
    cfg.values["ssl.keystore.location"], cfg.origins["ssl.keystore.location"] = location, origin


def from_java(props: dict[str, str], origin: str) -> ClientConfig:
    """librdkafka settings for a Java client config (see the module's docstring)."""
    cfg = ClientConfig()
    dropped = sorted(k for k in props if k in JAVA_ONLY)
    for key, value in props.items():
        if key in JAVA_ONLY:
            continue
        if key == "sasl.jaas.config":
            _jaas(cfg, value, origin, "sasl.oauthbearer.token.endpoint.url" in props)
        elif key == "ssl.truststore.location":
            _truststore(cfg, value, origin)
        elif key == "ssl.keystore.location":
            _keystore(cfg, value, origin)
        elif key == "ssl.endpoint.identification.algorithm":
            cfg.values[key], cfg.origins[key] = value.strip() or "none", origin
        else:
            cfg.values[key], cfg.origins[key] = value, origin
    if dropped:
        cfg.warnings.append(f"{origin}: ignored Java-only setting(s) librdkafka has no equivalent for: {', '.join(dropped)}")
    return cfg


def read_client_config(path: Path, named_by: str = "--client-config") -> ClientConfig:
    """A Java-properties client config file (``--client-config``), translated for librdkafka."""
    from kafkaops.adapters.javaprops import read_properties
    from kafkaops.errors import ConfigError

    if not path.is_file():
        raise UsageError(f"{named_by} {path}: no such file", hint="give the path of a Java-properties client config (key=value lines)")
    try:
        props = read_properties(path)
    except ConfigError as exc:
        raise UsageError(f"{named_by} {path}: {exc.message}", hint="fix the file (Java properties: key=value lines)") from None
    return from_java(dict(props.values), f"{named_by} {path}")


# Rank of a layer by where it was set: a setting given closer to the command wins (flags > env > .env > profile).
RANKS = {"default": 0, "profile": 1, ".env": 2, "env": 3, "flag": 4}


@dataclass
class Layer:
    """One source of client settings: its rank, and each key's value (or a callable reading a secret) and origin."""

    rank: int
    values: dict[str, object]  # str, or a zero-argument callable that returns the value when it is used
    origins: dict[str, str]


def merge(layers: list[Layer]) -> tuple[dict[str, str], dict[str, str]]:
    """The winning value of each key (a higher rank wins; within a rank, the later layer); secrets are read only when they win."""
    chosen: dict[str, tuple[object, str]] = {}
    for layer in sorted(layers, key=lambda la: la.rank):  # sorted() is stable: same-rank layers keep their order
        for key, value in layer.values.items():
            chosen[key] = (value, layer.origins.get(key, ""))
    values = {key: str(value() if callable(value) else value) for key, (value, _origin) in chosen.items()}
    return values, {key: origin for key, (_value, origin) in chosen.items() if origin}


def client_settings(
    chosen: Chosen | None, config: tuple[Path, str] | None, shorthands: list[tuple[str, str, str]], x_items: tuple[str, ...]
) -> tuple[dict[str, str], dict[str, str], list[str]]:
    """Every Kafka client's librdkafka settings, from low to high: the profile's client table, the client config
    file (at the rank of where it was named), the KAFKA_SASL_*/KAFKA_SSL_* shorthands (key, value, source), -X.

    Returns the settings, the origin of each one not set by a shorthand, and warnings for the user.
    """
    from kafkaops.profiles import loose_permissions

    layers, warnings = [], []
    if config is not None:  # a file the profile names ranks below the profile's own client table
        named_by = {"flag": "--client-config", "profile": "client_config of the profile"}.get(config[1], "KAFKAOPS_CLIENT_CONFIG")
        cfg = read_client_config(config[0], named_by)
        layers.append(Layer(RANKS.get(config[1], RANKS["flag"]), dict(cfg.values), cfg.origins))
        warnings += cfg.warnings
    if chosen is not None:
        layers.append(Layer(RANKS["profile"], dict(chosen.client()), {key: chosen.origin_of(key) for key in chosen.profile.client}))
        warnings += [w for w in [loose_permissions(chosen.file.path)] if w]
    layers += [Layer(RANKS.get(source, RANKS["flag"]), {key: value}, {}) for key, value, source in shorthands if source != "default"]
    x = parse_x(x_items)
    layers.append(Layer(RANKS["flag"] + 1, dict(x), dict.fromkeys(x, "-X")))
    values, origins = merge(layers)
    return values, origins, warnings
