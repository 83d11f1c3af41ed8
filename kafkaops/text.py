"""Small pure wording helpers every layer shares: "did you mean" suggestions and running times.

No imports beyond the standard library, so cli/, procedures/ and adapters/ may all use it.
"""

from __future__ import annotations

from collections.abc import Iterable


def close_matches(word: str, candidates: Iterable[str], *, n: int = 3, cutoff: float = 0.6) -> list[str]:
    """The candidates most like `word`, best first (at most `n`, each at least `cutoff` alike)."""
    import difflib  # only when a suggestion is made: it adds ~10 ms to every command's start-up

    return difflib.get_close_matches(word, list(candidates), n=n, cutoff=cutoff)


def did_you_mean(word: str, candidates: Iterable[str], *, n: int = 3, cutoff: float = 0.6, quote: bool = False) -> str:
    """'did you mean a or b?' naming the candidates most like `word`, or '' when none is close enough.

    `quote` writes each name as its repr ('did you mean 'db-live'?'). The callers differ on purpose:
    a topic typo wants one strong match (cutoff 0.8), a group or runbook name a looser one (0.6).
    """
    matches = close_matches(word, candidates, n=n, cutoff=cutoff)
    if not matches:
        return ""
    return "did you mean " + " or ".join(repr(m) if quote else m for m in matches) + "?"


def format_uptime(seconds: float | None) -> str:
    """How long a process has run, as status and doctor print it: '7s', '3m05s', '2h07m' ('' for unknown).

    Whole seconds, truncated; minutes are dropped past the hour's minutes, seconds past the minute's.
    """
    if seconds is None:
        return ""
    s = int(seconds)
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s" if m else f"{s}s"
