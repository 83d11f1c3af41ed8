"""Topic input checks, pure (nothing here talks to a broker): names, counts, --config pairs, and how
many partitions one topic can have (ZooKeeper's znode limit, Kafka's per-broker guidance).

:mod:`kafkaops.procedures.topics` re-exports every public name here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kafkaops.errors import UsageError
from kafkaops.settings import Settings

MAX_NAME_LENGTH = 249  # Kafka's limit (a partition's folder name adds "-<partition>" to it)
INTERNAL_PREFIX = "__"  # __consumer_offsets, __transaction_state, ...
_LEGAL = re.compile(r"[a-zA-Z0-9._-]+")


def is_internal(name: str) -> bool:
    return name.startswith(INTERNAL_PREFIX)


def validate_name(name: str) -> None:
    """Raise UsageError for a name Kafka would reject."""
    if not name:
        raise UsageError("the topic name is empty", hint="give a name made of letters, digits, '.', '_' and '-'")
    if name in (".", ".."):
        raise UsageError(f"{name!r} cannot be a topic name", hint="give a name made of letters, digits, '.', '_' and '-'")
    if len(name) > MAX_NAME_LENGTH:
        raise UsageError(f"the topic name is {len(name)} characters long; Kafka allows at most {MAX_NAME_LENGTH}")
    if not _LEGAL.fullmatch(name):
        bad = "".join(sorted({c for c in name if not _LEGAL.fullmatch(c)}))
        raise UsageError(
            f"the topic name {name!r} contains {bad!r}",
            hint="use only letters (a-z, A-Z), digits, '.', '_' and '-'",
        )


def name_warnings(name: str) -> list[str]:
    """Things about a valid name worth a warning before it is created."""
    warnings = []
    if "." in name and "_" in name:
        warnings.append(
            f"topic name {name!r} mixes '.' and '_': Kafka's metric names turn '.' into '_', so it collides with "
            f"{name.replace('.', '_')!r} (Kafka refuses to create both); best use one or the other"
        )
    if is_internal(name):
        warnings.append(f"names starting with {INTERNAL_PREFIX!r} are Kafka's convention for internal topics: `topics list` hides them")
    return warnings


def validate_counts(partitions: int, replication_factor: int) -> None:
    if partitions < 1:
        raise UsageError(f"--partitions must be at least 1 (got {partitions})")
    if replication_factor < 1:
        raise UsageError(f"--replication-factor must be at least 1 (got {replication_factor})")


# --------------------------------------------------------------------------------------------
# how many partitions a cluster can hold (checked before the broker is asked)
#
# In ZooKeeper mode the controller writes a new topic's whole assignment as ONE znode,
# /brokers/topics/<name>, whose JSON is
#   {"partitions":{"0":[0],"1":[0],...},"topic_id":"<22 chars>","adding_replicas":{},"removing_replicas":{},"version":3}
# ZooKeeper refuses a request larger than jute.maxbuffer (0xfffff = 1,048,575 bytes unless -Djute.maxbuffer
# says otherwise) by closing the connection, and the broker's ZooKeeper client retries the write forever:
# the broker is wedged (requests time out, `down` needs --force). So, per partition p with rf replicas
# whose broker ids have at most d digits, the JSON holds  "p":[id,id,...]  and a comma:
#   bytes(n) = FIXED + sum(len(str(p)) for p < n) + n * (5 + rf*d + (rf - 1)) + (n - 1)
# and bytes(n) + ZK_REQUEST_RESERVE must stay within jute.maxbuffer. With one broker (d=1, rf=1) that
# is 88,212 partitions. Far below that, a broker stops being usable: Kafka's guidance for ZooKeeper
# mode is at most MAX_REPLICAS_PER_BROKER partition replicas per broker (each costs two memory-mapped
# index files, file handles, a ZooKeeper state znode and controller work at every start).

JUTE_MAXBUFFER = 0xFFFFF  # ZooKeeper's default jute.maxbuffer (bytes)
ZK_REQUEST_RESERVE = 1024  # the create request around the data: header, path (up to 265 bytes), ACL, flags
TOPIC_ZNODE_FIXED = len('{"partitions":{},"topic_id":"AAAAAAAAAAAAAAAAAAAAAA","adding_replicas":{},"removing_replicas":{},"version":3}')
MAX_REPLICAS_PER_BROKER = 4000  # Kafka's guidance for a broker in ZooKeeper mode


def _digit_sum(n: int) -> int:
    """sum(len(str(p)) for p in range(n)), without the loop."""
    total, width, start = 0, 1, 0
    while start < n:
        end = min(n, 10**width)
        total += (end - start) * width
        start, width = end, width + 1
    return total


def assignment_znode_bytes(partitions: int, replication_factor: int, max_broker_id: int = 0) -> int:
    """Bytes of /brokers/topics/<name> for this many partitions (an upper bound: every id as long as the longest)."""
    d = len(str(max(max_broker_id, 0)))
    per_partition = 5 + replication_factor * d + (replication_factor - 1)  # "":[ ] and the ids with their commas
    return TOPIC_ZNODE_FIXED + _digit_sum(partitions) + partitions * per_partition + max(partitions - 1, 0)


def jute_maxbuffer(settings: Settings) -> int:
    """ZooKeeper's request limit: -Djute.maxbuffer in KAFKAOPS_JVM_OPTS (given to the services kafkaops starts), else the default."""
    for opt in settings.jvm_opts:
        if opt.startswith("-Djute.maxbuffer="):
            try:
                return int(opt.split("=", 1)[1], 0)
            except ValueError:
                pass
    return JUTE_MAXBUFFER


def max_partitions_for_zookeeper(replication_factor: int, max_broker_id: int = 0, maxbuffer: int = JUTE_MAXBUFFER) -> int:
    """The largest partition count whose assignment znode fits in one ZooKeeper request."""
    budget = maxbuffer - ZK_REQUEST_RESERVE
    lo, hi = 0, budget  # bytes(n) > n, so n < budget
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if assignment_znode_bytes(mid, replication_factor, max_broker_id) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return lo


@dataclass(frozen=True)
class PartitionLimit:
    limit: int
    why: str


def partition_limit(replication_factor: int, brokers: int | None, max_broker_id: int = 0, maxbuffer: int = JUTE_MAXBUFFER) -> PartitionLimit:
    """The most partitions one topic may have here, and why (``brokers`` None: not known yet, ZooKeeper's limit only)."""
    zk_limit = max_partitions_for_zookeeper(replication_factor, max_broker_id, maxbuffer)
    zk_why = (
        f"ZooKeeper stores a topic's partition assignment as one znode (/brokers/topics/<name>) that must stay under "
        f"jute.maxbuffer ({maxbuffer:,} bytes); with replication factor {replication_factor} that is at most {zk_limit:,} partitions"
    )
    if brokers is None:
        return PartitionLimit(zk_limit, zk_why)
    broker_limit = MAX_REPLICAS_PER_BROKER * max(brokers, 1) // replication_factor
    if broker_limit < zk_limit:
        return PartitionLimit(
            broker_limit,
            f"a broker should hold at most {MAX_REPLICAS_PER_BROKER:,} partition replicas (Kafka's guidance for ZooKeeper mode); "
            f"{plural(brokers, 'broker')} with replication factor {replication_factor} can hold at most {broker_limit:,} partitions",
        )
    return PartitionLimit(zk_limit, zk_why)


def check_partition_limit(settings: Settings, partitions: int, replication_factor: int, brokers: int | None = None, max_broker_id: int = 0) -> None:
    """Refuse (exit 2) a partition count this cluster cannot hold, before the broker is asked."""
    limit = partition_limit(replication_factor, brokers, max_broker_id, jute_maxbuffer(settings))
    if partitions > limit.limit:
        raise UsageError(
            f"--partitions {partitions:,} is more than one topic can have here (at most {limit.limit:,})",
            details=[limit.why],
            hint=f"use --partitions {limit.limit} or fewer; more partitions than brokers x {MAX_REPLICAS_PER_BROKER:,} need more brokers",
            runbook="topics how-many-partitions",
        )


def parse_configs(pairs: list[str] | None) -> dict[str, str]:
    """``["retention.ms=60000", ...]`` -> a dict; a malformed or repeated pair is a UsageError."""
    configs: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key or not re.fullmatch(r"[a-zA-Z0-9._-]+", key):
            raise UsageError(f"--config {pair!r} is not key=value", hint="for example: --config retention.ms=86400000")
        if key in configs:
            raise UsageError(f"--config {key} is given twice")
        configs[key] = value
    return configs


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def shape(partitions: int, replication_factor: int) -> str:
    return f"{plural(partitions, 'partition')}, replication factor {replication_factor}"
