"""The configs a ZooKeeper-to-KRaft migration runs on, made from copies of the user's own (never rewritten).

Four files under KAFKAOPS_HOME/migration/ (see Apache Kafka 3.9, "ZooKeeper to KRaft Migration"):

- ``controller.properties``: the KRaft controller in migration mode (phases 2-4):
  ``process.roles=controller``, ``zookeeper.metadata.migration.enable=true``, ``zookeeper.connect``.
- ``server.properties``: the user's broker plus the migration configs (phase 3): still a ZooKeeper broker.
- ``kraft/server.properties``: the user's broker as a KRaft broker (phase 4 on): ``process.roles=broker``,
  ``node.id`` = its old ``broker.id``, no ZooKeeper settings.
- ``kraft/controller.properties``: the controller without the migration configs (phase 5): beside the
  broker's, it is kafkaops's split KRaft layout.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from kafkaops.adapters.javaprops import parse_listeners

CONTROLLER_LISTENER = "CONTROLLER"
MIGRATION_FLAG = "zookeeper.metadata.migration.enable"
BRIDGE_IBP = "3.9"
# ZooKeeper-only broker settings a KRaft broker must not carry (KafkaConfig refuses or ignores them).
ZK_ONLY = (
    "broker.id",
    "zookeeper.",
    "inter.broker.protocol.version",
    "log.message.format.version",
    "control.plane.listener.name",
    "broker.id.generation.enable",
    "reserved.broker.max.id",
)


@dataclass(frozen=True)
class Paths:
    """Where migrate writes its copies (all under KAFKAOPS_HOME/migration/)."""

    root: Path

    @property
    def state(self) -> Path:
        return self.root / "state.json"

    @property
    def controller(self) -> Path:
        return self.root / "controller.properties"

    @property
    def migration_broker(self) -> Path:
        return self.root / "server.properties"

    @property
    def kraft_broker(self) -> Path:
        return self.root / "kraft" / "server.properties"

    @property
    def final_controller(self) -> Path:
        return self.root / "kraft" / "controller.properties"


def protocol_map(broker: dict[str, str]) -> str:
    """The broker's listener.security.protocol.map with CONTROLLER:PLAINTEXT added."""
    raw = broker.get("listener.security.protocol.map", "")
    entries = [e.strip() for e in raw.split(",") if e.strip()]
    if not entries:
        entries = [f"{lst.name}:{lst.name}" for lst in parse_listeners(broker.get("listeners", "PLAINTEXT://:9092"))]
    if not any(e.split(":", 1)[0].upper() == CONTROLLER_LISTENER for e in entries):
        entries.append(f"{CONTROLLER_LISTENER}:PLAINTEXT")
    return ",".join(entries)


def quorum(controller_id: int, controller_port: int) -> dict[str, str]:
    return {
        "controller.quorum.voters": f"{controller_id}@localhost:{controller_port}",
        "controller.listener.names": CONTROLLER_LISTENER,
    }


def inter_broker_listener(broker: dict[str, str]) -> str:
    if broker.get("inter.broker.listener.name"):
        return broker["inter.broker.listener.name"]
    listeners = parse_listeners(broker.get("listeners", "PLAINTEXT://:9092"))
    return listeners[0].name if listeners else "PLAINTEXT"


def controller_config(
    broker: dict[str, str], *, controller_id: int, controller_port: int, metadata_dir: Path, zk_connect: str, migration: bool
) -> dict[str, str]:
    """The dedicated KRaft controller (the docs' example controller.properties); ``migration`` adds the ZooKeeper link."""
    values = {
        "process.roles": "controller",
        "node.id": str(controller_id),
        **quorum(controller_id, controller_port),
        "listeners": f"{CONTROLLER_LISTENER}://localhost:{controller_port}",
        "listener.security.protocol.map": protocol_map(broker),
        # the listener the controller uses to send RPCs to the (still ZooKeeper) brokers
        "inter.broker.listener.name": inter_broker_listener(broker),
        "log.dirs": str(metadata_dir),
    }
    if migration:
        values[MIGRATION_FLAG] = "true"
        values["zookeeper.connect"] = zk_connect
    return values


def migration_broker_config(broker: dict[str, str], *, controller_id: int, controller_port: int) -> dict[str, str]:
    """The user's broker config plus the migration configs: still a ZooKeeper broker (phase 3)."""
    values = dict(broker)
    values["inter.broker.protocol.version"] = broker.get("inter.broker.protocol.version") or BRIDGE_IBP
    values[MIGRATION_FLAG] = "true"
    values.update(quorum(controller_id, controller_port))
    values["listener.security.protocol.map"] = protocol_map(broker)
    return values


def kraft_broker_config(broker: dict[str, str], *, controller_id: int, controller_port: int) -> dict[str, str]:
    """The user's broker config as a KRaft broker (phase 4): node.id = the old broker.id, no ZooKeeper settings."""
    values = {"process.roles": "broker", "node.id": broker.get("broker.id", "0") or "0"}
    values.update({k: v for k, v in broker.items() if not k.startswith(ZK_ONLY)})
    values.update(quorum(controller_id, controller_port))
    values["listener.security.protocol.map"] = protocol_map(broker)
    return values


def diff(before: dict[str, str], after: dict[str, str], before_name: str, after_name: str) -> list[str]:
    """A unified diff of two configs (one key=value a line, in the file's order)."""
    a = [f"{k}={v}" for k, v in before.items()]
    b = [f"{k}={v}" for k, v in after.items()]
    return list(difflib.unified_diff(a, b, before_name, after_name, lineterm="", n=0))
