"""Client security against a real SASL_SSL broker (SCRAM-SHA-512): a refused login, an untrusted CA and
bad client settings are told apart from "no broker answered", name the setting to fix, exit 2, and fast.

The broker comes from tests/secure_broker.py (one per module: certificates, SCRAM user, two listeners).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_kafkaops
from tests.secure_broker import SecureStack

# librdkafka retried a refused login until the 5 s metadata timeout and then said "no broker answered";
# now the refusal is read as it happens (a SCRAM exchange takes ~0.3 s). The bound leaves room for
# Python's start-up on a loaded machine and is still below the old 5 s wait.
FAST = 4.5


def _run(secure: SecureStack, args: list[str], **env: str) -> tuple[Any, float]:
    t0 = time.monotonic()
    res = run_kafkaops(args, secure.client_env(**env), secure.stack.root, timeout=60)
    return res, time.monotonic() - t0


def _error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, stderr
    return lines[0]


def test_right_password_lists_topics(secure_stack: SecureStack) -> None:
    res, _ = _run(secure_stack, ["topics", "list", "--json"])
    assert res.returncode == 0, res.stderr
    assert "db_live_events" in [t["name"] for t in json.loads(res.stdout)["topics"]]


@pytest.mark.parametrize(
    "args",
    [
        ["topics", "list"],
        ["topics", "describe", "db_live_events"],
        ["consume", "db_live_events", "--exit-at-end", "--format", "json"],
        ["groups", "list"],
    ],
)
def test_wrong_password_is_a_sasl_error_naming_the_setting(secure_stack: SecureStack, args: list[str]) -> None:
    wrong = "not-the-Password-42"
    res, seconds = _run(secure_stack, args, KAFKA_SASL_PASSWORD=wrong)
    assert res.returncode == 2, res.stderr
    line = _error_line(res.stderr)
    assert line.startswith(f"error: SASL authentication failed at {secure_stack.secure_broker}: the broker rejected user alice (SCRAM-SHA-512)")
    assert "KAFKA_SASL_PASSWORD" in line
    assert "no Kafka broker answered" not in res.stderr
    assert seconds < FAST, f"took {seconds:.1f}s"
    for secret in (wrong, secure_stack.password):
        assert secret not in res.stdout + res.stderr


def test_wrong_password_in_status_and_doctor(secure_stack: SecureStack) -> None:
    wrong = "not-the-Password-42"
    status, _ = _run(secure_stack, ["status", "--json"], KAFKA_SASL_PASSWORD=wrong)
    doctor, _ = _run(secure_stack, ["doctor", "--json"], KAFKA_SASL_PASSWORD=wrong)
    for res in (status, doctor):
        assert wrong not in res.stdout + res.stderr
    assert "SASL authentication failed" in status.stdout, status.stdout
    report = json.loads(doctor.stdout)
    meta = next(c for c in report["checks"] if c["id"] == "broker.metadata")
    assert meta["status"] == "FAIL"
    assert "SASL authentication failed" in meta["finding"] and "KAFKA_SASL_PASSWORD" in meta["finding"] + (meta["remedy"] or "")


def test_untrusted_ca_is_a_certificate_error_naming_the_setting(secure_stack: SecureStack) -> None:
    res, seconds = _run(secure_stack, ["topics", "list"], KAFKA_SSL_CA_LOCATION=str(secure_stack.other_ca))
    assert res.returncode == 2, res.stderr
    line = _error_line(res.stderr)
    assert line == (
        f"error: TLS certificate verification failed at {secure_stack.secure_broker}: "
        f"KAFKA_SSL_CA_LOCATION={secure_stack.other_ca} does not hold the CA that signed the broker's certificate"
    )
    assert seconds < FAST, f"took {seconds:.1f}s"
    assert secure_stack.password not in res.stdout + res.stderr


def test_unknown_security_protocol_is_one_readable_line(secure_stack: SecureStack) -> None:
    res, _ = _run(secure_stack, ["topics", "list"], KAFKA_SECURITY_PROTOCOL="SASL_SSLX")
    assert res.returncode == 2, res.stderr
    assert _error_line(res.stderr) == "error: KAFKA_SECURITY_PROTOCOL='SASL_SSLX' is not a valid value"
    assert "hint: use one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL" in res.stderr
    assert "configuration property" not in res.stderr  # librdkafka's own text stays out


def test_missing_ca_file_is_a_usage_error(secure_stack: SecureStack, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-ca.pem"
    res, _ = _run(secure_stack, ["consume", "db_live_events", "--exit-at-end"], KAFKA_SSL_CA_LOCATION=str(missing))
    assert res.returncode == 2, res.stderr
    assert _error_line(res.stderr) == f"error: KAFKA_SSL_CA_LOCATION={missing}: no such file"


def test_tls_to_the_plaintext_listener_names_the_protocol(secure_stack: SecureStack) -> None:
    res, seconds = _run(secure_stack, ["topics", "list"], KAFKA_BROKER=secure_stack.stack.broker)
    assert res.returncode == 2, res.stderr
    line = _error_line(res.stderr)
    assert "KAFKA_SECURITY_PROTOCOL=SASL_SSL speaks TLS, but that listener is PLAINTEXT" in line
    assert seconds < FAST, f"took {seconds:.1f}s"
