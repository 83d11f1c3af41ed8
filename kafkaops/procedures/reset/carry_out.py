"""Carrying out a confirmed plan: stop, check again, back up, empty, rewind, restart; always one audit line."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from kafkaops.errors import KafkaopsError, RefusedError
from kafkaops.procedures import services
from kafkaops.procedures.reset import kraft
from kafkaops.procedures.reset.audit import audit, audit_path
from kafkaops.procedures.reset.building import _named_keys, _unnamed_foreign, foreign_refusal
from kafkaops.procedures.reset.contents import _is_empty, survey
from kafkaops.procedures.reset.emptying import Backup, Emptied, _slug, backup_dir_contents, empty_directory
from kafkaops.procedures.reset.guards import Protected
from kafkaops.procedures.reset.offset import producer_offset_held
from kafkaops.procedures.reset.plan import FOREIGN_HINT, DirPlan, Progress, ResetPlan, _noop
from kafkaops.settings import Settings


@dataclass
class ResetResult:
    stopped: list[services.StopOutcome]
    emptied: list[Emptied]
    backups: list[Backup]
    offset_rewound: bool = False
    offset_before: dict[str, object] | None = None
    restarted: services.UpResult | None = None
    audit_log: str | None = None
    forgotten_cluster: str | None = None  # KRaft: the cluster id kafkaops no longer expects in the emptied folders


def _kafka_only(settings: Settings) -> Settings:
    """Settings for `down` that leave the embedded PostgreSQL running: a reset never touches the database."""
    return settings.with_overrides(embedded_db=False)


def _check_stopped_cleanly(down: services.DownResult) -> None:
    for outcome in down.services:
        label = {services.KAFKA: "the Kafka broker", services.ZOOKEEPER: "ZooKeeper"}.get(outcome.service, "the KRaft controller")
        if outcome.action == "forced" or outcome.clean is False:
            raise RefusedError(
                f"{label} did not shut down cleanly ({outcome.detail or outcome.action}); nothing was deleted",
                hint="run `kafkaops up`, let it recover, then rerun `kafkaops reset --confirm`",
                runbook="failures unclean-shutdown",
            )


def _check_ports_free(settings: Settings) -> None:
    cfg = services.read_stack_config(settings)
    addresses = [(services.KAFKA, services.probe_host(host), port) for host, port in cfg.broker_ports]
    addresses.append((services.ZOOKEEPER, *services.service_address(cfg, services.ZOOKEEPER)))
    for service, host, port in addresses:
        p = services.probe(settings, cfg, service, address=(host, port))
        if p.port_open:
            raise RefusedError(
                f"after stopping the stack, port {port} ({services.SERVICE_LABEL[service]}) is still held by {p.owner_text}, which kafkaops did not start; nothing was deleted",
                hint="stop that process yourself: deleting data under a running broker or ZooKeeper corrupts it",
                details=[f"command: {p.owner.command[:200]}"] if p.owner else [],
                runbook="failures foreign-process",
            )


def emptying_error(settings: Settings, d: DirPlan, exc: OSError, emptied: Sequence[Emptied]) -> KafkaopsError:
    """What went wrong while a folder was being emptied, said as what happened and what to do."""
    import errno

    path = exc.filename or d.real
    what, hint = f"{exc.strerror or exc} ({path})", "fix the cause above, then rerun `kafkaops reset --confirm`"
    busy = exc.errno in (errno.EBUSY, errno.ETXTBSY) or getattr(exc, "winerror", None) in (32, 33)  # sharing/lock violation
    if isinstance(exc, FileNotFoundError):
        what = f"{path} vanished while kafkaops was deleting it: another process (another `kafkaops reset`?) is deleting in the same folder"
        hint = f"let the other one finish (a reset appends a line to {audit_path(settings)}), then run `kafkaops reset --dry-run` to see what is left"
    elif busy:
        what = f"{path} is in use by another process ({exc.strerror})"
        hint = "find and stop the process using it (a broker or ZooKeeper kafkaops did not start, a backup, an editor), then rerun `kafkaops reset --confirm`"
    elif exc.errno == errno.ENOTEMPTY:
        what = f"new files appeared in {path} while it was being emptied: another process is writing there"
        hint = "find and stop what writes there (a broker or ZooKeeper kafkaops did not start?), then rerun `kafkaops reset --confirm`"
    elif isinstance(exc, PermissionError):
        what = f"permission denied on {path}"
        hint = "run kafkaops as the user that owns the data (the one that ran `kafkaops up`), then rerun `kafkaops reset --confirm`"
    return KafkaopsError(f"could not empty {d.real}: {what}", hint=hint, details=[f"already emptied: {e.path}" for e in emptied])


def _check_contents_again(plan: ResetPlan) -> None:
    """Just before anything is deleted: no entry Kafka and ZooKeeper never write has appeared since the plan."""
    named = _named_keys(plan.force_paths)
    for d in plan.dirs:
        if not d.exists:
            continue
        unnamed = _unnamed_foreign(Path(d.real), survey(Path(d.real)).foreign, named)
        if unnamed:
            raise RefusedError(
                f"{foreign_refusal(f'{d.role} {d.real}', unnamed)} (it appeared after the plan); nothing was deleted",
                hint=FOREIGN_HINT,
                details=["the stack was stopped: `kafkaops up` starts it again"],
                runbook="reset what-kafkaops-does",
            )


def execute(
    settings: Settings,
    plan: ResetPlan,
    progress: Progress = _noop,
    *,
    cwd: Path | None = None,
    home: Path | None = None,
    hold_offset: Callable[[Settings], AbstractContextManager[Callable[[], dict[str, object]]]] | None = None,
) -> ResetResult:
    """Carry out a plan (already confirmed by the user). Appends one line to the audit log, whatever happens.

    When the plan rewinds the producer offset, ``hold_offset`` (default :func:`producer_offset_held`)
    takes the producer lock first (a running producer: refused, nothing touched) and gives the
    rewind, called after the folders are emptied, the lock still held.
    """
    result = ResetResult(stopped=[], emptied=[], backups=[])
    outcome, reason = "failed", None
    held = ExitStack()
    try:
        plan.check()
        protected = Protected.of(settings, cwd=cwd, home=home)
        rewind = held.enter_context((hold_offset or producer_offset_held)(settings)) if plan.reset_producer_offset else None
        _stop_the_stack(settings, plan, result, progress)
        if plan.backup_dir is not None:
            _back_up(plan, Path(plan.backup_dir), result, progress)
        _empty(settings, plan, protected, result, progress)
        if plan.mode == "kraft":
            result.forgotten_cluster = kraft.forget_cluster(settings)  # the next `up` formats a new cluster
        if rewind is not None:
            _rewind(rewind, result, progress)
            held.close()  # the lock goes: a producer may start now
        if plan.restart:
            progress("starting the stack again")
            result.restarted = services.up(settings, progress)
        outcome = "done"
        return result
    except RefusedError as exc:
        outcome, reason = "refused", exc.message
        raise
    except KafkaopsError as exc:
        reason = exc.message
        raise
    except KeyboardInterrupt:
        outcome, reason = "interrupted", "Ctrl+C"
        raise
    finally:
        held.close()
        result.audit_log = str(audit(settings, plan, result, outcome, reason))


def _stop_the_stack(settings: Settings, plan: ResetPlan, result: ResetResult, progress: Progress) -> None:
    """Stop the stack as `kafkaops down` does, then make sure nothing may still write into the folders.

    KRaft mode: kafkaops's node(s) stop as `down` stops them (the broker first); then no node, ours or
    not, may run on the folders (ports, Kafka's .lock).
    """
    if plan.mode == "kraft":
        progress("stopping the KRaft node(s): the broker first")
        down = services.down(_kafka_only(settings), progress)
        result.stopped = down.services
        _check_stopped_cleanly(down)
        kraft.check_stopped(settings)
        _check_contents_again(plan)
        return
    progress("stopping the stack: the Kafka broker, then ZooKeeper")
    down = services.down(_kafka_only(settings), progress)
    result.stopped = down.services
    _check_stopped_cleanly(down)
    _check_ports_free(settings)
    _check_contents_again(plan)


def _back_up(plan: ResetPlan, backup_root: Path, result: ResetResult, progress: Progress) -> None:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for i, d in enumerate(plan.dirs):
        if not d.exists or _is_empty(Path(d.real)):
            continue
        archive = backup_root / f"kafkaops-reset-{stamp}-{_slug(d.role, i)}.tar.gz"
        progress(f"backing up {d.real} to {archive}")
        members = backup_dir_contents(Path(d.real), archive)
        result.backups.append(Backup(d.role, d.real, str(archive), members, archive.stat().st_size))


def _empty(settings: Settings, plan: ResetPlan, protected: Protected, result: ResetResult, progress: Progress) -> None:
    for d in plan.dirs:
        if not d.exists:
            continue
        progress(f"emptying {d.role} {d.real}")
        try:
            usage = empty_directory(Path(d.real), protected)
        except OSError as exc:
            raise emptying_error(settings, d, exc, result.emptied) from None
        result.emptied.append(Emptied(d.role, d.real, usage.files, usage.folders, usage.links, usage.size_bytes))


def _rewind(rewind: Callable[[], dict[str, object]], result: ResetResult, progress: Progress) -> None:
    progress("rewinding the producer offset to last_id 0")
    try:
        result.offset_before = rewind()
    except KafkaopsError as exc:
        exc.message = f"Kafka's data was deleted, but the producer offset was not rewound: {exc.message}"
        raise
    result.offset_rewound = True
