"""What a produce run is given (options), what it finds (the plan), what it tells as it goes (hooks)
and what it returns (the result)."""

from __future__ import annotations

from dataclasses import dataclass, field

from kafkaops.defaults import DEFAULT_BATCH_SIZE, DEFAULT_DELIVERY_TIMEOUT, DEFAULT_INTERVAL, DEFAULT_SETTLE_TIMEOUT, DEMO_TABLE
from kafkaops.errors import UsageError

# DEFAULT_BATCH_SIZE (2000 rows, kafkaops/defaults.py): one offset UPDATE and one keyset query per 2000 rows
# keeps PostgreSQL far from the bottleneck, while a crash re-sends at most a few batches. Up to MAX_IN_FLIGHT
# batches are in flight at once, so the next batch is read while Kafka acknowledges the previous ones.
MAX_IN_FLIGHT = 4
READERS = 2  # connections reading batches ahead in parallel
READ_AHEAD = 3  # batches read ahead
ENVELOPES = ("kafkaops", "debezium")
MODES = ("id", "timestamp+id")  # the cursor: new ids only, or (timestamp column, id): inserts and updates


@dataclass(frozen=True)
class ProduceOptions:
    """The options of one run (`kafkaops produce`'s flags)."""

    table: str = DEMO_TABLE
    topic: str | None = None  # default: KAFKA_TOPIC
    batch_size: int = DEFAULT_BATCH_SIZE
    max_rows: int | None = None
    dry_run: bool = False
    follow: bool = False
    interval: float = DEFAULT_INTERVAL
    mapper: str | None = None  # "module:function"
    delivery_timeout: float = DEFAULT_DELIVERY_TIMEOUT
    settle_timeout: float = DEFAULT_SETTLE_TIMEOUT
    preview: int = 5  # dry run: events shown
    skip_oversize: bool = False  # record rows too large for the topic in producer_skipped and go on
    envelope: str = "kafkaops"  # the event's shape: kafkaops' own, or Debezium's change event (see produce/debezium.py)
    with_schema: bool = False  # debezium: Kafka Connect's {schema, payload} form for key and value
    exactly_once: bool = False  # Kafka transactions, the position recovered from the topic (exactly_once.py)
    mode: str = "id"  # MODES
    timestamp_column: str = "updated_at"  # --mode timestamp+id: the column a trigger sets from clock_timestamp()
    live: bool = True  # --follow sends rows above open transactions at once (False: the old gate, for bench/bench_latency.py)


def validate(opts: ProduceOptions) -> None:
    """Refuse (exit 2) options no run can follow."""
    if opts.batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1 (got {opts.batch_size})")
    if opts.max_rows is not None and opts.max_rows < 1:
        raise UsageError(f"--max-rows must be at least 1 (got {opts.max_rows})")
    if opts.interval <= 0:
        raise UsageError(f"--interval must be more than 0 seconds (got {opts.interval})")
    if opts.mode not in MODES:
        raise UsageError(f"--mode must be one of {', '.join(MODES)} (got {opts.mode!r})")
    if opts.mode != "id" and opts.dry_run:
        raise UsageError(
            "--dry-run works with --mode id only", hint="run `kafkaops produce --mode timestamp+id --max-rows N` on a test topic to see its events"
        )
    if opts.delivery_timeout <= 0 or opts.settle_timeout < 0:
        raise UsageError("timeouts must be positive")
    if opts.envelope not in ENVELOPES:
        raise UsageError(f"--envelope must be one of {', '.join(ENVELOPES)} (got {opts.envelope!r})")
    if opts.with_schema and opts.envelope != "debezium":
        raise UsageError("--with-schema goes with --envelope debezium", hint="kafkaops' own envelope has no schema; add --envelope debezium")
    if opts.mapper and opts.envelope != "kafkaops":
        raise UsageError("--mapper and --envelope debezium cannot go together: the mapper builds the whole event", hint="use one of them")
    if opts.mode != "id" and (opts.exactly_once or opts.envelope != "kafkaops"):
        what = "--exactly-once" if opts.exactly_once else f"--envelope {opts.envelope}"
        raise UsageError(
            f"{what} works with --mode id only (not yet with --mode {opts.mode})",
            hint="exactly-once recovery and the Debezium envelope follow the id cursor; leave out one of the two options",
        )


@dataclass(frozen=True)
class Plan:
    """What a run found at start: told to the user as "Producer initialized"."""

    table: str
    topic: str
    database: str
    offset: int
    high_water: int
    pending: int  # rows in (offset, high_water], capped by --max-rows
    dry_run: bool


@dataclass
class ProduceResult:
    """What a run did (a dry run: what it would do)."""

    table: str
    topic: str
    start_offset: int
    offset: int  # the committed offset at the end (dry run: the one it would reach)
    last_created_at: str | None
    sent: int  # events acknowledged by Kafka (dry run: events that would be sent)
    dry_run: bool = False
    preview: list[tuple[str, str]] = field(default_factory=list)  # dry run: (key, value)
    rounds: int = 0
    interrupted: bool = False
    skipped: int = 0  # rows too large for the topic, recorded in producer_skipped (--skip-oversize)
    too_large: list[tuple[int, int]] = field(default_factory=list)  # dry run: (id, event bytes) over the limit
    limit: int = 0  # dry run: the topic's max.message.bytes


class Hooks:
    """What a run tells its caller as it goes; the CLI renders it. The default is silent."""

    def initialized(self, plan: Plan) -> None: ...
    def progress(self, sent: int, total: int) -> None: ...
    def round(self, sent: int, offset: int) -> None: ...
    def waiting(self, message: str) -> None: ...
    def skipped(self, message: str) -> None: ...
    def warn(self, message: str) -> None: ...
