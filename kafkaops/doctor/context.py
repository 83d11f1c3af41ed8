"""The context shared by the checks: settings, locality, clients and facts gathered on the way."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from kafkaops.adapters import network
from kafkaops.adapters import zookeeper as zk
from kafkaops.doctor.results import PASS, WARN, CheckResult
from kafkaops.errors import KafkaopsError
from kafkaops.procedures import cluster, services
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


class Context:
    def __init__(self, settings: Settings, *, canary: bool) -> None:
        self.settings = settings
        self.canary = canary
        self.results: dict[str, CheckResult] = {}
        self.exit = ExitStack()
        self.zk_host, self.zk_port = zk.parse_hostport(settings.zookeeper_connect)
        self.broker_host, self.broker_port = network.split_hostport(settings.kafka_broker, 9092)
        # Local checks run only against the local stack, decided by identity, never by host name.
        self.identity = cluster.identify(settings)
        self.zk_local = self.identity.zookeeper_on_this_machine
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

    # locality ---------------------------------------------------------------------------
    def local_reason(self, service: str) -> str | None:
        """Why local files/processes of ``service`` cannot be inspected (None when they can)."""
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
