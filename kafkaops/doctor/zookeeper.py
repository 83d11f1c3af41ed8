"""Step 1 of the checklist: ZooKeeper."""

from __future__ import annotations

import time

from kafkaops.adapters import processes
from kafkaops.adapters import zookeeper as zk
from kafkaops.doctor.common import _owner_label
from kafkaops.doctor.context import Context
from kafkaops.doctor.registry import check
from kafkaops.doctor.results import Outcome, failed, passed, warned
from kafkaops.procedures import services
from kafkaops.text import format_uptime


@check("zookeeper.process", 1, "zookeeper", "ZooKeeper process and port", local="zookeeper", applies="local")
def check_zookeeper_process(ctx: Context) -> Outcome:
    assert ctx.cfg is not None
    cfg = ctx.cfg
    proc = services.live_process(services.read_pid(ctx.settings, services.ZOOKEEPER))
    open_ = processes.port_open(cfg.zk_probe_host, cfg.zk_port)
    if proc is not None:
        if open_:
            return passed(
                f"ZooKeeper runs (pid {proc.pid}, up {format_uptime(time.time() - proc.create_time)}) and listens on port {cfg.zk_port}",
                data={"pid": proc.pid, "port": cfg.zk_port, "managed": True},
            )
        return failed(
            f"ZooKeeper's process {proc.pid} runs but port {cfg.zk_port} is closed",
            remedy="it is still starting or failing to bind: read its log",
            runbook="zookeeper-unreachable",
            next="kafkaops logs zookeeper",
            data={"pid": proc.pid, "port": cfg.zk_port},
        )
    if not open_:
        return failed(
            f"ZooKeeper is not running (nothing listens on port {cfg.zk_port})",
            remedy="start the stack: `kafkaops up` starts ZooKeeper first, then the broker",
            runbook="zookeeper-unreachable",
            next="kafkaops up",
            data={"port": cfg.zk_port},
        )
    owner = processes.port_owner(cfg.zk_port)
    details = [f"command: {owner.command[:300]}"] if owner else []
    if owner is not None and owner.runs(services.MAIN_CLASS[services.ZOOKEEPER]):
        return warned(
            f"ZooKeeper on port {cfg.zk_port} was not started by kafkaops ({_owner_label(owner)})",
            remedy="kafkaops can check it but will never stop it; stop it yourself if it is not meant to run",
            runbook="foreign-process",
            details=details,
            data={"pid": owner.pid, "port": cfg.zk_port, "managed": False},
        )
    if owner is None:
        return warned(
            f"port {cfg.zk_port} is held by {_owner_label(owner)}, not by a ZooKeeper kafkaops started",
            remedy="if the next check fails too, find and stop that process",
            runbook="foreign-process",
            data={"port": cfg.zk_port},
        )
    return failed(
        f"port {cfg.zk_port} is held by {_owner_label(owner)}, not by ZooKeeper",
        remedy=f"stop that process (pid {owner.pid}) or set another clientPort in {ctx.settings.zookeeper_properties}, then `kafkaops up`",
        runbook="port-in-use",
        details=details,
        next=f"kafkaops status  # then stop pid {owner.pid}",
        priority=10,
        data={"pid": owner.pid, "port": cfg.zk_port, "owner": owner.name},
    )


@check("zookeeper.serving", 1, "zookeeper", "ZooKeeper answers srvr", requires=("zookeeper.process",), applies="zookeeper")
def check_zookeeper_serving(ctx: Context) -> Outcome:
    address = f"{ctx.zk_host}:{ctx.zk_port}"
    answer = zk.srvr(ctx.zk_host, ctx.zk_port, timeout=1.5)
    if answer is None:
        return failed(
            f"nothing answers ZooKeeper's srvr at {address} (ZOOKEEPER_CONNECT)",
            remedy="start ZooKeeper (`kafkaops up`), or fix ZOOKEEPER_CONNECT",
            runbook="zookeeper-unreachable",
            next="kafkaops up",
            data={"address": address},
        )
    if not answer.serving:
        return failed(
            f"ZooKeeper at {address} accepts connections but is not serving requests yet",
            remedy="wait a few seconds; if it stays so, read its log",
            runbook="zookeeper-unreachable",
            next="kafkaops logs zookeeper",
            data={"address": address},
        )
    return passed(
        f"ZooKeeper {answer.version or '?'} serves at {address} (mode {answer.mode})", data={"address": address, "mode": answer.mode, "version": answer.version}
    )
