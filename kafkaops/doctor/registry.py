"""The check registry: each check declares its id, checklist step, layer, title, what it requires and
where it applies with the :func:`check` decorator; :func:`checks` lists them in the procedure's order.

The order is the checklist's: layer module by layer module (:data:`LAYER_MODULES`), and within a
module the order in which its checks are defined, whatever order the modules were imported in.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kafkaops.doctor.context import Context
from kafkaops.doctor.results import EXTRAS_STEP, Outcome
from kafkaops.errors import UsageError

# Where a check applies:
#   local     - the local stack kafkaops runs (this machine's files and processes)
#   cluster   - any reachable cluster
#   zookeeper - a ZooKeeper-mode cluster only
#   database  - the pipeline's database
#   kraft     - a KRaft-mode cluster only
APPLIES = ("local", "cluster", "zookeeper", "database", "kraft")
# The cluster modes (see :func:`modes`): a ZooKeeper-mode cluster, or a KRaft one.
MODES = ("zookeeper", "kraft")

LAYER_MODULES = ("zookeeper", "quorum", "broker", "topic", "configuration", "database", "producer", "consumer", "logs", "host", "migration", "connect")


@dataclass(frozen=True)
class Check:
    id: str
    step: int
    layer: str
    title: str
    fn: Callable[[Context], Outcome]
    requires: tuple[str, ...] = ()  # checks that must not have failed (or been skipped for a failure)
    # Needs this machine's files and processes, skipped as "remote" otherwise: "zookeeper" | "broker" (that
    # service's), "stack" (either's), "java" (runs only when ZooKeeper or the broker is this machine's).
    local: str | None = None
    timeout: float = 4.0
    applies: str = "cluster"  # one of APPLIES
    canary_only: bool = False  # runs only with --canary
    uses: tuple[str, ...] = ()  # checks whose facts it reads when they ran; never a reason to skip

    @property
    def summary(self) -> str:
        """One line: the check's title."""
        return self.title


_REGISTRY: dict[str, Check] = {}


def check(
    id: str,
    step: int,
    layer: str,
    title: str,
    *,
    requires: tuple[str, ...] = (),
    local: str | None = None,
    timeout: float = 4.0,
    applies: str = "cluster",
    canary_only: bool = False,
    uses: tuple[str, ...] = (),
) -> Callable[[Callable[[Context], Outcome]], Callable[[Context], Outcome]]:
    """Register the decorated function as the check ``id`` (it is returned unchanged)."""
    if applies not in APPLIES:
        raise ValueError(f"{id}: applies={applies!r} is not one of {APPLIES}")

    def register(fn: Callable[[Context], Outcome]) -> Callable[[Context], Outcome]:
        if id in _REGISTRY and _REGISTRY[id].fn.__qualname__ != fn.__qualname__:
            raise ValueError(f"check {id} is registered twice")
        _REGISTRY[id] = Check(id, step, layer, title, fn, requires, local, timeout, applies, canary_only, uses)
        return fn

    return register


def all_checks() -> list[Check]:
    """Every registered check, in the procedure's order (the canary included)."""
    for name in LAYER_MODULES:
        importlib.import_module(f"kafkaops.doctor.{name}")
    rank = {f"kafkaops.doctor.{name}": i for i, name in enumerate(LAYER_MODULES)}
    return sorted(_REGISTRY.values(), key=lambda c: rank.get(c.fn.__module__, len(rank)))  # stable: definition order within a module


def modes(check: Check) -> tuple[str, ...]:
    """The cluster modes a check belongs to: ZooKeeper-only (it asks ZooKeeper, reads ZooKeeper's files or
    requires such a check), KRaft-only (``applies="kraft"``, or requires such a check), or both."""
    by_id = {c.id: c for c in _REGISTRY.values()}

    def of(c: Check, seen: frozenset[str]) -> set[str]:
        if c.applies == "zookeeper" or c.layer == "zookeeper" or c.local == "zookeeper":
            return {"zookeeper"}
        if c.applies == "kraft" or c.layer == "quorum":
            return {"kraft"}
        out = set(MODES)
        for dep in c.requires:
            if dep in by_id and dep not in seen:
                out &= of(by_id[dep], seen | {dep})
        return out

    found = of(check, frozenset({check.id}))
    return tuple(m for m in MODES if m in found)


ANY_MODE = "any"


def checks(canary: bool, mode: str | None = ANY_MODE) -> list[Check]:
    """The checklist, in the procedure's order: the canary only when asked for. ``mode``: ``any`` (every
    check), ``zookeeper`` or ``kraft`` (that mode's checks), or None (a cluster of unknown mode: the checks
    every mode has)."""
    every = [c for c in all_checks() if canary or not c.canary_only]
    if mode == ANY_MODE:
        return every
    return [c for c in every if in_mode(c, mode)]


def in_mode(check: Check, mode: str | None) -> bool:
    """Whether ``check`` runs against a cluster of ``mode`` (None: unknown, only the checks of every mode)."""
    ms = modes(check)
    return len(ms) == len(MODES) or mode in ms


def applies_label(check: Check) -> str:
    """Where a check applies, as --list-checks shows it: ``local``, ``cluster``... with the mode when it is one mode's only."""
    ms = modes(check)
    if len(ms) == 1 and ms[0] != check.applies:
        return f"{check.applies}, {ms[0]}"
    return check.applies


def select(ids: Sequence[str]) -> list[Check]:
    """The checks named by ``ids`` and every check they require or use, transitively, in the procedure's order.

    An unknown id is a UsageError that names the closest known ids.
    """
    every = all_checks()
    by_id = {c.id: c for c in every}
    unknown = [i for i in ids if i not in by_id]
    if unknown:
        close = difflib.get_close_matches(unknown[0], list(by_id), n=3, cutoff=0.6)
        raise UsageError(
            f"unknown check {unknown[0]!r}" + (f"; did you mean {close[0]}?" if close else ""),
            hint="`kafkaops doctor --list-checks` lists every check id",
        )
    wanted: set[str] = set()
    todo = list(ids)
    while todo:
        c = by_id[todo.pop()]
        if c.id not in wanted:
            wanted.add(c.id)
            todo += [*c.requires, *c.uses]
    return [c for c in every if c.id in wanted]


def describe(check: Check) -> dict[str, object]:
    """One check as --list-checks --json shows it."""
    return {
        "id": check.id,
        "step": check.step,
        "layer": check.layer,
        "title": check.title,
        "applies_to": check.applies,
        "modes": list(modes(check)),
        "requires": list(check.requires),
        "uses": list(check.uses),
        "timeout": check.timeout,
        "canary_only": check.canary_only,
    }


def step_label(step: int) -> str:
    """The step column: 1..8, or + for the extras (as in doctor's table)."""
    return "+" if step == EXTRAS_STEP else str(step)
