"""kafkaops bundle: one archive a user can attach to a question, every secret masked.

What goes in: versions, kafkaops's settings with their sources, the services' .properties files, the
status and doctor documents (made by the caller, the same ones `status --json` / `doctor --json` print),
the last lines of each service log and the KAFKA*/KAFKAOPS*/DATABASE_URL environment variables. Each
part is masked where it is read (secret keys, DSN passwords, key=value secrets); then every known
secret value (from the settings, the environment and the properties files) is scrubbed from every
member once more, so that a secret that slipped into a message or a log line is masked too.
"""

from __future__ import annotations

import json
import platform
import re
import sys
import zipfile
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kafkaops.errors import KafkaopsError, RefusedError
from kafkaops.redact import MASK, is_secret_key, redact_dsn, redact_text
from kafkaops.settings import VARIABLES, Settings

ENV_PREFIXES = ("KAFKA", "KAFKAOPS")
ENV_NAMES = ("DATABASE_URL",)
# key=value / key: value where the key names a secret, inside any longer text (-Dssl.keystore.password=x, keyStorePassword: x)
_SECRET_PAIR = re.compile(r"(?i)([\w.-]*(?:password|passwd|secret|token|credential)[\w.-]*)(\s*[=:]\s*)(\"[^\"]*\"|'[^']*'|[^\s,;\"']+)")


def default_name(now: datetime | None = None) -> str:
    return f"kafkaops-bundle-{(now or datetime.now(UTC)):%Y%m%dT%H%M%SZ}.zip"


def is_secret(key: str) -> bool:
    return is_secret_key(key) or "jaas" in key.lower()


def mask_text(text: str) -> str:
    """A line of any text with DSN passwords and secret key=value pairs masked."""
    return _SECRET_PAIR.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", redact_text(text))


def mask_value(key: str, value: Any) -> Any:
    """A setting's value as shown in the bundle: a secret key's value is ***, a URL's password is ***."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, dict):
        return {str(k): mask_value(str(k), v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask_value(key, v) for v in value]
    text = str(value)
    if is_secret(key):
        return MASK if text else text
    return mask_text(redact_dsn(text) or text)


def mask_properties(text: str) -> str:
    """A Java .properties file with every secret key's value masked (comments and layout kept)."""
    out = []
    for line in text.splitlines():
        stripped = line.strip()
        key, sep, _ = stripped.partition("=") if "=" in stripped else stripped.partition(":")
        if stripped and not stripped.startswith(("#", "!")) and sep and is_secret(key.strip()):
            line = f"{key.strip()}{sep}{MASK}"
        out.append(mask_text(line))
    return "\n".join(out) + "\n"


def properties_secrets(text: str) -> list[str]:
    """The values of secret keys in a .properties file (to scrub wherever else they appear)."""
    found = []
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and not key.startswith(("#", "!")) and is_secret(key.strip()) and value.strip():
            found.append(value.strip())
    return found


def versions(settings: Settings, postgresql: str | None) -> dict[str, Any]:
    from kafkaops import __version__
    from kafkaops.adapters.java import find_java
    from kafkaops.procedures.services.config import kafka_version

    try:
        java: str | None = find_java(settings.java).version_line
    except KafkaopsError as exc:
        java = f"unknown: {exc.message}"
    return {
        "kafkaops": __version__,
        "python": sys.version.split()[0],
        "java": java,
        "kafka": kafka_version(settings.kafka_home) or f"not found under {settings.kafka_home}",
        "postgresql": postgresql or "not reachable (see doctor.json)",
        "os": platform.platform(),
        "mode": settings.mode,
    }


def settings_document(settings: Settings) -> dict[str, Any]:
    """Every setting: its variable, its (masked) value and where it came from."""
    env_names = {name: var.env for name, var in VARIABLES.items()}
    shown: dict[str, Any] = {}
    for f in fields(settings):
        if f.name in ("sources", "env_file"):
            continue
        value = getattr(settings, f.name)
        shown[f.name] = {"variable": env_names.get(f.name), "value": mask_value(env_names.get(f.name, f.name), value), "source": settings.sources.get(f.name)}
    return {"env_file": str(settings.env_file) if settings.env_file else None, "settings": shown}


def environment(env: dict[str, str]) -> dict[str, Any]:
    return {k: mask_value(k, v) for k, v in sorted(env.items()) if k.startswith(ENV_PREFIXES) or k in ENV_NAMES}


def config_files(settings: Settings) -> list[Path]:
    from kafkaops.procedures.services import controller_properties

    paths = [settings.server_properties, settings.zookeeper_properties]
    if settings.kraft:
        paths.append(controller_properties(settings))
    return [p for p in dict.fromkeys(paths) if p.is_file()]


def log_files(settings: Settings) -> dict[str, Path]:
    from kafkaops.adapters import embedded_pg
    from kafkaops.procedures.services import CONTROLLER, KAFKA, ZOOKEEPER, log_path

    found = {svc: log_path(settings, svc) for svc in (ZOOKEEPER, KAFKA, CONTROLLER)}
    found["postgresql"] = embedded_pg.log_path(settings)
    return {svc: p for svc, p in found.items() if p.is_file()}


def known_secrets(settings: Settings, env: dict[str, str], properties: list[str]) -> list[str]:
    """Every secret value kafkaops can know of: to scrub from the archive wherever it appears."""
    from kafkaops.adapters.postgres import password_in

    values = [v for k, v in settings.client_security.items() if is_secret(k)]
    values += [v for k, v in env.items() if is_secret(k)]
    values += [p for p in (password_in(settings.database_url or ""), password_in(env.get("DATABASE_URL", ""))) if p]
    values += properties
    return sorted({v for v in values if v and len(v) >= 3}, key=len, reverse=True)  # longest first: no half-masked secret


def _dump(data: Any) -> str:
    return json.dumps(data, indent=2, default=str) + "\n"


def build(settings: Settings, env: dict[str, str], *, status: dict[str, Any], doctor: dict[str, Any], postgresql: str | None, lines: int) -> dict[str, str]:
    """The archive's members (name -> text), masked; ``status`` and ``doctor`` are their --json documents."""
    from kafkaops.procedures.logs import last_lines

    members = {
        "versions.json": _dump(versions(settings, postgresql)),
        "settings.json": _dump(settings_document(settings)),
        "environment.json": _dump(environment(env)),
        "status.json": _dump(status),
        "doctor.json": _dump(doctor),
    }
    secrets: list[str] = []
    for path in config_files(settings):
        text = path.read_text(encoding="utf-8", errors="replace")
        secrets += properties_secrets(text)
        members[f"config/{path.name}"] = mask_properties(text)
    logs = log_files(settings)
    for service, path in logs.items():
        members[f"logs/{service}.log"] = "".join(mask_text(line) + "\n" for line in last_lines(path, lines))
    members["README.txt"] = _readme(status, sorted(logs), lines)
    for secret in known_secrets(settings, env, secrets):
        members = {name: text.replace(secret, MASK) for name, text in members.items()}
    return members


def _readme(status: dict[str, Any], logs: list[str], lines: int) -> str:
    up = status.get("up")
    state = (
        "the stack was up"
        if up
        else "NOT all services were up when this was made: "
        + ", ".join(f"{s.get('service')} {s.get('state')}" for s in status.get("services", []))
        + (f" ({status['error']})" if status.get("error") else "")
    )
    return (
        f"kafkaops bundle, made {datetime.now(UTC).isoformat(timespec='seconds')}\n"
        f"{state}\n\n"
        "versions.json     kafkaops, Python, Java, Kafka, PostgreSQL (when reachable), OS\n"
        "settings.json     kafkaops's settings, each with its variable and where it came from\n"
        "environment.json  the KAFKA*, KAFKAOPS* and DATABASE_URL environment variables\n"
        "status.json       `kafkaops status --json`\n"
        "doctor.json       `kafkaops doctor --json`\n"
        "config/           the services' .properties files\n"
        f"logs/             the last {lines} lines of each service log ({', '.join(logs) or 'none found'})\n\n"
        f"Passwords, secrets, tokens and DSN passwords are replaced by {MASK} everywhere.\n"
    )


def write(path: Path, members: dict[str, str]) -> Path:
    """Write the zip (members under one folder named like the file); an existing file is never overwritten."""
    if path.exists():
        raise RefusedError(f"{path} exists: not overwriting it", hint="name another file: kafkaops bundle FILE.zip")
    folder = path.name.removesuffix(".zip")
    try:
        with zipfile.ZipFile(path, "x", compression=zipfile.ZIP_DEFLATED) as zf:
            for name, text in members.items():
                zf.writestr(f"{folder}/{name}", text)
    except OSError as exc:
        raise KafkaopsError(f"cannot write {path}: {exc.strerror or exc}", hint="name a file in a folder you can write to") from None
    return path
