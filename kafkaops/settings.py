"""Settings: one object built from flags, then the environment, then a ``.env`` file, then a profile, then the stack record, then defaults.

The stack record (``KAFKAOPS_HOME/stack.json``) is written by kafkaops itself when a command changes what
the local stack is (``migrate`` moves it to new configs, ``upgrade`` to new binaries); it holds only the
variables in ``RECORD_FIELDS`` and never a secret.

It is built once per command and passed down explicitly; nothing below the CLI reads the environment. Every variable here is listed in ``.env.example``.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING

from kafkaops.errors import UsageError
from kafkaops.stack_record import read_stack_record

if TYPE_CHECKING:
    from kafkaops.profiles import Chosen

DEFAULT_KAFKA_VERSION = "3.9.2"
# The newest Kafka 4.x on Maven Central that resolves and starts on Java 17 (checked at 4.4.0).
DEFAULT_KRAFT_VERSION = "4.4.0"
MODES = ("zookeeper", "kraft")
DEFAULT_TOPIC = "db_live_events"


@dataclass(frozen=True)
class Var:
    """One setting: its environment variable, its default, and what it means."""

    env: str
    default: str | None
    help: str


# Field name -> variable. The order is the order of .env.example.
VARIABLES: dict[str, Var] = {
    "kafka_home": Var("KAFKA_HOME", None, "A Kafka installation (libs/ and config/). Default: the one `kafkaops install` put under KAFKAOPS_HOME."),
    "kafkaops_home": Var("KAFKAOPS_HOME", None, "kafkaops's own state: pid files, service logs, data of installed distributions. Default: a per-user folder."),
    "kafka_broker": Var(
        "KAFKA_BROKER", None, "Bootstrap address clients use. Default: the broker's advertised listener from server.properties, else localhost:9092."
    ),
    "zookeeper_connect": Var("ZOOKEEPER_CONNECT", None, "ZooKeeper address. Default: zookeeper.connect from server.properties, else localhost:2181."),
    "kafka_client_id": Var("KAFKA_CLIENT_ID", "kafkaops", "client.id the producer and admin clients use."),
    "kafka_topic": Var("KAFKA_TOPIC", DEFAULT_TOPIC, "The pipeline's topic."),
    "topic_partitions": Var("KAFKA_TOPIC_PARTITIONS", "1", "Partitions for KAFKA_TOPIC when `up` creates it."),
    "topic_replication_factor": Var("KAFKA_TOPIC_REPLICATION_FACTOR", "1", "Replication factor for KAFKA_TOPIC when `up` creates it."),
    "database_url": Var("DATABASE_URL", None, "PostgreSQL connection string. Unset: kafkaops runs an embedded PostgreSQL under KAFKAOPS_HOME."),
    "embedded_db": Var("KAFKAOPS_EMBEDDED_DB", "auto", "auto: `up`/`down` run kafkaops's own PostgreSQL when DATABASE_URL is unset; off: never."),
    "embedded_db_port": Var(
        "KAFKAOPS_EMBEDDED_DB_PORT",
        None,
        "TCP port of the embedded PostgreSQL (localhost only). Default: the port chosen at its first start (54329 when free, else a free one); a new value takes effect at its next start.",
    ),
    "server_properties": Var("KAFKAOPS_SERVER_PROPERTIES", None, "The broker config. Default: KAFKA_HOME/config/server.properties."),
    "zookeeper_properties": Var("KAFKAOPS_ZOOKEEPER_PROPERTIES", None, "The ZooKeeper config. Default: KAFKA_HOME/config/zookeeper.properties."),
    "java": Var("KAFKAOPS_JAVA", None, "The java executable. Default: JAVA_HOME/bin/java, else java on PATH."),
    "kafka_heap": Var("KAFKAOPS_KAFKA_HEAP", "512m", "Broker heap (-Xms and -Xmx)."),
    "zookeeper_heap": Var("KAFKAOPS_ZOOKEEPER_HEAP", "256m", "ZooKeeper heap (-Xms and -Xmx)."),
    "jvm_opts": Var("KAFKAOPS_JVM_OPTS", "", "Extra JVM options for both services, space-separated."),
    "cds": Var(
        "KAFKAOPS_CDS",
        "on",
        "on: the JVMs kafkaops starts share a class-data archive (made at a service's first start, under KAFKAOPS_HOME/cds) and start faster; off: never.",
    ),
    "start_timeout": Var("KAFKAOPS_START_TIMEOUT", "120", "Seconds each service may take to become ready."),
    "stop_timeout": Var("KAFKAOPS_STOP_TIMEOUT", "60", "Seconds each service may take to shut down cleanly."),
    "lock_timeout": Var("KAFKAOPS_LOCK_TIMEOUT", "600", "Seconds up, down and reset wait for another of them on the same KAFKAOPS_HOME to finish."),
    "kafka_version": Var(
        "KAFKAOPS_KAFKA_VERSION",
        None,
        f"Kafka version `install` fetches and the default KAFKA_HOME uses. Default: the release in KAFKA_HOME when it is set, else {DEFAULT_KAFKA_VERSION} (ZooKeeper mode), {DEFAULT_KRAFT_VERSION} in KRaft mode; a 4.x version implies KRaft.",
    ),
    "mode": Var(
        "KAFKAOPS_MODE",
        "zookeeper",
        "zookeeper (the procedure's stack) or kraft (Kafka 4.x): which installation is used when KAFKA_HOME is unset. A config's own mode (process.roles in server.properties) always wins.",
    ),
    "security_protocol": Var("KAFKA_SECURITY_PROTOCOL", None, "Remote clusters: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL."),
    "sasl_mechanism": Var("KAFKA_SASL_MECHANISM", None, "Remote clusters: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512."),
    "sasl_username": Var("KAFKA_SASL_USERNAME", None, "Remote clusters: SASL user name."),
    "sasl_password": Var("KAFKA_SASL_PASSWORD", None, "Remote clusters: SASL password (never printed)."),
    "ssl_ca_location": Var("KAFKA_SSL_CA_LOCATION", None, "Remote clusters: CA certificate file."),
    "ssl_certificate_location": Var("KAFKA_SSL_CERTIFICATE_LOCATION", None, "Remote clusters: client certificate file."),
    "ssl_key_location": Var("KAFKA_SSL_KEY_LOCATION", None, "Remote clusters: client key file."),
    "ssl_key_password": Var("KAFKA_SSL_KEY_PASSWORD", None, "Remote clusters: client key password (never printed)."),
    "profile": Var("KAFKAOPS_PROFILE", None, "The profile (in profiles.toml) to use; --profile. Default: the file's default profile (`kafkaops profile use`)."),
    "config_dir": Var("KAFKAOPS_CONFIG_DIR", None, "Folder of profiles.toml. Default: the platform's user config folder (e.g. ~/.config/kafkaops)."),
    "client_config": Var(
        "KAFKAOPS_CLIENT_CONFIG", None, "A Java-properties client config file (like --command-config of Kafka's scripts) applied to every Kafka client."
    ),
    "connect_url": Var(
        "KAFKA_CONNECT_URL", None, "REST URL of a remote Kafka Connect cluster (connect status, cdc). Unset: the workers `kafkaops connect up` runs here."
    ),
    "connect_home": Var(
        "KAFKAOPS_CONNECT_HOME", None, "The Connect runtime and plugins `install --with connect` lays out. Default: KAFKAOPS_HOME/connect/<Kafka version>."
    ),
}


def default_kafkaops_home() -> Path:
    from kafkaops.userdirs import user_data_dir

    return user_data_dir()


@dataclass(frozen=True)
class Settings:
    kafkaops_home: Path
    kafka_home: Path
    kafka_broker: str
    zookeeper_connect: str
    kafka_client_id: str
    kafka_topic: str
    topic_partitions: int
    topic_replication_factor: int
    database_url: str | None
    embedded_db: bool
    server_properties: Path
    zookeeper_properties: Path
    java: str
    kafka_heap: str
    zookeeper_heap: str
    jvm_opts: tuple[str, ...]
    start_timeout: float
    stop_timeout: float
    kafka_version: str
    embedded_db_port: int | None = None  # None: the port the embedded PostgreSQL chose at its first start
    lock_timeout: float = 600.0
    client_security: dict[str, str] = field(default_factory=dict)
    env_file: Path | None = None  # the .env file that was read, if any
    sources: dict[str, str] = field(default_factory=dict)  # setting -> "flag" | "env" | ".env" | "default" | "config"
    cds: bool = True  # KAFKAOPS_CDS: class-data sharing archives for the JVMs kafkaops starts
    mode: str = "zookeeper"  # zookeeper | kraft: from server.properties when it can be read, else KAFKAOPS_MODE
    profile: str | None = None  # the profile in use, if any
    profile_file: Path | None = None  # the profiles.toml it came from
    client_origins: dict[str, str] = field(default_factory=dict)  # client key -> where it came from, when not a KAFKA_* variable
    warnings: tuple[str, ...] = ()  # for the user, said once on stderr by the CLI (a readable profile file, dropped Java keys)
    connect_url: str | None = None  # KAFKA_CONNECT_URL: a remote Connect cluster's REST URL
    connect_home: Path = Path("connect")  # KAFKAOPS_CONNECT_HOME (load_settings: KAFKAOPS_HOME/connect/<version>)

    @property
    def kraft(self) -> bool:
        return self.mode == "kraft"

    # kafkaops's own folders
    @property
    def run_dir(self) -> Path:
        return self.kafkaops_home / "run"

    @property
    def logs_dir(self) -> Path:
        return self.kafkaops_home / "logs"

    @property
    def dists_dir(self) -> Path:
        return self.kafkaops_home / "kafka"

    @property
    def data_dir(self) -> Path:
        return self.kafkaops_home / "data"

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


def _java_default(env: Mapping[str, str]) -> str:
    java_home = env.get("JAVA_HOME")
    exe = "java.exe" if sys.platform == "win32" else "java"
    if java_home and (Path(java_home) / "bin" / exe).exists():
        return str(Path(java_home) / "bin" / exe)
    return "java"


def _positive_int(name: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise UsageError(f"{name}={raw!r} is not a whole number") from None
    if value < 1:
        raise UsageError(f"{name} must be at least 1 (got {value})")
    return value


def _positive_float(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise UsageError(f"{name}={raw!r} is not a number of seconds") from None
    if value <= 0:
        raise UsageError(f"{name} must be more than 0 seconds (got {value})")
    return value


def _port(name: str, raw: str | None) -> int | None:
    if not raw:
        return None
    value = _positive_int(name, raw.strip())
    if value > 65535:
        raise UsageError(f"{name} must be a TCP port from 1 to 65535 (got {value})")
    return value


def _on_off(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("on", "true", "1", "yes"):
        return True
    if value in ("off", "false", "0", "no"):
        return False
    raise UsageError(f"{name}={raw!r} must be on or off")


def _embedded_db(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("auto", "on", "true", "1", "yes"):
        return True
    if value in ("off", "false", "0", "no", "none"):
        return False
    raise UsageError(f"KAFKAOPS_EMBEDDED_DB={raw!r} must be auto or off")


def read_env_file(path: Path) -> dict[str, str]:
    """The variables of a ``.env`` file, parsed by python-dotenv.

    A file that is not UTF-8 text, or a line python-dotenv cannot parse (it would only log a warning
    and drop the line, so the defaults would silently win), is a usage error naming the file and line.
    Values are never shown: a line may hold a password.
    """
    import io

    from dotenv import dotenv_values
    from dotenv.parser import parse_stream

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}", hint="make it readable, or name another file with --env-file") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"{path} is not a UTF-8 text file (byte {exc.start} is 0x{data[exc.start]:02x})",
            hint="save it as UTF-8 text with one KEY=VALUE per line, or name another file with --env-file",
        ) from None
    for binding in parse_stream(io.StringIO(text)):
        if binding.error:
            raise _env_syntax_error(path, binding.original.string, binding.original.line)
    return {k: v for k, v in dotenv_values(stream=io.StringIO(text)).items() if v is not None}


_ENV_QUOTED = re.compile(r"\s*(?:export\s+)?([^=#\s]+)\s*=\s*([\"'])")


def _env_syntax_error(path: Path, statement: str, line: int) -> UsageError:
    # python-dotenv counts a statement from the blank lines before it: report the line with text.
    stripped = statement.lstrip()
    line += statement[: len(statement) - len(stripped)].count("\n")
    quoted = _ENV_QUOTED.match(stripped)
    if quoted:
        return UsageError(
            f"{path}, line {line}: the value of {quoted.group(1)} opens a quote ({quoted.group(2)}) that is never closed",
            hint=f"close the quote on line {line} of {path} (or remove the line); kafkaops does not guess",
        )
    return UsageError(f"{path}, line {line} is not KEY=VALUE", hint=f"fix line {line} of {path} or comment it out with #")


def _dotenv_file(env_file: Path | None, cwd: Path) -> Path | None:
    """The ``.env`` file to read: ``env_file`` (which must exist), else ``<cwd>/.env`` when present."""
    if env_file is not None:
        if not env_file.is_file():
            raise UsageError(f"--env-file {env_file} does not exist", hint="give an existing file or leave --env-file out")
        return env_file
    return cwd / ".env" if (cwd / ".env").is_file() else None


def _raw_values(flags: Mapping[str, object], env: Mapping[str, str], dotenv: Mapping[str, str]) -> tuple[dict[str, str | None], dict[str, str]]:
    """Each variable's raw value and where it came from: flag, env, .env, else default (``_fill_in`` then takes
    the profile's and the stack record's values for those left at their default)."""
    raw: dict[str, str | None] = {}
    sources: dict[str, str] = {}
    for name, var in VARIABLES.items():
        if name in flags:
            raw[name], sources[name] = str(flags[name]), "flag"
        elif env.get(var.env) not in (None, ""):
            raw[name], sources[name] = env[var.env], "env"
        elif dotenv.get(var.env) not in (None, ""):
            raw[name], sources[name] = dotenv[var.env], ".env"
        else:
            raw[name], sources[name] = var.default, "default"
    return raw, sources


def _fill_in(raw: dict[str, str | None], sources: dict[str, str], profile: Mapping[str, Callable[[], str]], record: Mapping[str, str]) -> None:
    """A value no flag, env or .env gave: the profile's, else the stack record's. A profile's value is a
    callable: a secret it refers to is read only when that value is the one used."""
    for name in [n for n, source in sources.items() if source == "default"]:
        if name in profile:
            raw[name], sources[name] = profile[name](), "profile"
        elif record.get(name):
            raw[name], sources[name] = record[name], "stack record"


_SECURITY_KEYS = {
    "security_protocol": "security.protocol",
    "sasl_mechanism": "sasl.mechanism",
    "sasl_username": "sasl.username",
    "sasl_password": "sasl.password",
    "ssl_ca_location": "ssl.ca.location",
    "ssl_certificate_location": "ssl.certificate.location",
    "ssl_key_location": "ssl.key.location",
    "ssl_key_password": "ssl.key.password",
}


def _profile(raw: Mapping[str, str | None], sources: Mapping[str, str], env: Mapping[str, str]) -> Chosen | None:
    from kafkaops.profiles import choose, config_dir

    folder = Path(raw["config_dir"]).expanduser() if raw["config_dir"] else config_dir(env)
    return choose(raw["profile"], "--profile" if sources["profile"] == "flag" else "KAFKAOPS_PROFILE", folder, env)


def _client_settings(
    raw: Mapping[str, str | None], sources: Mapping[str, str], chosen: Chosen | None, x_items: tuple[str, ...]
) -> tuple[dict[str, str], dict[str, str], list[str]]:
    from kafkaops.client_config import client_settings

    shorthands = [(key, raw[name], sources[name]) for name, key in _SECURITY_KEYS.items() if raw[name]]
    config = (Path(raw["client_config"]).expanduser(), sources["client_config"]) if raw["client_config"] else None
    return client_settings(chosen, config, shorthands, x_items)  # type: ignore[arg-type]


def _path(raw: str | None, default: Path) -> Path:
    return Path(raw).expanduser() if raw else default


def load_settings(
    flags: Mapping[str, object | None] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    env_file: Path | None = None,
    cwd: Path | None = None,
) -> Settings:
    """Build the settings: flags, then ``env``, then the ``.env`` file, then the profile, then the stack record, then defaults.

    ``env_file`` None means ``<cwd>/.env`` if it exists; an explicit file that is missing is an error.
    """
    env = dict(os.environ if env is None else env)
    used_env_file = _dotenv_file(env_file, cwd or Path.cwd())
    dotenv = read_env_file(used_env_file) if used_env_file is not None else {}
    given = {k: v for k, v in (flags or {}).items() if v is not None}
    x_items: tuple[str, ...] = tuple(given.pop("client_x", None) or ())  # type: ignore[arg-type]
    raw, sources = _raw_values(given, env, dotenv)  # KAFKAOPS_HOME, the profile and its folder: never from a profile or the record
    home = Path(raw["kafkaops_home"]).expanduser() if raw["kafkaops_home"] else default_kafkaops_home()  # the per-user folder only when needed
    record = read_stack_record(home)
    chosen = _profile(raw, sources, {**dotenv, **env})
    _fill_in(raw, sources, chosen.fields() if chosen else {}, record)
    if sources["kafka_version"] == "default" and raw["kafka_home"]:  # a Kafka folder given without a version: the one it holds
        installed = installed_kafka_version(Path(raw["kafka_home"]).expanduser())
        if installed:
            raw["kafka_version"], sources["kafka_version"] = installed, "installation"
    requested_mode, version = _mode_and_version(raw, sources)
    kafka_home = _path(raw["kafka_home"], home / "kafka" / version)
    server_props = _path(raw["server_properties"], kafka_home / "config" / "server.properties")
    found = config_mode(server_props)  # a config says what it is: never guessed from the version
    mode = found or requested_mode
    if found is not None and (found != requested_mode or sources["mode"] == "default"):
        sources["mode"] = "config"
    derived_broker, derived_zk = _endpoints_from_config(server_props) if raw["kafka_broker"] is None or raw["zookeeper_connect"] is None else (None, None)
    for name, derived, fallback in (("kafka_broker", derived_broker, "localhost:9092"), ("zookeeper_connect", derived_zk, "localhost:2181")):
        if raw[name] is None:
            raw[name], sources[name] = (derived, "config") if derived else (fallback, "default")
    client, origins, warnings = _client_settings(raw, sources, chosen, x_items)
    return Settings(
        kafkaops_home=home,
        kafka_home=kafka_home,
        kafka_broker=raw["kafka_broker"] or "localhost:9092",
        zookeeper_connect=raw["zookeeper_connect"] or "localhost:2181",
        kafka_client_id=raw["kafka_client_id"] or "kafkaops",
        kafka_topic=raw["kafka_topic"] or DEFAULT_TOPIC,
        topic_partitions=_positive_int("KAFKA_TOPIC_PARTITIONS", raw["topic_partitions"] or "1"),
        topic_replication_factor=_positive_int("KAFKA_TOPIC_REPLICATION_FACTOR", raw["topic_replication_factor"] or "1"),
        database_url=raw["database_url"] or None,
        embedded_db=_embedded_db(raw["embedded_db"] or "auto"),
        server_properties=server_props,
        zookeeper_properties=_path(raw["zookeeper_properties"], kafka_home / "config" / "zookeeper.properties"),
        java=raw["java"] or _java_default(env),
        kafka_heap=raw["kafka_heap"] or "512m",
        zookeeper_heap=raw["zookeeper_heap"] or "256m",
        jvm_opts=tuple((raw["jvm_opts"] or "").split()),
        cds=_on_off("KAFKAOPS_CDS", raw["cds"] or "on"),
        start_timeout=_positive_float("KAFKAOPS_START_TIMEOUT", raw["start_timeout"] or "120"),
        stop_timeout=_positive_float("KAFKAOPS_STOP_TIMEOUT", raw["stop_timeout"] or "60"),
        kafka_version=version,
        embedded_db_port=_port("KAFKAOPS_EMBEDDED_DB_PORT", raw["embedded_db_port"]),
        lock_timeout=_positive_float("KAFKAOPS_LOCK_TIMEOUT", raw["lock_timeout"] or "600"),
        client_security=client,
        client_origins=origins,
        env_file=used_env_file,
        sources=sources,
        mode=mode,
        profile=chosen.profile.name if chosen else None,
        profile_file=chosen.file.path if chosen else None,
        warnings=tuple(warnings),
        connect_url=(raw["connect_url"] or "").rstrip("/") or None,
        connect_home=_path(raw["connect_home"], home / "connect" / version),
    )


def _mode_and_version(raw: Mapping[str, str | None], sources: Mapping[str, str]) -> tuple[str, str]:
    """KAFKAOPS_MODE and the Kafka version: a 4.x version implies KRaft; KRaft without a version is 4.x's default."""
    mode = (raw["mode"] or "zookeeper").strip().lower()
    if mode not in MODES:
        raise UsageError(f"KAFKAOPS_MODE={raw['mode']!r} must be zookeeper or kraft")
    version = raw["kafka_version"] or DEFAULT_KAFKA_VERSION
    explicit_version = sources["kafka_version"] != "default"
    version_kraft = explicit_version and version.split(".")[0].isdigit() and int(version.split(".")[0]) >= 4
    if sources["mode"] == "default":
        return ("kraft" if version_kraft else "zookeeper"), version
    if explicit_version and version_kraft and mode == "zookeeper":  # 3.x runs either mode (a migrated stack is KRaft on 3.9)
        raise UsageError(
            f"Kafka {version} does not run in {mode} mode (KAFKAOPS_MODE / --mode)",
            hint="Kafka 4.x runs only in KRaft mode: drop one of the two settings (or migrate the stack first: kafkaops migrate --to kraft)",
        )
    return mode, version if explicit_version or mode == "zookeeper" else DEFAULT_KRAFT_VERSION


def installed_kafka_version(kafka_home: Path) -> str | None:
    """The Kafka release in a folder, from its ``libs/kafka_2.13-<version>.jar``; None when it holds none."""
    for jar in (kafka_home / "libs").glob("kafka_2.*-*.jar"):
        name = jar.stem  # kafka_2.13-3.9.2
        if name.count("-") == 1:
            return name.split("-", 1)[1]
    return None


def config_mode(server_props: Path) -> str | None:
    """ "kraft" when a broker config has process.roles, "zookeeper" when it has none, None when it cannot be read."""
    if not server_props.is_file():
        return None
    from kafkaops.adapters.javaprops import read_properties
    from kafkaops.errors import ConfigError

    try:
        props = read_properties(server_props)
    except ConfigError:
        return None
    return "kraft" if (props.get("process.roles") or "").strip() else "zookeeper"


def _endpoints_from_config(server_props: Path) -> tuple[str | None, str | None]:
    """The broker's advertised address and its zookeeper.connect, when its config can be read."""
    if not server_props.is_file():
        return None, None
    from kafkaops.adapters.javaprops import parse_listeners, read_properties
    from kafkaops.errors import ConfigError

    try:
        props = read_properties(server_props)
        listeners = parse_listeners(props.get("advertised.listeners") or props.get("listeners"))
    except ConfigError:
        return None, None
    broker = None
    plain = [lst for lst in listeners if lst.name == "PLAINTEXT"] or listeners
    if plain:
        host = plain[0].host or "localhost"
        if host in ("0.0.0.0", "::"):
            host = "localhost"
        broker = f"{host}:{plain[0].port}"
    return broker, props.get("zookeeper.connect")


def field_names() -> list[str]:
    return [f.name for f in fields(Settings)]
