"""kafkaops doctor: the procedure's debug checklist (section 9) as a registry of bounded checks and a verdict.

Each check is one question about one layer (ZooKeeper or the KRaft metadata quorum, broker, topic, configuration, database,
producer, consumer, logs, host) and answers PASS, WARN, FAIL or SKIP with a one-line finding, details,
the remedy and a runbook reference. Checks run in the procedure's order; a check whose prerequisite
failed is skipped with the reason instead of being run into a timeout, and every check runs under its
own short time limit. The verdict names the first layer that failed, why, and the next command.

- :mod:`.registry`: the ``@check`` decorator and the checklist in order
- :mod:`.runner`: time limits, skips with reasons, the verdict; :func:`run_doctor`
- :mod:`.context`: what the checks share (settings, locality, clients, facts computed once)
- :mod:`.results`: what a check returns and what doctor reports
- :mod:`.kraft`: what the cluster is (ZooKeeper mode or KRaft, read from process.roles; local or remote)
- one module per checklist layer: zookeeper (ZooKeeper mode), quorum (KRaft mode), broker, topic,
  configuration, database, producer, consumer, logs, host

Nothing here prints: :func:`run_doctor` returns a :class:`DoctorReport`; the CLI renders it.
"""

from kafkaops.doctor.context import Context
from kafkaops.doctor.registry import Check, all_checks, check, checks
from kafkaops.doctor.results import (
    EXTRAS_STEP,
    FAIL,
    LAYERS,
    PASS,
    SCHEMA,
    SKIP,
    WARN,
    CheckResult,
    DoctorReport,
    Outcome,
    Verdict,
    failed,
    passed,
    scrub,
    skipped,
    warned,
)
from kafkaops.doctor.runner import run_doctor

__all__ = [
    "EXTRAS_STEP",
    "FAIL",
    "LAYERS",
    "PASS",
    "SCHEMA",
    "SKIP",
    "WARN",
    "Check",
    "CheckResult",
    "Context",
    "DoctorReport",
    "Outcome",
    "Verdict",
    "all_checks",
    "check",
    "checks",
    "failed",
    "passed",
    "run_doctor",
    "scrub",
    "skipped",
    "warned",
]
