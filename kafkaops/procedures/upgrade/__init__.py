"""kafkaops upgrade --version 4.x.y: the local KRaft stack moves to new Kafka binaries, nothing else changes.

Steps (numbered as failures report them):

1. preflight: a KRaft stack that kafkaops runs here and that is up; the version is a 4.x that is not
   older than the running one; Java 17 for Kafka 4.x. A ZooKeeper-mode stack is refused (exit 5):
   `kafkaops migrate --to kraft` first.
2. install the 4.x distribution under KAFKAOPS_HOME if it is not there (the install procedure).
3. configs that live inside the old versioned install folder are copied to KAFKAOPS_HOME/stack-config
   (the user's files are never rewritten; the copies are what the stack record points at).
4. snapshot: cluster id, topics and partitions, end offsets, group offsets, topic config overrides.
5. stop the broker, then the controller (clean shutdowns).
6. start the controller, then the broker, on the new binaries with the same configs and data.
7. verify: the snapshot again, compared (nothing missing or lower; growth is reported).
8. record the new binaries (and config) in the stack record: later commands use them.
9. raise the finalized metadata.version, only when confirmed (``--yes`` or a terminal's yes).

Until step 9 the old binaries can still run the data (the metadata version is what they would not
understand): a failure before step 8 leaves the stack record as it was, so `kafkaops down` then
`kafkaops up` returns to the old Kafka.
"""

from __future__ import annotations

import filecmp
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kafkaops.errors import KafkaopsError, NotReady, RefusedError, UsageError
from kafkaops.procedures import cluster_snapshot
from kafkaops.procedures.services.config import CONTROLLER, KAFKA, Progress, _noop, kafka_version
from kafkaops.settings import Settings

STEPS = (
    "preflight",
    "install",
    "copy configs",
    "snapshot",
    "stop",
    "start on the new binaries",
    "verify",
    "record the new binaries",
    "raise the metadata version",
)
CONFIG_DIR = "stack-config"


@dataclass
class MetadataChange:
    current: str | None  # the finalized metadata.version now (None: not read, e.g. a dry run on a stopped stack)
    target: str | None  # the level it would be raised to (None: known only once the new binaries are installed)
    target_level: int | None = None
    raised: bool = False
    reason: str | None = None  # why it was not raised


@dataclass
class UpgradePlan:
    from_version: str | None
    to_version: str
    from_home: str
    to_home: str
    layout: str  # combined | split
    install_needed: bool
    binaries_change: bool  # False: the stack already runs on to_version (only the metadata step is left)
    configs: list[dict[str, str]]  # {"from", "to"}: copies out of the old install folder
    server_properties: str  # the broker config the upgraded stack uses
    metadata: MetadataChange
    steps: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class UpgradeResult:
    plan: UpgradePlan
    dry_run: bool
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    stack_record: str | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["plan"] = self.plan.to_dict()
        return data


# --------------------------------------------------------------------------------------------
# The plan: read-only


def check_target(version: str, current: str | None) -> None:
    from kafkaops.procedures.install import check_version

    if check_version(version) != "kraft":
        raise UsageError(f"--version {version} is not a Kafka 4.x release", hint="upgrade moves a KRaft stack to 4.x, e.g. --version 4.4.0")
    if current is not None and _key(version) < _key(current):
        raise RefusedError(
            f"Kafka {version} is older than the {current} the stack runs on: upgrade never downgrades",
            hint=f"give a version of {current} or newer",
        )


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in version.split("."))


def refuse_zookeeper(settings: Settings) -> None:
    if not settings.kraft:
        raise RefusedError(
            f"the stack runs in ZooKeeper mode ({settings.server_properties} has no process.roles): Kafka 4.x cannot start on ZooKeeper metadata",
            hint="migrate it to KRaft first: kafkaops migrate --to kraft; then kafkaops upgrade --version <4.x>",
        )


def make_plan(settings: Settings, version: str, metadata_version: str | None = None) -> UpgradePlan:
    """What `kafkaops upgrade --version` would do, from the settings and the files alone (nothing runs)."""
    from kafkaops.procedures.install import installed_version
    from kafkaops.procedures.services.kraft_layout import read_layout
    from kafkaops.procedures.services.pidfiles import controller_properties

    refuse_zookeeper(settings)
    layout = read_layout(settings)
    current = kafka_version(settings.kafka_home)
    check_target(version, current)
    to_home = settings.kafka_home if current == version else settings.dists_dir / version
    configs: list[dict[str, str]] = []
    server_props = settings.server_properties
    if current != version and _inside(settings.server_properties, settings.kafka_home):
        dest = settings.kafkaops_home / CONFIG_DIR
        sources = [settings.server_properties] + ([controller_properties(settings)] if layout.split else [])
        configs = [{"from": str(src), "to": str(dest / src.name)} for src in sources]
        server_props = dest / settings.server_properties.name
    install_needed = current != version and installed_version(to_home) is None
    plan = UpgradePlan(
        from_version=current,
        to_version=version,
        from_home=str(settings.kafka_home),
        to_home=str(to_home),
        layout=layout.name,
        install_needed=install_needed,
        binaries_change=current != version,
        configs=configs,
        server_properties=str(server_props),
        metadata=MetadataChange(None, metadata_version),
    )
    plan.steps = describe_steps(plan)
    return plan


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def describe_steps(plan: UpgradePlan) -> list[str]:
    nodes = "the broker, then the controller" if plan.layout == "split" else "the KRaft node"
    started = "the controller, then the broker" if plan.layout == "split" else "the KRaft node"
    lines = [f"1. preflight: the KRaft stack ({plan.layout} layout) is up, Kafka {plan.from_version} -> {plan.to_version}"]
    if not plan.binaries_change:
        lines.append(f"2-8. nothing: the stack already runs Kafka {plan.to_version} ({plan.to_home})")
    else:
        lines.append(
            f"2. install Kafka {plan.to_version} into {plan.to_home}" if plan.install_needed else f"2. Kafka {plan.to_version} is installed in {plan.to_home}"
        )
        if plan.configs:
            lines.append("3. copy the configs out of the old install folder: " + ", ".join(f"{c['from']} -> {c['to']}" for c in plan.configs))
        else:
            lines.append(f"3. keep the configs where they are ({plan.server_properties})")
        lines += [
            "4. snapshot: cluster id, topics/partitions, end offsets, group offsets, topic config overrides",
            f"5. stop {nodes} (clean shutdown)",
            f"6. start {started} on {plan.to_home} with the same configs and data",
            "7. verify against the snapshot",
            f"8. record Kafka {plan.to_version} in the stack record (KAFKAOPS_HOME/stack.json)",
        ]
    md = plan.metadata
    target = md.target or f"the newest stable level of Kafka {plan.to_version}"
    lines.append(f"9. raise metadata.version from {md.current or 'the finalized level'} to {target} (only when confirmed; it cannot be lowered again)")
    return lines


# --------------------------------------------------------------------------------------------
# Failures name the step reached, what runs now, and the next command


def running_now(settings: Settings) -> str:
    from kafkaops.procedures.services.pidfiles import check_pid, read_pid

    parts = []
    for service, label in ((CONTROLLER, "controller"), (KAFKA, "broker")):
        record = read_pid(settings, service)
        if record is not None and check_pid(record, settings).verdict == "ours":
            parts.append(f"the {label} (pid {record.pid}, Kafka {kafka_version(Path(record.kafka_home)) or '?'} from {record.kafka_home})")
    return ", ".join(parts) if parts else "nothing of the stack"


def next_command(step: int, plan: UpgradePlan) -> str:
    again = f"kafkaops upgrade --version {plan.to_version}"
    if step <= 4:
        return f"nothing was stopped or changed: fix the cause, then run `{again}` again"
    if step <= 7:
        return (
            f"the stack record still names Kafka {plan.from_version}: `kafkaops down` then `kafkaops up` runs the old binaries again, "
            f"or fix the cause and run `{again}` again"
        )
    if step == 8:
        return f"run `{again}` again (it finds the stack on the new binaries and only records them)"
    return f"the stack runs Kafka {plan.to_version}; raise the metadata version later with `{again} --yes`"


@contextmanager
def step(n: int, settings: Settings, plan: UpgradePlan, progress: Progress) -> Iterator[None]:
    progress(f"step {n} of {len(STEPS)}: {STEPS[n - 1]}")
    try:
        yield
    except KafkaopsError as exc:
        exc.message = f"upgrade stopped at step {n} of {len(STEPS)} ({STEPS[n - 1]}): {exc.message}"
        exc.args = (exc.message,)
        exc.details.append(f"running now: {running_now(settings)}")
        if exc.hint:
            exc.details.append(f"about the cause: {exc.hint}")
        exc.hint = next_command(n, plan)
        raise


# --------------------------------------------------------------------------------------------
# Running it


def preflight(settings: Settings, plan: UpgradePlan) -> str:
    """The stack is the local KRaft stack and it is up; Java fits the target; returns the java to run."""
    from kafkaops.adapters.java import find_java
    from kafkaops.procedures.services import stack

    st = stack.status(settings)
    if not st.local:
        raise RefusedError(
            f"KAFKA_BROKER={settings.kafka_broker} is not the KRaft stack kafkaops runs here: upgrade changes only the local stack",
            hint="point KAFKA_BROKER / KAFKAOPS_SERVER_PROPERTIES at the local stack",
        )
    if not st.up:
        down = ", ".join(f"{s.service} is {s.state}" for s in st.services if s.state != "running")
        raise NotReady(f"the stack is not up ({down}): upgrade verifies the data before and after", hint="start it with `kafkaops up`")
    info = find_java(settings.java, settings.kafkaops_home / "cache" / "java-version.json")
    stack.check_kraft_java(new_settings(settings, plan), info)  # not installed yet: taken for 4.x, which needs Java 17
    return info.path


def copy_configs(plan: UpgradePlan) -> None:
    for c in plan.configs:
        src, dest = Path(c["from"]), Path(c["to"])
        if dest.exists() and not filecmp.cmp(src, dest, shallow=False):
            raise RefusedError(
                f"{dest} exists and differs from {src}: kafkaops does not overwrite it", hint=f"move {dest} away (or compare the two), then try again"
            )
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest)


def new_settings(settings: Settings, plan: UpgradePlan) -> Settings:
    return settings.with_overrides(kafka_home=Path(plan.to_home), kafka_version=plan.to_version, server_properties=Path(plan.server_properties), mode="kraft")


def stop_and_start(settings: Settings, new: Settings, plan: UpgradePlan, java: str, progress: Progress) -> None:
    """Steps 5 and 6 under one stack lock (no `up`/`down` between): the broker stops first (its clean
    shutdown needs the controller), then the controller; they start in the other order on ``new``'s binaries."""
    from kafkaops.procedures.services import kraft
    from kafkaops.procedures.services.pidfiles import stack_lock
    from kafkaops.procedures.services.shutdown import _stop_one

    layout = kraft.read_layout(settings)
    with stack_lock(settings, "up", progress):
        with step(5, settings, plan, progress):
            for node in reversed(layout.nodes):
                outcome = _stop_one(settings, node.service, False, progress)
                if outcome.action == "pid-file-mismatch":
                    raise RefusedError(f"{outcome.detail}; nothing was signalled", hint="read `kafkaops status`")
        with step(6, settings, plan, progress):
            kraft.up(new, kraft.read_layout(new), java, progress)


# --------------------------------------------------------------------------------------------
# The metadata version: read, and raised only when confirmed


def feature_tool(settings: Settings, java: str) -> Any:
    from kafkaops.adapters.features import FeatureTool
    from kafkaops.procedures.services import kraft

    if not kraft.plaintext(settings):
        raise RefusedError(
            "kafkaops raises the metadata version of a PLAINTEXT local stack only",
            hint=f"run kafka-features.sh --bootstrap-server {settings.kafka_broker} --command-config <client.properties> upgrade --release-version <version>",
        )
    return FeatureTool(java, settings.kafka_home, settings.kafka_broker, {})


def read_metadata(settings: Settings, java: str, md: MetadataChange, *, target: bool = True) -> None:
    """Fill in the finalized metadata.version and (``target``) the level to raise it to: the one asked for,
    else the newest stable one of the binaries in ``settings.kafka_home``."""
    from kafkaops.adapters.features import MAIN_CLASS, FeatureError

    tool = feature_tool(settings, java)
    try:
        current = tool.describe().get("metadata.version")
        md.current = current.finalized if current is not None else None
        if target:
            md.target_level, md.target = tool.metadata_level(md.target)
    except FeatureError as exc:
        raise KafkaopsError(str(exc), hint=f"run `kafkaops doctor`; the tool is {MAIN_CLASS} from {settings.kafka_home / 'libs'}") from None


def raise_metadata(settings: Settings, java: str, md: MetadataChange, confirm: Callable[[str], bool], progress: Progress) -> None:
    from kafkaops.adapters.features import FeatureError

    read_metadata(settings, java, md)
    if md.current == md.target:
        md.reason = f"metadata.version is already {md.target}"
        return
    assert md.target_level is not None
    if not confirm(
        f"raise metadata.version from {md.current} to {md.target}? It cannot be lowered again, and older Kafka binaries will not start on this data"
    ):
        md.reason = "not confirmed"
        return
    progress(f"raising metadata.version from {md.current} to {md.target} (level {md.target_level})")
    try:
        feature_tool(settings, java).upgrade_metadata(md.target_level)
        after = feature_tool(settings, java).describe().get("metadata.version")
    except FeatureError as exc:
        raise KafkaopsError(str(exc), hint="read `kafkaops logs controller`") from None
    if after is None or after.finalized != md.target:
        raise KafkaopsError(f"metadata.version is {after.finalized if after else 'unknown'} after the upgrade request, not {md.target}")
    md.raised = True


# --------------------------------------------------------------------------------------------
# The whole procedure


def dry_run(settings: Settings, plan: UpgradePlan) -> UpgradeResult:
    """The plan, with the metadata versions filled in where they can be read without changing anything."""
    from kafkaops.adapters.java import find_java

    java = find_java(settings.java, settings.kafkaops_home / "cache" / "java-version.json").path
    from kafkaops.procedures.services import stack

    try:  # the new binaries know the target level; before they are installed, the running ones tell the current one
        if not stack.status(settings).up:  # the tool would wait its whole timeout for a broker that is not there
            raise KafkaopsError("the stack is not up")
        if plan.install_needed:
            read_metadata(settings, java, plan.metadata, target=False)
        else:
            read_metadata(settings.with_overrides(kafka_home=Path(plan.to_home)), java, plan.metadata)
    except KafkaopsError as exc:  # a stopped stack: the plan is still worth printing
        plan.metadata.reason = f"metadata.version not read: {exc.message}"
    plan.steps = describe_steps(plan)
    return UpgradeResult(plan, dry_run=True)


def run(settings: Settings, plan: UpgradePlan, *, confirm: Callable[[str], bool], progress: Progress = _noop) -> UpgradeResult:
    """Steps 1-9 (see the module); each failure says the step, what runs now and the next command."""
    t0 = time.monotonic()
    result = UpgradeResult(plan, dry_run=False)
    with step(1, settings, plan, progress):
        java = preflight(settings, plan)
    new = new_settings(settings, plan)
    if plan.binaries_change:
        upgrade_binaries(settings, new, plan, java, result, progress)
    else:
        progress(f"the stack already runs Kafka {plan.to_version}: steps 2-8 have nothing to do")
    with step(9, new, plan, progress):
        raise_metadata(new, java, plan.metadata, confirm, progress)
    result.seconds = round(time.monotonic() - t0, 1)
    return result


def upgrade_binaries(settings: Settings, new: Settings, plan: UpgradePlan, java: str, result: UpgradeResult, progress: Progress) -> None:
    from kafkaops.procedures.install import install
    from kafkaops.stack_record import write_stack_record

    with step(2, settings, plan, progress):
        if plan.install_needed:
            install(dists_dir=settings.dists_dir, data_dir=settings.data_dir, version=plan.to_version, progress=progress)
    with step(3, settings, plan, progress):
        copy_configs(plan)
    with step(4, settings, plan, progress):
        before = cluster_snapshot.take(settings)
        result.before = before.summary()
    stop_and_start(settings, new, plan, java, progress)
    with step(7, new, plan, progress):
        after, cmp = cluster_snapshot.settle(lambda: cluster_snapshot.take(new), before, new.start_timeout, progress)
        result.after = after.summary()
        result.notes += cmp.notes
        if not cmp.ok:
            raise KafkaopsError(f"the stack on Kafka {plan.to_version} lost what it held before: {cmp.problems[0]}", details=cmp.problems[1:])
    with step(8, new, plan, progress):
        values = {"kafka_version": plan.to_version, "kafka_home": plan.to_home, "server_properties": plan.server_properties}
        result.stack_record = str(write_stack_record(settings.kafkaops_home, values))
    result.notes += shadowed(settings, plan)


def shadowed(settings: Settings, plan: UpgradePlan) -> list[str]:
    """Settings given by a flag, the environment or .env win over the stack record: say which would undo the upgrade."""
    notes = []
    where = {"flag": "by a flag", "env": "in the environment", ".env": "in .env"}
    if settings.sources.get("kafka_home") in where and settings.kafka_home != Path(plan.to_home):
        notes.append(
            f"KAFKA_HOME is set {where[settings.sources['kafka_home']]} to {settings.kafka_home}: it wins over the stack record, "
            f"so the next `kafkaops up` would start Kafka {plan.from_version}; unset it or set it to {plan.to_home}"
        )
    if plan.configs and settings.sources.get("server_properties") in where:
        notes.append(
            f"KAFKAOPS_SERVER_PROPERTIES is set {where[settings.sources['server_properties']]}: set it to {plan.server_properties} (the copy) or unset it"
        )
    return notes
