"""The context shared by the checks: settings, locality, clients and facts gathered on the way."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from kafkaops.adapters import network
from kafkaops.adapters import zookeeper as zk
from kafkaops.doctor import kraft
from kafkaops.doctor.results import PASS, WARN, CheckResult
from kafkaops.errors import KafkaopsError
from kafkaops.procedures import services
from kafkaops.settings import Settings


@dataclass(frozen=True)
class DatabaseTarget:
    url: str | None
    source: str | None  # "DATABASE_URL" | "embedded" | None (neither)
    problem: str | None  # why the embedded database has no URL


def database_target(settings: Settings) -> DatabaseTarget:
    if settings.database_url:
        return DatabaseTarget(settings.database_url, "DATABASE_URL", None)
    if _has_embedded() and getattr(settings, "embedded_db", True):
        url, problem = _embedded_url(settings)
        return DatabaseTarget(url, "embedded", problem)
    return DatabaseTarget(None, None, None)


def _embedded_url(settings: Settings) -> tuple[str | None, str | None]:
    """The embedded PostgreSQL's URL: (url, None), or (None, why it cannot be used)."""
    try:
        from kafkaops.adapters import embedded_pg

        return embedded_pg.database_url(settings), None
    except KafkaopsError as exc:
        return None, exc.message
    except Exception as exc:  # noqa: BLE001 - an adapter still being built must not break doctor
        return None, f"the embedded PostgreSQL cannot be used: {exc}"


def _has_embedded() -> bool:
    import importlib.util

    return importlib.util.find_spec("kafkaops.adapters.embedded_pg") is not None


@dataclass(frozen=True)
class ClusterKind:
    mode: str | None  # "zookeeper" | "kraft" | None (no broker said)
    local: bool  # the local stack kafkaops runs
    how: str  # how the mode was found out
    answered: bool = False  # a remote cluster's broker answered (it is a running cluster kafkaops did not start)

    def to_dict(self) -> dict[str, object]:
        return {"mode": self.mode, "local": self.local, "how": self.how}


class Context:
    def __init__(self, settings: Settings, *, canary: bool) -> None:
        self.settings = settings
        self.canary = canary
        self.results: dict[str, CheckResult] = {}
        self.exit = ExitStack()
        self.zk_host, self.zk_port = zk.parse_hostport(settings.zookeeper_connect)
        self.broker_host, self.broker_port = network.split_hostport(settings.kafka_broker, 9092)
        # Local checks run only against the local stack, decided by identity, never by host name. The local
        # stack's mode comes from its server.properties (process.roles means KRaft).
        self.local_mode = kraft.local_mode(settings.server_properties)
        if self.local_mode == kraft.KRAFT:
            self.identity = kraft.identify_kraft(settings)
        else:
            self.identity = services.identify(settings)
        self.zk_local = self.identity.zookeeper_on_this_machine and self.local_mode != kraft.KRAFT
        self.broker_local = self.identity.broker_on_this_machine
        self.cfg: services.StackConfig | None = self.identity.cfg if self.identity.local else None
        self.cfg_error: str | None = self.identity.config_error
        self._zk_client: Any = None
        self._zk_error: KafkaopsError | None = None
        self._admin: Any = None
        # Facts a check publishes for the checks that declare it (in `requires`, or in `uses` when the
        # fact is optional): every reader of md requires broker.metadata, of db database.reachable, of
        # offsets messages.end_offsets; db_facts are filled by database.offset and database.pending.
        self.md: Any = None  # kafka.ClusterInfo, from broker.metadata
        self.db: Any = None  # a psycopg connection, from database.reachable
        self.db_facts: dict[str, Any] = {}  # last_id, rewind, pending...: from database.offset / database.pending
        self.offsets: dict[int, tuple[int, int]] = {}  # partition -> (low, high), from messages.end_offsets

    # facts computed once, on first use ----------------------------------------------------
    @cached_property
    def database(self) -> DatabaseTarget:
        """The database the producer uses: DATABASE_URL, else the embedded PostgreSQL (with why it cannot be used)."""
        return database_target(self.settings)

    @property
    def db_url(self) -> str | None:
        return self.database.url

    @property
    def db_source(self) -> str | None:  # "DATABASE_URL" | "embedded"
        return self.database.source

    @property
    def db_problem(self) -> str | None:  # why the embedded database has no URL
        return self.database.problem

    @cached_property
    def cluster_kind(self) -> ClusterKind:
        """What the cluster is: its mode (``zookeeper`` | ``kraft`` | None when unknown) and whether it is the local stack.

        The local stack's mode is its server.properties'; a remote cluster's is asked from a broker (one
        describe_configs); when no broker answers, ZooKeeper mode if ZOOKEEPER_CONNECT was set explicitly.
        """
        if self.identity.local:
            assert self.local_mode is not None
            return ClusterKind(self.local_mode, True, f"the local stack's {self.settings.server_properties}")
        try:
            found = kraft.remote_mode(self.admin(), self.settings)
        except KafkaopsError as exc:
            found = kraft.RemoteMode(None, exc.message)
        if found.mode is not None:
            return ClusterKind(found.mode, False, found.how, found.answered)
        if self.settings.sources.get("zookeeper_connect") in ("env", ".env", "flag", "profile"):
            return ClusterKind(kraft.ZOOKEEPER, False, f"{found.how}; ZOOKEEPER_CONNECT is set")
        if self.broker_local:
            # Nothing answers on this machine: the stack `kafkaops up` would start (the configured mode, ZooKeeper by default).
            default = self.local_mode or getattr(self.settings, "kafkaops_mode", None) or kraft.ZOOKEEPER
            return ClusterKind(default if default in kraft.MODES else kraft.ZOOKEEPER, False, f"{found.how}; the local default")
        return ClusterKind(None, False, found.how)

    # locality ---------------------------------------------------------------------------
    def local_reason(self, service: str) -> str | None:
        """Why local files/processes of ``service`` cannot be inspected (None when they can)."""
        if service == "zookeeper" and self.identity.local and self.local_mode == kraft.KRAFT:
            return "the local stack runs in KRaft mode: it has no ZooKeeper"
        if self.identity.local:
            return None
        return f"not the local stack: {self.identity.why_not(service)}"

    # clients ----------------------------------------------------------------------------
    def zk(self) -> Any:
        """One kazoo session for every check; a failed connect is remembered, not retried by each check."""
        if self._zk_error is not None:
            raise self._zk_error
        if self._zk_client is None:
            try:
                self._zk_client = self.exit.enter_context(zk.connect(self.settings.zookeeper_connect, timeout=2.0))
            except KafkaopsError as exc:
                self._zk_error = exc
                raise
        return self._zk_client

    def admin(self) -> Any:
        if self._admin is None:
            from kafkaops.adapters.kafka import admin

            self._admin = admin(self.settings)
        return self._admin

    def ok(self, check_id: str) -> bool:
        r = self.results.get(check_id)
        return r is not None and r.status in (PASS, WARN)

    def close(self) -> None:
        if self.db is not None:
            try:
                self.db.close()
            except Exception:  # noqa: BLE001, S110
                pass
        try:
            self.exit.close()
        except Exception:  # noqa: BLE001, S110
            pass
