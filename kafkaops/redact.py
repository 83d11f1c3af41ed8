"""Keeping secrets out of output: DSN passwords and client credentials are masked everywhere."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

MASK = "***"

# key=value pairs in a libpq keyword DSN ("host=db password=s3cret") and in client configs
_KV_SECRET = re.compile(r"(?i)\b(password|passwd|pwd|sasl\.password|ssl\.key\.password|secret)\s*=\s*('[^']*'|\S+)")
# user:password@ inside any URL-looking text
_URL_USERINFO = re.compile(r"(?i)([a-z][a-z0-9+.-]*://[^:/@\s]*):([^@\s]*)@")

SECRET_KEYS = ("password", "secret", "token", "credential")


def redact_dsn(dsn: str | None) -> str | None:
    """A database URL or keyword DSN with its password replaced by ***."""
    if not dsn:
        return dsn
    if "://" in dsn:
        try:
            parts = urlsplit(dsn)
        except ValueError:
            return redact_text(dsn)
        if parts.password is not None:
            user = parts.username or ""
            host = parts.hostname or ""
            if parts.port:
                host = f"{host}:{parts.port}"
            netloc = f"{user}:{MASK}@{host}"
            dsn = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return redact_text(dsn)


def redact_text(text: str) -> str:
    """Any text (an error message, a log line) with DSN passwords and key=value secrets masked."""
    text = _URL_USERINFO.sub(lambda m: f"{m.group(1)}:{MASK}@", text)
    return _KV_SECRET.sub(lambda m: f"{m.group(1)}={MASK}", text)


def is_secret_key(key: str) -> bool:
    k = key.lower()
    return any(word in k for word in SECRET_KEYS)


def redact_mapping(values: dict[str, str]) -> dict[str, str]:
    return {k: (MASK if is_secret_key(k) and v else v) for k, v in values.items()}
