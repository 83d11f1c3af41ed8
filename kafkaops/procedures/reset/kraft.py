"""KRaft mode (Kafka 4.x): which folders a reset empties, and the guard that no KRaft node runs on them.

The folders are every ``log.dirs`` and ``metadata.log.dir`` entry of the stack's node(s): the combined
node's server.properties, or in the split layout also controller.properties beside it. Kafka's files
in them are recognised by name as in ZooKeeper mode (contents.py: the metadata partition
``__cluster_metadata-0`` with its ``quorum-state`` and ``.checkpoint`` snapshots among them).

As in ZooKeeper mode, a reset stops the node(s) kafkaops started (as ``kafkaops down`` does: the
broker first) and refuses while a node kafkaops did not start runs on them: a port of a node's
listeners answers, or a process holds the lock Kafka takes on each of its log dirs while it runs
(``.lock``); checked again under the stack lock after stopping, just before anything is deleted. After the folders are emptied, kafkaops forgets the cluster id it formatted
them with (KAFKAOPS_HOME/run/kraft-cluster.json), so the next ``up`` formats a new cluster as at first.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from kafkaops.adapters import network, processes
from kafkaops.errors import RefusedError
from kafkaops.procedures import services
from kafkaops.procedures.reset.plan import KAFKA_LOG_DIR, KRAFT_METADATA_DIR, LOCK_HELD, ServicePlan
from kafkaops.settings import Settings

LOCK_FILE = ".lock"  # Kafka's lock on a log dir, held while it runs (deleted at a clean stop)


def read_layout(settings: Settings) -> services.kraft_layout.KraftLayout:
    return services.kraft_layout.read_layout(settings)


def label(layout: services.kraft_layout.KraftLayout, service: str) -> str:
    if service == services.CONTROLLER:
        return "the KRaft controller"
    return "the KRaft broker" if layout.split else "the KRaft node (broker and controller)"


def configured_dirs(layout: services.kraft_layout.KraftLayout) -> list[tuple[str, Path]]:
    """(role, folder) for every node's dirs: a broker's log.dirs are log dirs; the rest hold the metadata log."""
    found = []
    for node in layout.nodes:
        for d in node.dirs:
            found.append((KAFKA_LOG_DIR if node.is_broker and d in node.log_dirs else KRAFT_METADATA_DIR, d))
    return found


def node_plans(settings: Settings, layout: services.kraft_layout.KraftLayout) -> list[ServicePlan]:
    """Each node in stop order (the broker first): running (kafkaops's), foreign (a port answers) or not-running."""
    return [_node_plan(settings, node) for node in reversed(layout.nodes)]


def _node_plan(settings: Settings, node: services.kraft_layout.KraftNode) -> ServicePlan:
    check = services.check_pid(services.read_pid(settings, node.service), settings)
    if check.verdict == "ours" and check.proc is not None:
        return ServicePlan(node.service, node.port, "running", check.proc.pid)
    for lst in node.listeners:
        if processes.port_open(services.probe_host(lst.host or ""), lst.port):
            owner = processes.port_owner(lst.port)
            who = services.owner_label(owner) if owner else services.UNSEEN_OWNER
            return ServicePlan(
                node.service, lst.port, "foreign", owner.pid if owner else None, f"port {lst.port} is held by {who}, which kafkaops did not start"
            )
    return ServicePlan(node.service, node.port, "not-running")


def locked_dirs(dirs: Iterable[Path]) -> list[Path]:
    """The folders whose ``.lock`` another process holds: a Kafka node runs on them (POSIX only)."""
    if sys.platform == "win32":
        return []
    import fcntl

    held = []
    for d in dirs:
        try:
            fd = os.open(d / LOCK_FILE, os.O_RDWR | os.O_NOFOLLOW)
        except OSError:  # no lock file (a clean stop deletes it), or not a plain file: nobody holds it
            continue
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the lock Java's FileChannel.tryLock takes
        except OSError:
            held.append(d)
        else:
            fcntl.lockf(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
    return held


def running_refusals(layout: services.kraft_layout.KraftLayout, stop: Sequence[ServicePlan], dirs: Iterable[Path]) -> list[str]:
    """Why the reset must not go on: a KRaft node kafkaops did not start runs, or holds one of the folders
    (kafkaops's own nodes are stopped by the reset, as in ZooKeeper mode)."""
    refusals = []
    for s in stop:
        if s.state == "foreign":
            refusals.append(f"{label(layout, s.service)}: {s.detail}")
    if not any(s.state == "running" for s in stop):  # kafkaops's own node holds its lock: said above already
        refusals += [f"{LOCK_HELD} {d / LOCK_FILE}: a Kafka node kafkaops did not start runs on {d}" for d in locked_dirs(dirs)]
    return refusals


def not_local(settings: Settings, layout: services.kraft_layout.KraftLayout) -> str | None:
    """Why KAFKA_BROKER is not the local KRaft stack's broker (None: it is)."""
    host, port = network.split_hostport(settings.kafka_broker, 9092)
    why = None
    if not network.is_local(host, timeout=0.5):
        why = f"KAFKA_BROKER={settings.kafka_broker} is not this machine"
    elif port not in [lst.port for lst in layout.broker.listeners]:
        urls = ", ".join(lst.url for lst in layout.broker.listeners)
        why = f"KAFKA_BROKER={settings.kafka_broker} is not the local KRaft stack's broker (its listeners in {layout.broker.config}: {urls})"
    return f"the configured cluster (KAFKA_BROKER={settings.kafka_broker}) is not the local KRaft stack: {why}" if why else None


def check_stopped(settings: Settings) -> None:
    """Right before anything is deleted (under the stack lock): still no KRaft node runs."""
    layout = read_layout(settings)
    refusals = running_refusals(layout, node_plans(settings, layout), [d for _role, d in configured_dirs(layout)])
    if refusals:
        raise RefusedError(
            f"{refusals[0]} (it started after the plan); nothing was deleted",
            details=refusals[1:],
            hint="stop that process (kafkaops did not start it), then rerun `kafkaops reset --confirm`",
            runbook="reset what-kafkaops-does",
        )


def forget_cluster(settings: Settings) -> str | None:
    """Drop the cluster id kafkaops formatted this stack's metadata dir with; the id forgotten (None: none kept)."""
    path = services.kraft_layout.cluster_record_path(settings)
    key = str(read_layout(settings).broker.metadata_dir)
    try:
        dirs = dict(json.loads(path.read_text(encoding="utf-8"))["dirs"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    gone = dirs.pop(key, None)
    if gone is None:
        return None
    if dirs:  # other metadata dirs kafkaops formatted (configs since changed): still guarded
        path.write_text(json.dumps({"dirs": dirs}, indent=2), encoding="utf-8")
    else:
        path.unlink(missing_ok=True)
    return str(gone)
