"""--watch for status and groups describe: a live view on a terminal, one JSON line per refresh otherwise."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any

from kafkaops.errors import UsageError

if TYPE_CHECKING:
    from kafkaops.procedures.watch import Snapshot

_ARROWS = {"up": "↑ up", "down": "↓ down", "flat": "→ flat", None: ""}


def check(interval: float, count: int | None) -> None:
    if interval < 0.1:
        raise UsageError(f"--interval must be at least 0.1 seconds (got {interval:g})")
    if count is not None and count < 1:
        raise UsageError(f"--count must be at least 1 (got {count})")


def view(snap: Snapshot, *, partitions: bool = False) -> tuple[list[Any], list[str]]:
    """The sections (title, columns, rows) and footer lines of one refresh: what the live view draws."""
    parts: list[Any] = []
    if snap.services is not None:
        parts.append(
            ("services" + ("" if snap.up else " (not all up)"), ["service", "state", "pid"], [[s["service"], s["state"], s["pid"]] for s in snap.services])
        )
    if snap.end_offsets is not None:
        rate = "-" if snap.messages_per_s is None else f"{snap.messages_per_s:,.1f}"
        rows = [[p, f"{e:,}"] for p, e in sorted(snap.end_offsets.items())]
        parts.append((f"topic {snap.topic}: {sum(snap.end_offsets.values()):,} messages, {rate} messages/s", ["partition", "end offset"], rows))
    elif "kafka" not in snap.errors:
        parts.append((f"topic {snap.topic}: does not exist", [], []))
    if partitions:
        for g in snap.groups:
            rows = [[p["topic"], p["partition"], _dash(p["committed"]), p["end"], _dash(p["lag"]), p["member"] or "-"] for p in g.partitions]
            parts.append((f"group {g.group} ({g.state}): lag {g.lag:,} {_ARROWS[g.trend]}", ["topic", "partition", "committed", "end", "lag", "member"], rows))
    elif snap.groups:
        parts.append(("consumer groups", ["group", "state", "lag", "trend"], [[g.group, g.state, f"{g.lag:,}", _ARROWS[g.trend]] for g in snap.groups]))
    if snap.services is not None and "database" not in snap.errors:
        parts.append((f"producer: {_dash(snap.pending)} row(s) pending", [], []))
    footer = [f"{part} unavailable: {why}" for part, why in snap.errors.items()]
    footer.append(f"at {snap.at}; Ctrl+C to stop")
    return parts, footer


def _dash(value: object) -> object:
    return "-" if value is None else value


def run(take: Callable[[Snapshot | None], Snapshot], *, interval: float, count: int | None, json_lines: bool, partitions: bool = False) -> None:
    """Refresh until Ctrl+C (or ``count`` refreshes): in place on a terminal, else one JSON line each. Exit 0."""
    from kafkaops import ui
    from kafkaops.cli.interrupt import graceful_stop

    live = not json_lines and ui.stdout_is_terminal()
    previous: Snapshot | None = None
    done = 0
    try:
        with graceful_stop() as stop, ui.live() if live else nullcontext(None) as show:
            while not stop.is_set():
                snap = take(previous)
                if show is not None:
                    show(*view(snap, partitions=partitions))
                else:
                    ui.print_json_line(snap.as_dict())
                previous, done = snap, done + 1
                if count is not None and done >= count:
                    break
                stop.wait(interval)
    except KeyboardInterrupt:  # a second Ctrl+C during a refresh: leave now, the screen as it is
        pass
