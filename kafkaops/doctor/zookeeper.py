"""Step 1 of the checklist: ZooKeeper."""

from __future__ import annotations

from kafkaops.adapters import zookeeper as zk
from kafkaops.doctor.context import Context
from kafkaops.doctor.process import ZOOKEEPER_WORDS, process_check
from kafkaops.doctor.registry import check
from kafkaops.doctor.results import Outcome, failed, passed
from kafkaops.procedures import services


@check("zookeeper.process", 1, "zookeeper", "ZooKeeper process and port", local="zookeeper", applies="local")
def check_zookeeper_process(ctx: Context) -> Outcome:
    assert ctx.cfg is not None
    return process_check(ctx, services.ZOOKEEPER, services.service_address(ctx.cfg, services.ZOOKEEPER), ZOOKEEPER_WORDS)


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
