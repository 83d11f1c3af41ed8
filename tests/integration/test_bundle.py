"""kafkaops bundle against a real stack: what is inside, and no secret anywhere in it."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Stack, free_port, make_stack, run_kafkaops, teardown_stack

PROPERTY_SECRET = "PropSecret-9931"
SSL_KEY_SECRET = "SslKeyPw-3301"
SECRETS = {
    "DSN password": "DsnPw-5521",
    "SASL password": "SaslPw-8812",
    "ssl.key.password in server.properties": SSL_KEY_SECRET,
    "a secret key in server.properties": PROPERTY_SECRET,
    "a secret environment variable": "EnvSecret-7713",
    "KAFKA_SSL_KEY_PASSWORD": "ClientKeyPw-6620",
    "a password only a log line shows": "LogOnlyPw-4242",
}


@pytest.fixture
def secret_stack(tmp_path: Path, kafka_home: Path) -> Iterator[Stack]:
    s = make_stack(tmp_path, kafka_home, **{"ssl.key.password": SSL_KEY_SECRET, "custom.api.secret": PROPERTY_SECRET})
    yield s
    teardown_stack(s)


def _bundle(stack: Stack, name: str) -> tuple[Path, dict[str, str], str]:
    env = {
        **stack.env,
        "DATABASE_URL": f"postgresql://bundler:{SECRETS['DSN password']}@127.0.0.1:{free_port()}/pipeline",
        "KAFKA_SASL_USERNAME": "alice",
        "KAFKA_SASL_PASSWORD": SECRETS["SASL password"],
        "KAFKA_SSL_KEY_PASSWORD": SECRETS["KAFKA_SSL_KEY_PASSWORD"],
        "KAFKAOPS_OAUTH_CLIENT_SECRET": SECRETS["a secret environment variable"],
    }
    path = stack.root / name
    r = run_kafkaops(["bundle", str(path), "--lines", "50"], env=env, cwd=stack.root)
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"{path}\n"
    with zipfile.ZipFile(path) as zf:
        members = {n.split("/", 1)[1]: zf.read(n).decode("utf-8") for n in zf.namelist()}
    assert all(n.startswith(path.stem + "/") for n in zipfile.ZipFile(path).namelist())
    return path, members, r.stdout + r.stderr


def _no_secrets(members: dict[str, str], output: str) -> None:
    for what, secret in SECRETS.items():
        leaks = [name for name, text in members.items() if secret in text]
        assert leaks == [], f"{what} ({secret}) found in {leaks}"
        assert secret not in output, what


def test_bundle_with_the_stack_down_then_up_holds_everything_and_no_secret(secret_stack: Stack) -> None:
    from kafkaops.procedures import services

    _, down, output = _bundle(secret_stack, "down.zip")
    _no_secrets(down, output)
    assert "NOT all services were up" in down["README.txt"]
    assert {
        "versions.json",
        "settings.json",
        "environment.json",
        "status.json",
        "doctor.json",
        "config/server.properties",
        "config/zookeeper.properties",
    } <= set(down)
    assert "ssl.key.password=***" in down["config/server.properties"] and "custom.api.secret=***" in down["config/server.properties"]

    services.up(secret_stack.settings)
    kafka_log = services.log_path(secret_stack.settings, services.KAFKA)
    with open(kafka_log, "a", encoding="utf-8") as fh:  # secrets written into a log by someone else
        fh.write(f"a client said password={SECRETS['a password only a log line shows']} and {SECRETS['SASL password']}\n")
    _, up, output = _bundle(secret_stack, "up.zip")
    _no_secrets(up, output)
    assert "the stack was up" in up["README.txt"]
    assert {"logs/kafka.log", "logs/zookeeper.log"} <= set(up)
    assert len(up["logs/kafka.log"].splitlines()) == 50
    assert "password=***" in up["logs/kafka.log"]
    assert '"kafka": "3.9.2"' in up["versions.json"]
    assert '"KAFKA_SASL_PASSWORD": "***"' in up["environment.json"]
    assert "postgresql://bundler:***@127.0.0.1" in up["environment.json"]


def test_an_existing_file_is_never_overwritten(tmp_path: Path) -> None:
    target = tmp_path / "there.zip"
    target.write_text("keep me")
    r = run_kafkaops(["bundle", str(target)], env={"KAFKAOPS_HOME": str(tmp_path / "ops"), "PATH": "/usr/bin:/bin"}, cwd=tmp_path)
    assert r.returncode == 5
    assert f"error: {target} exists: not overwriting it" in r.stderr
    assert target.read_text() == "keep me"
