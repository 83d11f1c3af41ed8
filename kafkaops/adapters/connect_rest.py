"""Kafka Connect's REST API: one small JSON client (urllib), its failures translated into kafkaops errors."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from kafkaops.errors import KafkaopsError, UnreachableError, UsageError
from kafkaops.redact import redact_text


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any  # parsed JSON, or the text when it is not JSON (None when empty)


def request(base: str, method: str, path: str, payload: object | None = None, timeout: float = 5.0) -> Reply:
    """One request to a Connect worker; any HTTP status is a Reply, a worker that does not answer is UnreachableError."""
    import urllib.error
    import urllib.request  # lazy: ssl and http cost every command start-up time

    if not base.startswith(("http://", "https://")):
        raise UsageError(f"{redact_text(base)} is not an http(s) URL", hint="set KAFKA_CONNECT_URL like http://host:8083")
    data = json.dumps(payload).encode() if payload is not None else None
    req = urllib.request.Request(  # noqa: S310 - http(s) only, checked above
        base.rstrip("/") + path, data=data, method=method, headers={"Content-Type": "application/json", "Accept": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - a URL the user configured
            return Reply(resp.status, _parse(resp.read()))
    except urllib.error.HTTPError as exc:
        return Reply(exc.code, _parse(exc.read()))
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise UnreachableError(f"Kafka Connect at {redact_text(base)} does not answer: {reason}", hint="start it: kafkaops connect up") from None


def _parse(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


def expect(reply: Reply, what: str, ok: tuple[int, ...] = (200, 201, 202, 204), secrets: tuple[str, ...] = ()) -> Any:
    """The body of a successful reply, else the worker's own message as a KafkaopsError (``secrets`` masked in it)."""
    if reply.status in ok:
        return reply.body
    message = str(reply.body.get("message") if isinstance(reply.body, dict) else reply.body)
    for secret in secrets:
        if secret:
            message = message.replace(secret, "***")
    raise KafkaopsError(f"Kafka Connect refused to {what} (HTTP {reply.status}): {redact_text(message)[:300]}")
