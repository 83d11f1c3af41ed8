"""Named profiles: one TOML file of clusters a user talks to, in the platform's user config folder.

The file (``profiles.toml``; folder: ``KAFKAOPS_CONFIG_DIR``, else ``$XDG_CONFIG_HOME/kafkaops`` or
``~/.config/kafkaops`` on Linux, ``~/Library/Application Support/kafkaops`` on macOS,
``%APPDATA%\\kafkaops`` on Windows)::

    default = "prod"

    [profiles.prod]
    broker = "kafka1.example.com:9093"
    zookeeper = "zk1.example.com:2181"          # optional
    database_url = {env = "PROD_DATABASE_URL"}  # any value may be a reference
    topic = "db_live_events"
    client_config = "~/prod-client.properties"  # optional: a --command-config file of Kafka's scripts

    [profiles.prod.client]                       # any librdkafka setting
    "security.protocol" = "SASL_SSL"
    "sasl.mechanism" = "SCRAM-SHA-512"
    "sasl.username" = "alice"
    "sasl.password" = {env = "PROD_KAFKA_PASSWORD"}     # read from the environment when used
    "ssl.key.password" = {file = "~/.secrets/prod-key"}  # or from a file (first line; relative to this folder)

Secrets are meant to sit in the environment or in a file that the profile names, not in the profile;
``kafkaops profile show`` and ``list`` print references as ``env:NAME`` / ``file:PATH`` and any
literal secret as ``***``. A profile file readable by group or others is warned about (POSIX only:
on Windows the file's ACL is not checked).

This module reads and writes the file and resolves references; it never prints.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kafkaops.errors import UsageError

FILE_NAME = "profiles.toml"
# profile key -> settings field
FIELDS = {
    "broker": "kafka_broker",
    "zookeeper": "zookeeper_connect",
    "database_url": "database_url",
    "topic": "kafka_topic",
    "client_id": "kafka_client_id",
    "client_config": "client_config",  # a Java-properties client config file, as --client-config
}
REF_KINDS = ("env", "file")
_HINT_EDIT = "fix it with `kafkaops profile add NAME --force ...`, or edit the file (TOML)"


def config_dir(env: Mapping[str, str]) -> Path:
    """Where profiles.toml lives: KAFKAOPS_CONFIG_DIR, else the platform's user config folder."""
    if env.get("KAFKAOPS_CONFIG_DIR"):
        return Path(env["KAFKAOPS_CONFIG_DIR"]).expanduser()
    from kafkaops.userdirs import user_config_dir

    return user_config_dir()


def profiles_path(env: Mapping[str, str]) -> Path:
    return config_dir(env) / FILE_NAME


@dataclass(frozen=True)
class Ref:
    """A value kept outside the profile: an environment variable or a file."""

    kind: str  # env | file
    target: str

    def shown(self) -> str:
        return f"{self.kind}:{self.target}"


Value = str | Ref


@dataclass(frozen=True)
class Profile:
    name: str
    values: dict[str, Value]  # broker, zookeeper, database_url, topic, client_id
    client: dict[str, Value] = field(default_factory=dict)  # librdkafka key -> value


@dataclass(frozen=True)
class ProfileFile:
    path: Path
    default: str | None
    profiles: dict[str, Profile]
    exists: bool = True

    def get(self, name: str) -> Profile:
        if name not in self.profiles:
            from kafkaops.text import close_matches

            near = close_matches(name, list(self.profiles), n=3, cutoff=0.6)
            known = ", ".join(sorted(self.profiles)) or "none"
            raise UsageError(
                f"no profile named {name!r} in {self.path}" + (f" (did you mean {', '.join(near)}?)" if near else ""),
                hint=f"profiles there: {known}; add one with `kafkaops profile add {name} --broker HOST:PORT`",
            )
        return self.profiles[name]


def _value(where: str, raw: Any) -> Value:
    if isinstance(raw, dict):
        if len(raw) == 1 and next(iter(raw)) in REF_KINDS and isinstance(next(iter(raw.values())), str):
            kind, target = next(iter(raw.items()))
            return Ref(kind, target)
        raise UsageError(f'{where} must be a text value, {{env = "NAME"}} or {{file = "PATH"}}', hint=_HINT_EDIT)
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, int | float | str):
        return str(raw)
    raise UsageError(f'{where} must be a text value, {{env = "NAME"}} or {{file = "PATH"}}', hint=_HINT_EDIT)


def _flatten(where: str, table: Mapping[str, Any], prefix: str = "") -> dict[str, Value]:
    """librdkafka keys written quoted ("sasl.password") or dotted (sasl.password, a nested table in TOML)."""
    out: dict[str, Value] = {}
    for key, raw in table.items():
        full = f"{prefix}{key}"
        is_ref = isinstance(raw, dict) and len(raw) == 1 and next(iter(raw)) in REF_KINDS
        if isinstance(raw, dict) and not is_ref:
            out.update(_flatten(where, raw, full + "."))
        else:
            out[full] = _value(f"{where}: {full}", raw)
    return out


def _profile(path: Path, name: str, raw: Any) -> Profile:
    where = f"{path}: profile {name}"
    if not isinstance(raw, dict):
        raise UsageError(f"{where} is not a table", hint=_HINT_EDIT)
    unknown = sorted(set(raw) - set(FIELDS) - {"client"})
    if unknown:
        raise UsageError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join([*FIELDS, 'client'])})", hint=_HINT_EDIT)
    client = raw.get("client", {})
    if not isinstance(client, dict):
        raise UsageError(f"{where}: client must be a table of librdkafka settings", hint=_HINT_EDIT)
    values = {key: _value(f"{where}: {key}", raw[key]) for key in FIELDS if key in raw}
    return Profile(name, values, _flatten(f"{where}: client", client))


def read_file(path: Path) -> ProfileFile:
    """The profiles in ``path`` (none when the file does not exist)."""
    import tomllib

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ProfileFile(path, None, {}, exists=False)
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read the profile file {path}: {exc}", hint="make it a readable UTF-8 TOML file") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path} is not valid TOML: {exc}", hint=_HINT_EDIT) from None
    profiles = data.get("profiles", {})
    if not isinstance(profiles, dict):
        raise UsageError(f"{path}: profiles must be a table ([profiles.NAME])", hint=_HINT_EDIT)
    default = data.get("default")
    if default is not None and not isinstance(default, str):
        raise UsageError(f"{path}: default must be a profile name", hint="set it with `kafkaops profile use NAME`")
    return ProfileFile(path, default or None, {name: _profile(path, name, raw) for name, raw in profiles.items()})


def loose_permissions(path: Path) -> str | None:
    """A warning when the file is readable by group or others (POSIX; Windows ACLs are not checked)."""
    if sys.platform == "win32":
        return None
    try:
        mode = path.stat().st_mode & 0o777
    except OSError:
        return None
    if mode & 0o044:
        return f"the profile file {path} is readable by other users (mode {mode:04o}): run `chmod 600 {path}`"
    return None


def resolve(profile: Profile, value: Value, key: str, env: Mapping[str, str], base: Path) -> str:
    """A value, with a reference read from the environment or its file (first line, whitespace stripped)."""
    if isinstance(value, str):
        return value
    if value.kind == "env":
        found = env.get(value.target)
        if not found:
            raise UsageError(
                f"profile {profile.name}: {key} comes from the environment variable {value.target}, which is not set",
                hint=f"export {value.target}=... (or change the reference in {base / FILE_NAME})",
            )
        return found
    path = (base / Path(value.target).expanduser()) if not Path(value.target).expanduser().is_absolute() else Path(value.target).expanduser()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        reason = "no such file" if isinstance(exc, FileNotFoundError) else str(exc)
        raise UsageError(
            f"profile {profile.name}: {key} comes from the file {path}: {reason}", hint="create the file with the secret on its first line"
        ) from None
    return lines[0].strip() if lines else ""


# ---- writing: the file is small and kafkaops's own; a tiny writer of what read_file reads ----


def _toml_str(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # JSON's escapes (\" \\ \n \uXXXX) are TOML basic-string escapes


def _toml_value(value: Value) -> str:
    if isinstance(value, Ref):
        return f"{{{value.kind} = {_toml_str(value.target)}}}"
    return _toml_str(value)


def render(default: str | None, profiles: Mapping[str, Profile]) -> str:
    lines = ["# kafkaops profiles: `kafkaops profile --help`. Rewritten by profile add/use/remove (comments are not kept).", ""]
    if default:
        lines += [f"default = {_toml_str(default)}", ""]
    for name, prof in profiles.items():
        lines.append(f"[profiles.{_toml_str(name)}]")
        lines += [f"{key} = {_toml_value(value)}" for key, value in prof.values.items()]
        if prof.client:
            lines += ["", f"[profiles.{_toml_str(name)}.client]"]
            lines += [f"{_toml_str(key)} = {_toml_value(value)}" for key, value in prof.client.items()]
        lines.append("")
    return "\n".join(lines)


def write_file(path: Path, default: str | None, profiles: Mapping[str, Profile]) -> None:
    """Write the whole file, readable by its owner only, and rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(render(default, profiles))
    if sys.platform != "win32":
        os.chmod(tmp, 0o600)  # an older tmp file kept its mode
    os.replace(tmp, path)


@dataclass(frozen=True)
class Chosen:
    """The profile in use, and how its secrets are read (only when a value of it is the one used)."""

    file: ProfileFile
    profile: Profile
    env: Mapping[str, str]

    def getter(self, key: str, value: Value) -> Callable[[], str]:
        return lambda: resolve(self.profile, value, key, self.env, self.file.path.parent)

    def fields(self) -> dict[str, Callable[[], str]]:
        """Settings field -> its value's reader."""
        return {FIELDS[key]: self.getter(key, value) for key, value in self.profile.values.items()}

    def client(self) -> dict[str, Callable[[], str]]:
        return {key: self.getter(key, value) for key, value in self.profile.client.items()}

    @property
    def origin(self) -> str:
        return f"profile {self.profile.name} ({self.file.path})"

    def origin_of(self, key: str) -> str:
        """Where a client key of the profile is set: the profile, and the variable or file a reference reads."""
        value = self.profile.client.get(key)
        if isinstance(value, Ref):
            return f"{self.origin}, from {'env' if value.kind == 'env' else 'file'} {value.target}"
        return self.origin


def choose(name: str | None, named_by: str, folder: Path, env: Mapping[str, str]) -> Chosen | None:
    """The profile ``name`` (from ``named_by``), else the file's default; None without either."""
    path = folder / FILE_NAME
    if name is None and not path.is_file():
        return None
    found = read_file(path)
    name = name or found.default
    if name is None:
        return None
    if not found.exists:
        raise UsageError(f"{named_by}={name}, but there is no profile file {path}", hint=f"create the profile: kafkaops profile add {name} --broker HOST:PORT")
    return Chosen(found, found.get(name), env)


# ---- what profile list/show print, and the changes profile add/use/remove make ----

_ALWAYS_MASKED = ("sasl.jaas.config", "sasl.oauthbearer.config", "database_url")


def is_secret(key: str) -> bool:
    from kafkaops.redact import is_secret_key

    return is_secret_key(key) or key in _ALWAYS_MASKED


def shown(key: str, value: Value) -> str:
    """A value as list/show print it: a reference as env:NAME / file:PATH, a literal secret as ***, a DSN redacted."""
    from kafkaops.redact import MASK, redact_dsn

    if isinstance(value, Ref):
        return value.shown()
    if key == "database_url":
        return redact_dsn(value) or ""
    return MASK if is_secret(key) and value else value


def describe(profile: Profile, default: str | None) -> dict[str, Any]:
    """A profile as data, every secret masked."""
    return {
        "name": profile.name,
        "default": profile.name == default,
        **{key: shown(key, value) for key, value in profile.values.items()},
        "client": {key: shown(key, value) for key, value in profile.client.items()},
    }


def secret_in_plain(key: str, value: str) -> bool:
    """A value that must not be written into the profile as text (use a reference)."""
    if key == "database_url":
        from kafkaops.redact import redact_dsn

        return redact_dsn(value) != value
    return is_secret(key) and bool(value)


def add(path: Path, profile: Profile, *, replace: bool, make_default: bool) -> ProfileFile:
    """Add (or with ``replace``, replace) a profile; the file is written readable by its owner only."""
    found = read_file(path)
    if profile.name in found.profiles and not replace:
        raise UsageError(
            f"a profile named {profile.name!r} already exists in {path}",
            hint=f"add --force to replace it, or remove it first: kafkaops profile remove {profile.name}",
        )
    for key, value in [*profile.values.items(), *profile.client.items()]:
        if isinstance(value, str) and secret_in_plain(key, value):
            raise UsageError(
                f"{key} would be written into {path} as text",
                hint=f"keep it outside the profile: --secret-env KEY=VARIABLE or --secret-file KEY=PATH, with KEY {key}",
            )
    profiles = {**found.profiles, profile.name: profile}
    default = profile.name if make_default else found.default
    write_file(path, default, profiles)
    return ProfileFile(path, default, profiles)


def use(path: Path, name: str | None) -> ProfileFile:
    """Make ``name`` the default profile (None: no default)."""
    found = read_file(path)
    if name is not None:
        found.get(name)
    write_file(path, name, found.profiles)
    return ProfileFile(path, name, found.profiles)


def remove(path: Path, name: str) -> ProfileFile:
    found = read_file(path)
    found.get(name)
    profiles = {k: v for k, v in found.profiles.items() if k != name}
    default = None if found.default == name else found.default
    write_file(path, default, profiles)
    return ProfileFile(path, default, profiles)
