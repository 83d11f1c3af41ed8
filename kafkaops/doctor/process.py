"""The process checks of steps 1 and 2 (ZooKeeper's, the broker's): one check, worded per service.

Both go by :func:`services.probe`, the probe status and reset use too, and name who holds a port
the way status does ("pid N (ZooKeeper)").
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from kafkaops.doctor.context import Context
from kafkaops.doctor.results import Outcome, failed, passed, warned
from kafkaops.procedures import services
from kafkaops.text import format_uptime


@dataclass(frozen=True)
class ProcessWords:
    """How the process check speaks of one service."""

    name: str  # "ZooKeeper" | "the broker"
    not_running: str  # the finding when nothing listens
    start_remedy: str
    closed_remedy: str  # its process runs, its port is closed
    runbook: str  # the runbook when it does not answer
    log: str  # the service name for `kafkaops logs`
    foreign_remedy: str  # the same service runs, not started by kafkaops
    unseen: str  # the port's holder cannot be seen: "not by ..."
    unseen_remedy: str
    other: str  # another program holds the port: "not by ..."
    other_remedy: str  # with {pid} and {config}


ZOOKEEPER_WORDS = ProcessWords(
    name="ZooKeeper",
    not_running="ZooKeeper is not running",
    start_remedy="start the stack: `kafkaops up` starts ZooKeeper first, then the broker",
    closed_remedy="it is still starting or failing to bind: read its log",
    runbook="zookeeper-unreachable",
    log="zookeeper",
    foreign_remedy="kafkaops can check it but will never stop it; stop it yourself if it is not meant to run",
    unseen="not by a ZooKeeper kafkaops started",
    unseen_remedy="if the next check fails too, find and stop that process",
    other="not by ZooKeeper",
    other_remedy="stop that process (pid {pid}) or set another clientPort in {config}, then `kafkaops up`",
)

BROKER_WORDS = ProcessWords(
    name="the broker",
    not_running="the Kafka broker is not running",
    start_remedy="start it: `kafkaops up` (it starts ZooKeeper first if needed and waits until the broker is ready)",
    closed_remedy="it is still starting, or failing: read its log",
    runbook="broker-unreachable",
    log="kafka",
    foreign_remedy="kafkaops can check it but will never stop it",
    unseen="not by a broker kafkaops started",
    unseen_remedy="if the metadata check fails too, find and stop that process",
    other="not by a Kafka broker",
    other_remedy="stop that process (pid {pid}), or move the broker to a free port (listeners in {config}), then `kafkaops up`",
)


def process_check(ctx: Context, service: str, address: tuple[str, int], words: ProcessWords) -> Outcome:
    """Whether the service kafkaops started runs and holds its port at ``address``; else who does."""
    assert ctx.cfg is not None
    p = services.probe(ctx.settings, ctx.cfg, service, address=address)
    port = p.port
    if p.proc is not None:
        if p.port_open:
            return passed(
                f"{words.name} runs (pid {p.proc.pid}, up {format_uptime(time.time() - p.proc.create_time)}) and listens on port {port}",
                data={"pid": p.proc.pid, "port": port, "managed": True},
            )
        return failed(
            f"{words.name}'s process {p.proc.pid} runs but port {port} is closed",
            remedy=words.closed_remedy,
            runbook=words.runbook,
            next=f"kafkaops logs {words.log}",
            data={"pid": p.proc.pid, "port": port},
        )
    if not p.port_open:
        return failed(
            f"{words.not_running} (nothing listens on port {port})", remedy=words.start_remedy, runbook=words.runbook, next="kafkaops up", data={"port": port}
        )
    return _held_by_another(ctx, p, words)


def _held_by_another(ctx: Context, p: services.ServiceProbe, words: ProcessWords) -> Outcome:
    owner, port = p.owner, p.port
    if owner is None:
        return warned(f"port {port} is held by {p.owner_text}, {words.unseen}", remedy=words.unseen_remedy, runbook="foreign-process", data={"port": port})
    details = [f"command: {owner.command[:300]}"]
    if owner.runs(services.MAIN_CLASS[p.service]):
        return warned(
            f"{words.name} on port {port} was not started by kafkaops ({p.owner_text})",
            remedy=words.foreign_remedy,
            runbook="foreign-process",
            details=details,
            data={"pid": owner.pid, "port": port, "managed": False},
        )
    config = services.service_config(ctx.settings, p.service)
    return failed(
        f"port {port} is held by {p.owner_text}, {words.other}",
        remedy=words.other_remedy.format(pid=owner.pid, config=config),
        runbook="port-in-use",
        details=details,
        next=f"kafkaops status  # then stop pid {owner.pid}",
        priority=10,
        data={"pid": owner.pid, "port": port, "owner": owner.name},
    )
