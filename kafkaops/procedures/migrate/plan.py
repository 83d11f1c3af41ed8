"""Phase 1 (preflight) and the plan: what each phase will do, with every config change as a diff of the user's own configs.

The plan is pure data: ``--dry-run`` prints it and nothing else happens; a real run writes the
copies it names and walks its phases.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kafkaops.adapters.javaprops import parse_listeners, read_properties
from kafkaops.errors import RefusedError
from kafkaops.procedures.migrate import configs
from kafkaops.procedures.migrate.configs import Paths
from kafkaops.procedures.migrate.state import PHASE_NAMES
from kafkaops.procedures.services.config import kafka_version, read_stack_config
from kafkaops.settings import Settings

DEFAULT_CONTROLLER_ID = 3000
# doctor layers whose failure makes a migration unsafe (database, producer and consumer do not take part)
BLOCKING_LAYERS = ("zookeeper", "broker", "topic", "configuration", "logs", "host")
NOT_BLOCKING = ("config.variables",)  # the pipeline's variables (DATABASE_URL): the producer's business, not the cluster's


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Phase:
    number: int
    title: str
    steps: list[str]
    diffs: dict[str, list[str]] = field(default_factory=dict)  # the copy's path -> unified diff against the user's config


@dataclass
class MigrationPlan:
    checks: list[Check]
    phases: list[Phase]
    cluster_id: str | None
    broker_id: int
    controller_id: int
    controller_port: int
    metadata_dir: Path
    zk_connect: str
    zookeeper_data: Path
    paths: Paths

    @property
    def refusals(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def to_dict(self) -> dict[str, Any]:
        return {
            "cluster_id": self.cluster_id,
            "broker_id": self.broker_id,
            "controller": {"node_id": self.controller_id, "port": self.controller_port, "metadata_dir": str(self.metadata_dir)},
            "zookeeper_data": str(self.zookeeper_data),
            "checks": [c.__dict__ for c in self.checks],
            "phases": [{"phase": p.number, "title": p.title, "steps": p.steps, "diffs": p.diffs} for p in self.phases],
        }


def unsupported(broker: dict[str, str]) -> list[str]:
    """Features of the user's broker that this migration does not carry over to KRaft (named, then refused)."""
    found = []
    if broker.get("authorizer.class.name"):
        found.append(f"authorizer.class.name={broker['authorizer.class.name']} (ACLs need StandardAuthorizer in KRaft: migrate them by hand)")
    if broker.get("control.plane.listener.name"):
        found.append("control.plane.listener.name (KRaft has no control-plane listener)")
    protocols = dict(e.split(":", 1) for e in configs.protocol_map(broker).split(",") if ":" in e)
    ibl = configs.inter_broker_listener(broker)
    if protocols.get(ibl, ibl).upper() != "PLAINTEXT":
        found.append(f"inter-broker listener {ibl} is {protocols.get(ibl)} (kafkaops writes PLAINTEXT controller configs only)")
    if any(k.startswith("zookeeper.ssl") or k == "zookeeper.set.acl" for k in broker):
        found.append("a secured ZooKeeper connection (zookeeper.ssl.* / zookeeper.set.acl)")
    return found


def ibp_ok(broker: dict[str, str]) -> bool:
    raw = (broker.get("inter.broker.protocol.version") or "").strip()
    return not raw or raw.startswith(configs.BRIDGE_IBP)


def pick_controller_port(broker_ports: list[int], wanted: int | None) -> int:
    from kafkaops.adapters import processes

    if wanted:
        return wanted
    port = max(broker_ports) + 1
    while port < 65535 and (processes.port_open("127.0.0.1", port) or port in broker_ports):
        port += 1
    return port


def build_plan(settings: Settings, *, cluster_id: str | None, other_brokers: list[int], healthy: Check, controller_port: int | None = None) -> MigrationPlan:
    """The plan for the local ZooKeeper-mode stack; ``cluster_id`` and ``other_brokers`` come from ZooKeeper."""
    from kafkaops.adapters import processes

    cfg = read_stack_config(settings)
    broker = dict(read_properties(settings.server_properties).values)
    ports = [lst.port for lst in cfg.listeners]
    controller_id = DEFAULT_CONTROLLER_ID if cfg.broker_id != DEFAULT_CONTROLLER_ID else DEFAULT_CONTROLLER_ID + 1
    port = pick_controller_port(ports, controller_port)
    paths = Paths(settings.kafkaops_home / "migration")
    metadata_dir = settings.data_dir / "kraft-controller"
    version = kafka_version(settings.kafka_home) or "unknown"
    features = unsupported(broker)
    checks = [
        healthy,
        Check(
            "bridge release",
            version.startswith("3.9."),
            f"Kafka {version} at {settings.kafka_home}"
            + ("" if version.startswith("3.9.") else ": the migration needs a 3.9.x bridge release (`kafkaops install --version 3.9.2`)"),
        ),
        Check(
            "cluster id",
            cluster_id is not None,
            f"/cluster/id in ZooKeeper: {cluster_id}" if cluster_id else "ZooKeeper has no /cluster/id (start the broker once with `kafkaops up`)",
        ),
        Check(
            "inter.broker.protocol.version",
            ibp_ok(broker),
            f"{broker.get('inter.broker.protocol.version') or 'unset (the release default, 3.9)'}"
            + ("" if ibp_ok(broker) else f": set it to {configs.BRIDGE_IBP} and restart the broker before migrating"),
        ),
        Check(
            "single broker",
            not other_brokers,
            "only the local broker is registered"
            if not other_brokers
            else f"brokers {other_brokers} are registered too: kafkaops migrates a one-broker stack only",
        ),
        Check(
            "controller port",
            not processes.port_open("127.0.0.1", port),
            f"port {port} for the controller is free"
            + ("" if not processes.port_open("127.0.0.1", port) else " NOT: something listens there (pass --controller-port)"),
        ),
        Check("node.id", controller_id != cfg.broker_id, f"controller node.id {controller_id}, broker.id {cfg.broker_id}"),
        Check("KRaft features", not features, "nothing KRaft does not support" if not features else "; ".join(features)),
    ]
    plan = MigrationPlan(checks, [], cluster_id, cfg.broker_id, controller_id, port, metadata_dir, cfg.broker_zk_connect, cfg.zk_data_dir, paths)
    plan.phases = phases(settings, plan, broker)
    return plan


def phases(settings: Settings, plan: MigrationPlan, broker: dict[str, str]) -> list[Phase]:
    p = plan.paths
    kw = {"controller_id": plan.controller_id, "controller_port": plan.controller_port}
    ctl = configs.controller_config(broker, metadata_dir=plan.metadata_dir, zk_connect=plan.zk_connect, migration=True, **kw)
    final = configs.controller_config(broker, metadata_dir=plan.metadata_dir, zk_connect=plan.zk_connect, migration=False, **kw)
    user = str(settings.server_properties)
    listeners = parse_listeners(broker.get("listeners", "PLAINTEXT://:9092"))
    port = listeners[0].port if listeners else 9092
    return [
        Phase(
            1,
            PHASE_NAMES[1],
            [
                "check the stack (doctor), the release, the cluster id, the controller port and the broker's configs",
                "read topics, partitions and group offsets to compare after each phase",
            ],
        ),
        Phase(
            2,
            PHASE_NAMES[2],
            [
                f"write {p.controller} (node.id {plan.controller_id}, port {plan.controller_port}, migration enabled, zookeeper.connect={plan.zk_connect})",
                f"format {plan.metadata_dir} with the existing cluster id {plan.cluster_id}",
                "start the controller; wait until it leads the metadata quorum",
            ],
            {str(p.controller): configs.diff({}, ctl, "(new file)", str(p.controller))},
        ),
        Phase(
            3,
            PHASE_NAMES[3],
            [
                f"restart the broker (port {port}) on {p.migration_broker}: the user's config plus the migration configs",
                "wait for the controller's log line 'Completed migration of metadata from ZooKeeper to KRaft' and the /migration znode",
                "verify topic count, partition count and group offsets",
            ],
            {str(p.migration_broker): configs.diff(broker, configs.migration_broker_config(broker, **kw), user, str(p.migration_broker))},
        ),
        Phase(
            4,
            PHASE_NAMES[4],
            [
                f"restart the broker as a KRaft broker (node.id {plan.broker_id}) on {p.kraft_broker}",
                "wait until it is registered with the controller; verify again",
                "rollback is still possible (`kafkaops migrate --rollback`)",
            ],
            {str(p.kraft_broker): configs.diff(broker, configs.kraft_broker_config(broker, **kw), user, str(p.kraft_broker))},
        ),
        Phase(
            5,
            PHASE_NAMES[5] + " (only with --finalize or --yes; cannot be undone)",
            [
                f"restart the controller on {p.final_controller} (no migration configs, no zookeeper.connect)",
                "verify again; stop ZooKeeper",
                f"ZooKeeper's data folder {plan.zookeeper_data} is left untouched (a later `kafkaops reset` may empty it)",
                f"record the stack ({settings.kafkaops_home / 'stack.json'}): server_properties={p.kraft_broker}; status/up/down/doctor then run the KRaft split layout",
            ],
            {str(p.final_controller): configs.diff(ctl, final, str(p.controller), str(p.final_controller))},
        ),
    ]


def refuse(plan: MigrationPlan) -> RefusedError:
    bad = plan.refusals
    return RefusedError(
        f"migration refused at phase 1 (preflight): {bad[0].name}: {bad[0].detail}",
        hint="fix what the preflight names, then rerun `kafkaops migrate --to kraft` (nothing was changed)",
        details=[f"{c.name}: {c.detail}" for c in bad[1:]],
        runbook="migration preflight",
    )
