"""What checks return (Outcome and its constructors) and what doctor reports (CheckResult, Verdict, DoctorReport)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kafkaops.redact import MASK, redact_text

if TYPE_CHECKING:
    from kafkaops.doctor.registry import Check

SCHEMA = "kafkaops.doctor/1"
PASS, WARN, FAIL, SKIP = "PASS", "WARN", "FAIL", "SKIP"
LAYERS = ("zookeeper", "quorum", "broker", "topic", "configuration", "database", "producer", "consumer", "logs", "host", "connect")
EXTRAS_STEP = 10  # Java, /tmp, disk space, pid files: not in the procedure's nine steps
LOG_TAIL_BYTES = 2 * 1024 * 1024
LOW_DISK_BYTES = 1024**3
FULL_DISK_BYTES = 100 * 1024**2  # below this a broker cannot write its segments, indexes and checkpoints
LOW_DISK_FRACTION = 0.05
METADATA_DEADLINE = 3.0  # seconds a healthy broker never needs for a metadata request (it takes milliseconds)
REQUEST_DEADLINE = 3.0  # the same for the admin request of broker.requests
LIVEDB, OFFSETS_TABLE = "livedb", "producer_offsets"
CANARY_HEADER = "kafkaops-canary"


# --------------------------------------------------------------------------------------------
# Results


@dataclass
class CheckResult:
    id: str
    step: int  # 1..8 as in the procedure's checklist; 10 for the extras
    layer: str
    title: str
    status: str  # PASS | WARN | FAIL | SKIP
    finding: str
    details: list[str] = field(default_factory=list)
    remedy: str | None = None
    runbook: str | None = None  # "failures <anchor>"
    next: str | None = None  # the one command (or action) to run next
    seconds: float = 0.0
    data: dict[str, Any] = field(default_factory=dict)
    priority: int = 0  # within a failing layer, the verdict prefers the root cause (higher)
    skip_kind: str | None = None  # prerequisite | remote | not-configured

    @classmethod
    def of(cls, check: Check, out: Outcome, *, seconds: float) -> CheckResult:
        """The result of ``check``: its id, step, layer and title with the outcome's fields."""
        return cls(id=check.id, step=check.step, layer=check.layer, title=check.title, seconds=seconds, **vars(out))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "step": self.step,
            "layer": self.layer,
            "title": self.title,
            "status": self.status,
            "finding": self.finding,
            "details": list(self.details),
            "remedy": self.remedy,
            "runbook": self.runbook,
            "next": self.next,
            "seconds": round(self.seconds, 3),
            "data": self.data,
        }


@dataclass
class Verdict:
    status: str  # ok | warn | fail
    layer: str | None
    check: str | None
    why: str
    next: str | None
    runbook: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "layer": self.layer, "check": self.check, "why": self.why, "next": self.next, "runbook": self.runbook}


@dataclass
class DoctorReport:
    checks: list[CheckResult]
    verdict: Verdict
    context: dict[str, Any]
    seconds: float
    secrets: tuple[str, ...] = ()
    cluster: dict[str, Any] | None = None  # what the cluster is: {"mode": "zookeeper"|"kraft"|None, "local": bool, "how": ...}

    @property
    def failed(self) -> bool:
        return any(c.status == FAIL for c in self.checks)

    def check(self, check_id: str) -> CheckResult:
        for c in self.checks:
            if c.id == check_id:
                return c
        raise KeyError(check_id)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document (schema kafkaops.doctor/1), with every secret masked."""
        counts = {s: sum(1 for c in self.checks if c.status == s) for s in (PASS, WARN, FAIL, SKIP)}
        doc = {
            "schema": SCHEMA,
            "ok": not self.failed,
            "exit_code": 3 if self.failed else 0,
            "summary": counts,
            "verdict": self.verdict.to_dict(),
            "cluster": self.cluster,
            "context": self.context,
            "checks": [c.to_dict() for c in self.checks],
            "seconds": round(self.seconds, 3),
        }
        return scrub(doc, self.secrets)


def scrub(value: Any, secrets: tuple[str, ...] = ()) -> Any:
    """Every string in a JSON-able value with DSN passwords, key=value secrets and known secrets masked."""
    if isinstance(value, str):
        text = redact_text(value)
        for secret in secrets:
            text = text.replace(secret, MASK)
        return text
    if isinstance(value, dict):
        return {k: scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub(v, secrets) for v in value]
    return value


# --------------------------------------------------------------------------------------------
# What a check returns (the runner adds id, step, layer, title and timing)


@dataclass
class Outcome:
    status: str
    finding: str
    details: list[str] = field(default_factory=list)
    remedy: str | None = None
    runbook: str | None = None
    next: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    priority: int = 0
    skip_kind: str | None = None


def passed(finding: str, *, details: list[str] | None = None, data: dict[str, Any] | None = None) -> Outcome:
    return Outcome(PASS, finding, details or [], data=data or {})


def warned(
    finding: str,
    *,
    remedy: str | None = None,
    runbook: str | None = None,
    details: list[str] | None = None,
    next: str | None = None,
    data: dict[str, Any] | None = None,
) -> Outcome:
    return Outcome(WARN, finding, details or [], remedy, _ref(runbook), next, data or {})


def failed(
    finding: str,
    *,
    remedy: str,
    runbook: str,
    details: list[str] | None = None,
    next: str | None = None,
    priority: int = 0,
    data: dict[str, Any] | None = None,
) -> Outcome:
    return Outcome(FAIL, finding, details or [], remedy, _ref(runbook), next, data or {}, priority)


def skipped(reason: str, kind: str = "prerequisite", details: list[str] | None = None) -> Outcome:
    return Outcome(SKIP, reason, details or [], skip_kind=kind)


def _ref(anchor: str | None) -> str | None:
    """A section of runbooks/failures.md by its anchor, or a full reference ("connect failures") as it is."""
    if anchor is None or " " in anchor:
        return anchor
    return f"failures {anchor}"
