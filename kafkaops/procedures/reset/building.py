"""Building the plan: reads configs, folders and the services' state; changes nothing."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kafkaops.errors import KafkaopsError, RefusedError
from kafkaops.procedures import services
from kafkaops.procedures.reset import kraft
from kafkaops.procedures.reset.contents import Foreign, _count, _topics_on_disk, measure, survey
from kafkaops.procedures.reset.guards import Protected, _is_within, _same, hard_guard, realpath, service_cwd
from kafkaops.procedures.reset.offset import read_producer_offset
from kafkaops.procedures.reset.plan import FOREIGN_SHOWN, KAFKA_LOG_DIR, KRAFT_METADATA_DIR, ZK_DATA_DIR, ZK_DATA_LOG_DIR, DirPlan, ResetPlan, ServicePlan
from kafkaops.settings import Settings


def _service_plan(settings: Settings, cfg: services.StackConfig, service: str) -> ServicePlan:
    p = services.probe(settings, cfg, service)
    if p.proc is not None:
        return ServicePlan(service, p.port, "running", p.proc.pid)
    if p.port_open:
        detail = f"port {p.port} is held by {p.owner_text}, which kafkaops did not start"
        return ServicePlan(service, p.port, "foreign", p.owner.pid if p.owner else None, detail)
    return ServicePlan(service, p.port, "not-running")


def _key(path: Path | str) -> str:
    return os.path.normcase(str(path))


def resolve_named(path: Path | str) -> tuple[Path, Path]:
    """A --force-path resolved two ways: as a folder (every link followed) and as an entry (its own name kept).

    A link inside a data folder is named by its own path: resolving it would name its target instead.
    """
    path = Path(os.path.abspath(path))
    return realpath(path), realpath(path.parent) / path.name


def _named_keys(force_paths: Iterable[Path | str]) -> set[str]:
    return {_key(form) for p in force_paths for form in resolve_named(p)}


def _unnamed_foreign(real: Path, foreign: Sequence[Foreign], named: set[str]) -> list[Foreign]:
    """The foreign entries no --force-path names, by itself or by a folder inside ``real`` that holds it."""
    left = []
    for f in foreign:
        parts = f.path.split("/")
        if not any(_key(real.joinpath(*parts[:i])) in named for i in range(1, len(parts) + 1)):
            left.append(f)
    return left


def foreign_refusal(named_dir: str, foreign: Sequence[Foreign]) -> str:
    shown = ", ".join(str(f) for f in foreign[:FOREIGN_SHOWN])
    more = f", and {len(foreign) - FOREIGN_SHOWN} more" if len(foreign) > FOREIGN_SHOWN else ""
    return f"{named_dir} holds {_count(len(foreign), 'entry', 'entries')} Kafka and ZooKeeper never write: {shown}{more}"


def _dir_plan(role: str, configured: Path, protected: Protected, forced: set[str], base: Path) -> DirPlan:
    real = realpath(configured, base)
    plan = DirPlan(role=role, path=str(configured), real=str(real), exists=real.exists())
    named = f"{role} {configured}" + (f" (resolves to {real})" if str(real) != str(configured) else "")
    reason = hard_guard(real, protected)
    if reason:
        plan.refusal, plan.refusal_kind = f"{named}: {reason}", "protected"
        return plan
    if not plan.exists:
        return plan  # nothing to delete; Kafka / ZooKeeper create it at the next start
    if not real.is_dir():
        plan.refusal, plan.refusal_kind = f"{named} is not a folder", "not-a-folder"
        return plan
    usage = measure(real)
    plan.files, plan.folders, plan.links, plan.size_bytes = usage.files, usage.folders, usage.links, usage.size_bytes
    plan.mounts = usage.mounts
    if usage.mounts:
        plan.refusal = f"{named} has another file system mounted inside ({', '.join(usage.mounts[:3])}): unmount it first"
        plan.refusal_kind = "mount-point"
        return plan
    contents = survey(real)
    if role in (KAFKA_LOG_DIR, KRAFT_METADATA_DIR):
        plan.topics = _topics_on_disk(real)
        meta = services.read_meta_properties(real)
        plan.cluster_id = (meta or {}).get("cluster.id")
        plan.looks_like_data = contents.kafka
        kind = "Kafka data (no meta.properties, no checkpoint files, no <topic>-<partition> folders with segments)"
    else:
        plan.looks_like_data = contents.zookeeper
        kind = "ZooKeeper data (no version-2 folder with transaction logs or snapshots)"
    plan.forced = _key(real) in forced
    unnamed = _unnamed_foreign(real, contents.foreign, forced)
    plan.foreign = [str(f) for f in unnamed[:FOREIGN_SHOWN]]
    plan.foreign_count = len(unnamed)
    plan.foreign_named = len(contents.foreign) - len(unnamed)
    if unnamed:  # even --force-path DIR does not hand over files Kafka and ZooKeeper never wrote
        plan.refusal, plan.refusal_kind = foreign_refusal(named, unnamed), "foreign"
    elif not plan.looks_like_data and not plan.forced and not contents.empty:
        plan.refusal, plan.refusal_kind = f"{named} does not look like {kind}", "unrecognised"
    return plan


def _check_force_paths(force_paths: Iterable[Path], dirs: Sequence[DirPlan]) -> list[str]:
    """A --force-path must name a configured data folder, or something that exists inside one."""
    refusals = []
    folders = [Path(d.real) for d in dirs if d.exists]
    for given in force_paths:
        as_folder, as_entry = resolve_named(given)
        if any(_same(as_folder, Path(d.real)) for d in dirs):
            continue
        inside = any(_is_within(as_entry, f) and not _same(as_entry, f) for f in folders)
        if not inside:
            refusals.append(f"--force-path {as_entry} is not one of the configured data folders, nor inside one")
        elif not os.path.lexists(as_entry):
            refusals.append(f"--force-path {as_entry} does not exist")
    return refusals


def build_plan(
    settings: Settings,
    *,
    force_paths: Iterable[Path] = (),
    backup_dir: Path | None = None,
    reset_producer_offset: bool = False,
    restart: bool = False,
    cwd: Path | None = None,
    home: Path | None = None,
    read_offset: Callable[[Settings], dict[str, object] | None] | None = None,
) -> ResetPlan:
    """What a reset would do, and whether it may: reads configs, folders and process state; changes nothing.

    KRaft mode (settings.kraft) empties the KRaft node(s)' log.dirs and metadata.log.dir instead of the
    broker's log dirs and ZooKeeper's folders; kafkaops's own nodes are stopped first, as in ZooKeeper mode.
    """
    force_paths = list(force_paths)
    protected, forced, base = Protected.of(settings, cwd=cwd, home=home), _named_keys(force_paths), service_cwd(settings)
    if settings.kraft:
        layout = kraft.read_layout(settings)
        dirs = _dir_plans(kraft.configured_dirs(layout), protected, forced, base)
        stop = kraft.node_plans(settings, layout)
        # A reset empties the local stack's folders: never because the settings name another cluster.
        not_local = kraft.not_local(settings, layout)
        refusals = ([not_local] if not_local else []) + [d.refusal for d in dirs if d.refusal]
        refusals += kraft.running_refusals(layout, stop, [Path(d.real) for d in dirs if d.exists])
    else:
        cfg = services.read_stack_config(settings)
        dirs = _dir_plans(_zookeeper_mode_dirs(cfg), protected, forced, base)
        stop = [_service_plan(settings, cfg, services.KAFKA), _service_plan(settings, cfg, services.ZOOKEEPER)]
        refusals = [d.refusal for d in dirs if d.refusal]
        identity = services.identify(settings)
        not_local = None if identity.local else services.identity.not_local_message(settings, identity)
        if not_local:
            refusals.insert(0, not_local)
        refusals += [f"{'Kafka broker' if s.service == services.KAFKA else 'ZooKeeper'}: {s.detail}" for s in stop if s.state == "foreign"]
    refusals += _check_force_paths(force_paths, dirs)
    backup_real = str(realpath(backup_dir)) if backup_dir is not None else None
    if backup_real is not None:
        refusals += _backup_refusals(Path(backup_real), dirs)
    offset = _OffsetNow()
    if reset_producer_offset:
        offset = _offset_now(settings, read_offset or read_producer_offset)
        refusals += offset.refusals
    return ResetPlan(
        stop=stop,
        dirs=dirs,
        keeps=_keeps(settings, reset_producer_offset),
        loses=_loses(settings, dirs, reset_producer_offset, offset.before),
        mode="kraft" if settings.kraft else "zookeeper",
        reset_producer_offset=reset_producer_offset,
        backup_dir=backup_real,
        restart=restart,
        offset_before=offset.before,
        offset_error=offset.error,
        offset_hint=offset.hint,
        refusals=refusals,
        force_paths=[str(p) for p in force_paths],
        not_local=not_local,
    )


def _zookeeper_mode_dirs(cfg: services.StackConfig) -> list[tuple[str, Path]]:
    configured: list[tuple[str, Path]] = [(KAFKA_LOG_DIR, d) for d in cfg.log_dirs]
    configured.append((ZK_DATA_DIR, cfg.zk_data_dir))
    if cfg.zk_data_log_dir is not None:
        configured.append((ZK_DATA_LOG_DIR, cfg.zk_data_log_dir))
    return configured


def _dir_plans(configured: Sequence[tuple[str, Path]], protected: Protected, forced: set[str], base: Path) -> list[DirPlan]:
    """One plan per configured (role, folder), each real folder once (``base``: where Java resolves a relative path)."""
    dirs: list[DirPlan] = []
    seen: set[str] = set()
    for role, path in configured:
        key = os.path.normcase(str(realpath(path, base)))
        if key in seen:  # dataLogDir == dataDir, or a log dir listed twice
            continue
        seen.add(key)
        dirs.append(_dir_plan(role, path, protected, forced, base))
    return dirs


def _backup_refusals(b: Path, dirs: Sequence[DirPlan]) -> list[str]:
    refusals = [f"the backup folder {b} is inside {d.role} {d.real}, which the reset empties" for d in dirs if _is_within(b, Path(d.real))]
    if b.exists() and not b.is_dir():
        refusals.append(f"the backup folder {b} exists and is not a folder")
    return refusals


@dataclass
class _OffsetNow:
    """The default pipeline's position before the reset (with --reset-producer-offset), or why it cannot be read."""

    before: dict[str, object] | None = None
    error: str | None = None
    hint: str | None = None
    refusals: list[str] = field(default_factory=list)


def _offset_now(settings: Settings, read_offset: Callable[[Settings], dict[str, object] | None]) -> _OffsetNow:
    try:
        return _OffsetNow(before=read_offset(settings))
    except RefusedError as exc:  # a producer runs: the database is fine
        return _OffsetNow(None, exc.message, exc.hint, [f"--reset-producer-offset: {exc.message}"])
    except KafkaopsError as exc:
        return _OffsetNow(None, exc.message, exc.hint, [f"--reset-producer-offset: cannot read producer_offsets: {exc.message}"])


def _keeps(settings: Settings, reset_producer_offset: bool) -> list[str]:
    if settings.kraft:
        controller = services.controller_properties(settings)
        configs = f"{settings.server_properties}" + (f", {controller}" if controller.is_file() else "")
    else:
        configs = f"{settings.server_properties}, {settings.zookeeper_properties}"
    return [
        "the database: the livedb rows" + ("" if reset_producer_offset else " and the producer offset (producer_offsets)"),
        f"the config files: {configs}",
        f"kafkaops's own state and service logs under {settings.kafkaops_home}",
        "the data folders themselves (only their contents are deleted)",
    ]


def _loses(settings: Settings, dirs: Sequence[DirPlan], reset_producer_offset: bool, offset_before: dict[str, object] | None) -> list[str]:
    topic_names = sorted({t for d in dirs for t in d.topics if not t.startswith("__")})
    cluster_id = next((f" {d.cluster_id}" for d in dirs if d.cluster_id), "")
    loses = [
        "every topic and message" + (f" (topics on disk: {', '.join(topic_names)})" if topic_names else ""),
        "every consumer group's committed offsets (__consumer_offsets)",
    ]
    if settings.kraft:
        loses.append("the KRaft metadata log (__cluster_metadata: topics, configs, the quorum state) and meta.properties")
        loses.append(f"the cluster id{cluster_id}: the next `kafkaops up` formats the folders with a new one")
    else:
        loses.append(f"the broker's metadata (meta.properties, cluster id{cluster_id})")
        loses.append("ZooKeeper's state: broker registrations, controller, topic configs, the cluster id")
    if reset_producer_offset:
        pipeline = (offset_before or {}).get("pipeline", f"livedb -> {settings.kafka_topic}")
        loses.append(f"the producer's position of {pipeline}: it goes back to last_id 0, so every livedb row is sent again to {settings.kafka_topic}")
    return loses
