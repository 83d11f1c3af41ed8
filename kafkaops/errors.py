"""The one error tree of kafkaops.

Every failure a user can meet is a :class:`KafkaopsError` carrying a one-line message, a hint that
names what to do next, and an exit code. Library exceptions (confluent-kafka, kazoo, psycopg, psutil,
subprocess) are translated into these where those libraries are called; the CLI turns them into a
message on stderr and the exit code, never a traceback.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes: a documented contract for scripts (see README, "Exit codes")."""

    OK = 0
    ERROR = 1  # something failed (a service did not start, a command could not complete)
    USAGE = 2  # bad input: a flag, an argument, a setting
    NOT_READY = 3  # checks failed: the stack (or a part of it) is not up / not healthy
    UNREACHABLE = 4  # a service (ZooKeeper, broker, database) could not be reached
    REFUSED = 5  # kafkaops refused to act because it would be unsafe
    INTERRUPTED = 130  # Ctrl+C


class KafkaopsError(Exception):
    """Base of every error kafkaops reports to a user."""

    exit_code: ExitCode = ExitCode.ERROR

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        details: list[str] | None = None,
        runbook: str | None = None,
        exit_code: ExitCode | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = details or []
        self.runbook = runbook
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(KafkaopsError):
    """Bad input: a setting, flag or argument that cannot work."""

    exit_code = ExitCode.USAGE


class ConfigError(UsageError):
    """A configuration file or KAFKA_HOME that cannot be used."""


class UnreachableError(KafkaopsError):
    """A service could not be reached in time."""

    exit_code = ExitCode.UNREACHABLE


class RefusedError(KafkaopsError):
    """kafkaops refuses to act because acting would be unsafe."""

    exit_code = ExitCode.REFUSED


class ServiceFailed(KafkaopsError):
    """A service exited or did not become ready."""

    exit_code = ExitCode.ERROR


class NotReady(KafkaopsError):
    """The stack, or a part of it, is not up."""

    exit_code = ExitCode.NOT_READY
