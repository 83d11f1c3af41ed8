"""Points in time and durations as users type them, turned into epoch milliseconds (pure).

A point in time (``consume --from/--until``, ``groups reset --to-datetime``) is one of:

* ISO-8601: ``2026-05-01T10:00:00Z``, ``2026-05-01T12:00+02:00``, ``2026-05-01T10:00:00.250``,
  ``2026-05-01`` (midnight). Without a zone it is the machine's local time; where a zone is
  required (``groups reset --to-datetime``: Kafka's kafka-consumer-groups reads a time without a
  zone as UTC, so the same text would mean two things) it is refused instead.
* relative to now: ``-90s``, ``-15m``, ``-2h``, ``-1d``, ``-1w``, or several: ``-1h30m``;
* ``@<epoch-millis>``: ``@1717000000000`` (a message timestamp as Kafka stores it);
* ``now``.

A duration (``groups reset --by-duration``) is ISO-8601 as Kafka's tool takes it (``PT15M``,
``P1DT2H``, ``PT0.5S``) or the short form ``15m`` / ``1h30m``.
"""

from __future__ import annotations

import re
import time
from datetime import datetime

from kafkaops.errors import UsageError

_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_SHORT = re.compile(r"(?:(\d+)(ms|s|m|h|d|w))+")
_PART = re.compile(r"(\d+)(ms|s|m|h|d|w)")
_ISO_DURATION = re.compile(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d{1,9})?)S)?)?", re.IGNORECASE)

TIME_FORMS = "ISO-8601 (2026-05-01T10:00:00Z; no zone = local time), -15m / -2h / -1d / -90s, @<epoch-millis>, or now"
DURATION_FORMS = "ISO-8601 like PT15M, PT1H30M, P1D, or 15m / 1h30m / 90s"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def _short_ms(text: str) -> int | None:
    """``1h30m`` -> milliseconds; None when ``text`` is not that form."""
    if not _SHORT.fullmatch(text):
        return None
    return sum(int(n) * _UNIT_MS[unit] for n, unit in _PART.findall(text))


def parse_time(raw: str, option: str = "TIME", now: int | None = None, zone_required: bool = False) -> int:
    """Epoch milliseconds of ``raw`` (see the module's forms); a UsageError (exit 2) naming ``option`` and
    the accepted forms for anything else, and with ``zone_required`` for an ISO time without a zone."""
    text = raw.strip()
    current = now if now is not None else now_ms()
    if text.lower() == "now":
        return current
    if text.startswith("@"):
        digits = text[1:]
        if digits.isdigit():
            return int(digits)
        raise _bad_time(raw, option, "after @ comes a timestamp in milliseconds since 1970, e.g. @1717000000000")
    if text.startswith("-"):
        ago = _short_ms(text[1:].lower())
        if ago is None:
            raise _bad_time(raw, option, "a relative time is a minus and a count with a unit: -90s, -15m, -2h, -1d, -1w, -1h30m")
        return current - ago
    if text.startswith("+"):
        raise _bad_time(raw, option, "only times in the past are relative: -15m is 15 minutes ago")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise _bad_time(raw, option, f"accepted: {TIME_FORMS}") from None
    if parsed.tzinfo is None:
        if zone_required:
            raise UsageError(
                f"{option} {raw!r} has no time zone: Kafka's kafka-consumer-groups reads that as UTC, kafkaops consume as local time",
                hint=f"say which: {text}Z for UTC, or an offset like {text}+02:00",
            )
        parsed = parsed.astimezone()  # the machine's local time zone
    return int(parsed.timestamp() * 1000)


def _bad_time(raw: str, option: str, why: str) -> UsageError:
    return UsageError(f"{option} {raw!r} is not a time", hint=why)


def parse_duration(raw: str, option: str = "--by-duration") -> int:
    """Milliseconds of an ISO-8601 duration (PT15M, P1DT2H) or a short one (15m, 1h30m)."""
    text = raw.strip()
    short = _short_ms(text.lower())
    if short is not None:
        return short
    match = _ISO_DURATION.fullmatch(text)
    if match and any(match.groups()) and not text.upper().endswith("T"):
        days, hours, minutes, seconds = match.groups()
        ms = int(days or 0) * _UNIT_MS["d"] + int(hours or 0) * _UNIT_MS["h"] + int(minutes or 0) * _UNIT_MS["m"]
        return ms + round(float(seconds or 0) * 1000)
    why = "a duration back from now is never negative" if text.startswith("-") else f"accepted: {DURATION_FORMS}"
    raise UsageError(f"{option} {raw!r} is not a duration", hint=why)
