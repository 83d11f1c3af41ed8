"""Resetting the local stack: empty exactly Kafka's and ZooKeeper's data folders after a clean stop.

The work is split in two. :func:`build_plan` reads the configs, the folders and the services' state
and changes nothing: it says what would be stopped, emptied, kept and lost, and why it would refuse.
:func:`execute` carries a plan out: stop the stack with the code ``kafkaops down`` uses, make sure no
broker or ZooKeeper kafkaops did not start holds the ports, archive and verify the folders if asked,
empty them (the folders themselves stay; symbolic links inside are removed, never followed), rewind
the producer offset if asked, start again if asked, and append one line to the audit log. With
``--reset-producer-offset`` the rewound pipeline is the default one (livedb -> KAFKA_TOPIC); its
producer lock is taken before anything is stopped or deleted and held until the rewind is done, so
a producer cannot start in between and a running one makes the reset refuse with nothing touched.

Every guard works on resolved real paths, so a symbolic link or a ``..`` cannot smuggle a home
folder, a filesystem root or a Kafka installation past it. The hard guards are checked a second
time just before each folder is emptied.

In KRaft mode (Kafka 4.x) the folders are every ``log.dirs`` and ``metadata.log.dir`` entry of the
KRaft node(s); kafkaops's nodes are stopped first (the broker, then the controller) as in ZooKeeper mode,
and the cluster id kafkaops formatted them with is forgotten, so the next ``up`` formats them again.

The package, one module per part: plan (what a reset would do), guards and contents (what may be
emptied), building (the plan, changing nothing), emptying (backups and deletion), carry_out
(:func:`execute`), kraft (KRaft mode's folders and its no-node-runs guard), offset (the producer
offset) and audit (the audit log).
"""

from __future__ import annotations

from kafkaops.procedures.reset.audit import audit, audit_path
from kafkaops.procedures.reset.building import build_plan, foreign_refusal, resolve_named
from kafkaops.procedures.reset.carry_out import ResetResult, emptying_error, execute
from kafkaops.procedures.reset.contents import ZK_VERSION_DIR, Contents, Foreign, Usage, looks_like_kafka_data, looks_like_zookeeper_data, measure, survey
from kafkaops.procedures.reset.emptying import Backup, Emptied, backup_dir_contents, empty_directory, verify_archive
from kafkaops.procedures.reset.guards import Protected, hard_guard, realpath, service_cwd
from kafkaops.procedures.reset.offset import producer_offset_held, read_producer_offset
from kafkaops.procedures.reset.plan import (
    AUDIT_FILE,
    FOREIGN_HINT,
    FOREIGN_SHOWN,
    KAFKA_LOG_DIR,
    KRAFT_METADATA_DIR,
    ZK_DATA_DIR,
    ZK_DATA_LOG_DIR,
    DirPlan,
    Progress,
    ResetPlan,
    ServicePlan,
)

__all__ = [
    "AUDIT_FILE",
    "Backup",
    "Contents",
    "DirPlan",
    "Emptied",
    "FOREIGN_HINT",
    "FOREIGN_SHOWN",
    "Foreign",
    "KAFKA_LOG_DIR",
    "KRAFT_METADATA_DIR",
    "Progress",
    "Protected",
    "ResetPlan",
    "ResetResult",
    "ServicePlan",
    "Usage",
    "ZK_DATA_DIR",
    "ZK_DATA_LOG_DIR",
    "ZK_VERSION_DIR",
    "audit",
    "audit_path",
    "backup_dir_contents",
    "build_plan",
    "empty_directory",
    "emptying_error",
    "execute",
    "foreign_refusal",
    "hard_guard",
    "looks_like_kafka_data",
    "looks_like_zookeeper_data",
    "measure",
    "producer_offset_held",
    "read_producer_offset",
    "realpath",
    "resolve_named",
    "service_cwd",
    "survey",
    "verify_archive",
]
