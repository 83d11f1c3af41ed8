"""Client security against a real SASL_SSL broker (SCRAM-SHA-512) with a mutual-TLS listener: a refused login,
an untrusted CA, an expired or untrusted client certificate and bad client settings are told apart from "no
broker answered", name the setting to fix (and where it was set: variable, profile, -X, client config), exit
2, and fast. Profiles, -X and Java client config files carry the whole pipeline; the password never shows.

The broker comes from tests/secure_broker.py (one per module: certificates, SCRAM user, two listeners).
"""

from __future__ import annotations

import json
import subprocess
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


# ---- profiles, -X and --client-config against the same broker (issue 15, part 1) ----


def _profile_env(secure: SecureStack, cfg: Path, **more: str) -> dict[str, str]:
    """The stack's environment without the connection variables (the profile supplies them) and a test's own config folder."""
    env = {k: v for k, v in secure.stack.env.items() if k not in ("KAFKA_BROKER", "ZOOKEEPER_CONNECT")}
    env.update({"KAFKAOPS_CONFIG_DIR": str(cfg), "SEC_PW": secure.password, **more})
    return env


def _kafkaops(secure: SecureStack, env: dict[str, str], args: list[str]) -> tuple[Any, float]:
    t0 = time.monotonic()
    res = run_kafkaops(args, env, secure.stack.root, timeout=90)
    return res, time.monotonic() - t0


def _add_scram_profile(secure: SecureStack, env: dict[str, str], name: str = "sec", *extra: str) -> None:
    res, _ = _kafkaops(secure, env, [
        "profile", "add", name, "-b", secure.secure_broker, "--zookeeper", f"localhost:{secure.stack.zk_port}",
        "-X", "security.protocol=SASL_SSL", "-X", "sasl.mechanism=SCRAM-SHA-512", "-X", f"sasl.username={secure.user}",
        "-X", f"ssl.ca.location={secure.ca}", "--secret-env", "sasl.password=SEC_PW", *extra,
    ])  # fmt: skip
    assert res.returncode == 0, res.stderr


def _assert_no_secret(secure: SecureStack, *texts: str, more: tuple[str, ...] = ()) -> None:
    logs = secure.stack.root / "ops" / "logs"
    everything = "\n".join(texts) + "".join(p.read_text(errors="replace") for p in logs.rglob("*") if p.is_file())
    for secret in (secure.password, *more):
        assert secret not in everything


def test_the_pipeline_through_a_profile(secure_stack: SecureStack, tmp_path: Path, database_url: str) -> None:
    """topics, produce, consume, groups, status and doctor with nothing but a default profile (SASL_SSL, SCRAM-SHA-512)."""
    from urllib.parse import urlsplit

    db_password = urlsplit(database_url).password or ""
    env = _profile_env(secure_stack, tmp_path / "cfg", SEC_DB=database_url)
    _add_scram_profile(secure_stack, env, "sec", "--secret-env", "database_url=SEC_DB", "--topic", "sec_events", "--use")
    outputs: list[str] = []

    def ok(*args: str) -> Any:
        res, _ = _kafkaops(secure_stack, env, list(args))
        outputs.extend([res.stdout, res.stderr])
        assert res.returncode == 0, f"{args}: {res.stderr}"
        return res

    ok("topics", "create", "sec_events", "--partitions", "2")
    assert "sec_events" in [t["name"] for t in json.loads(ok("topics", "list", "--json").stdout)["topics"]]
    ok("db", "init", "--demo")
    ok("db", "seed", "5")
    ok("produce")
    consumed = ok("consume", "--group", "sec-readers", "--from-beginning", "--exit-at-end", "--format", "json").stdout.splitlines()
    assert len(consumed) == 5
    assert "sec-readers" in [g["group"] for g in json.loads(ok("groups", "list", "--json").stdout)["groups"]]
    ok("groups", "describe", "sec-readers")
    status, _ = _kafkaops(secure_stack, env, ["status", "--json"])
    outputs += [status.stdout, status.stderr]
    where = json.loads(status.stdout)["settings"]
    origin = f"profile sec ({tmp_path / 'cfg' / 'profiles.toml'})"
    assert where["profile"] == "sec" and where["KAFKA_BROKER"] == {"value": secure_stack.secure_broker, "source": origin}
    assert where["client"]["sasl.password"] == {"value": "***", "source": f"{origin}, from env SEC_PW"}
    human, _ = _kafkaops(secure_stack, env, ["status"])
    outputs += [human.stdout, human.stderr]
    assert f"profile sec: KAFKA_BROKER={secure_stack.secure_broker} from {origin}" in human.stderr
    doctor, _ = _kafkaops(secure_stack, env, ["doctor", "--json"])
    outputs += [doctor.stdout, doctor.stderr]
    checks = {c["id"]: c for c in json.loads(doctor.stdout)["checks"]}
    assert checks["broker.metadata"]["status"] == "PASS", checks["broker.metadata"]
    assert checks["config.variables"]["data"]["sources"]["KAFKA_TOPIC"] == origin
    shown = ok("profile", "show", "--json").stdout + ok("profile", "list").stdout
    assert "env:SEC_PW" in shown and "env:SEC_DB" in shown
    _assert_no_secret(secure_stack, *outputs, shown, more=(db_password,))


def test_mutual_tls_through_a_profile_and_a_java_client_config(secure_stack: SecureStack, tmp_path: Path) -> None:
    """The SSL listener requires a client certificate: given by -X in a profile, or by a Java keystore config."""
    client = secure_stack.client
    assert client is not None
    env = _profile_env(secure_stack, tmp_path / "cfg")
    res, _ = _kafkaops(secure_stack, env, [
        "profile", "add", "mtls", "-b", secure_stack.mtls_broker, "-X", "security.protocol=SSL", "-X", f"ssl.ca.location={secure_stack.ca}",
        "-X", f"ssl.certificate.location={client.cert}", "-X", f"ssl.key.location={client.key}",
    ])  # fmt: skip
    assert res.returncode == 0, res.stderr
    res, _ = _kafkaops(secure_stack, env, ["--profile", "mtls", "topics", "list", "--json"])
    assert res.returncode == 0, res.stderr
    # The same client as a Java client config: a PKCS12 keystore and a PEM truststore.
    p12 = tmp_path / "client.p12"
    subprocess.run(["openssl", "pkcs12", "-export", "-in", str(client.cert), "-inkey", str(client.key), "-passout", "pass:clientpw",
                    "-out", str(p12)], check=True, capture_output=True)  # fmt: skip
    props = tmp_path / "mtls.properties"
    props.write_text(
        f"security.protocol=SSL\nssl.truststore.type=PEM\nssl.truststore.location={secure_stack.ca}\n"
        f"ssl.keystore.type=PKCS12\nssl.keystore.location={p12}\nssl.keystore.password=clientpw\nssl.endpoint.identification.algorithm=https\n"
    )
    res, _ = _kafkaops(secure_stack, env, ["-b", secure_stack.mtls_broker, "--client-config", str(props), "topics", "list", "--json"])
    assert res.returncode == 0, res.stderr
    assert "ignored Java-only setting(s) librdkafka has no equivalent for: ssl.keystore.type, ssl.truststore.type" in res.stderr


def test_a_command_config_file_works_for_kafkaops_and_kafkas_own_tool(secure_stack: SecureStack, tmp_path: Path) -> None:
    """One --command-config file (SCRAM in sasl.jaas.config, a PEM truststore): kafkaops and kafka-topics list the same topics."""
    from kafkaops.adapters.java import find_java

    props = tmp_path / "client.properties"
    props.write_text(
        "security.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-512\n"
        f'sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="{secure_stack.user}" password="{secure_stack.password}";\n'
        f"ssl.truststore.type=PEM\nssl.truststore.location={secure_stack.ca}\n"
    )
    env = _profile_env(secure_stack, tmp_path / "cfg")
    ours, _ = _kafkaops(secure_stack, env, ["-b", secure_stack.secure_broker, "--client-config", str(props), "topics", "list", "--json"])
    assert ours.returncode == 0, ours.stderr
    libs = Path(secure_stack.stack.env["KAFKA_HOME"]) / "libs"
    java = find_java(secure_stack.stack.settings.java).path
    theirs = subprocess.run([java, "-Xmx128m", "-cp", f"{libs}/*", "org.apache.kafka.tools.TopicCommand", "--bootstrap-server", secure_stack.secure_broker,
                             "--command-config", str(props), "--list"], capture_output=True, text=True, timeout=90)  # fmt: skip
    assert theirs.returncode == 0, theirs.stderr[-2000:]
    assert sorted(t["name"] for t in json.loads(ours.stdout)["topics"]) == sorted(t for t in theirs.stdout.split() if not t.startswith("__"))
    _assert_no_secret(secure_stack, ours.stdout, ours.stderr)


def test_profile_failures_name_the_setting_fast_and_keep_the_password_out(secure_stack: SecureStack, tmp_path: Path) -> None:
    cfg = tmp_path / "cfg"
    profiles_file = cfg / "profiles.toml"
    wrong = "not-the-Password-42"
    env = _profile_env(secure_stack, cfg, SEC_PW=wrong)
    _add_scram_profile(secure_stack, env, "sec", "--use")
    res, seconds = _kafkaops(secure_stack, env, ["--traceback", "topics", "list", "--json"])
    assert res.returncode == 2, res.stderr
    assert _error_line(res.stderr) == (
        f"error: SASL authentication failed at {secure_stack.secure_broker}: the broker rejected user alice (SCRAM-SHA-512); "
        f"check sasl.password (profile sec ({profiles_file}), from env SEC_PW) and sasl.username (profile sec ({profiles_file}))"
    )
    assert seconds < FAST, f"took {seconds:.1f}s"
    _assert_no_secret(secure_stack, res.stdout, res.stderr, more=(wrong,))

    env["SEC_PW"] = secure_stack.password
    res, seconds = _kafkaops(secure_stack, env, ["-X", f"ssl.ca.location={secure_stack.other_ca}", "topics", "list"])
    assert res.returncode == 2, res.stderr
    assert _error_line(res.stderr) == (
        f"error: TLS certificate verification failed at {secure_stack.secure_broker}: "
        f"ssl.ca.location={secure_stack.other_ca} (-X) does not hold the CA that signed the broker's certificate"
    )
    assert seconds < FAST, f"took {seconds:.1f}s"
    _assert_no_secret(secure_stack, res.stdout, res.stderr)


def test_mutual_tls_refusals_name_the_client_certificate(secure_stack: SecureStack, tmp_path: Path) -> None:
    """An untrusted client certificate is refused by the broker; an expired one is caught before connecting
    (the broker's TLS alert, "certificate unknown", is the same for both)."""
    env = _profile_env(secure_stack, tmp_path / "cfg")
    for which in ("untrusted_client", "expired_client"):
        cert = getattr(secure_stack, which)
        x = ["-X", "security.protocol=SSL", "-X", f"ssl.ca.location={secure_stack.ca}", "-X", f"ssl.certificate.location={cert.cert}"]
        res, seconds = _kafkaops(secure_stack, env, ["-b", secure_stack.mtls_broker, *x, "-X", f"ssl.key.location={cert.key}", "topics", "list"])
        assert res.returncode == 2, res.stderr
        line = _error_line(res.stderr)
        if which == "untrusted_client":
            assert line == (
                f"error: TLS handshake failed at {secure_stack.mtls_broker}: the broker does not trust the client certificate "
                f"ssl.certificate.location={cert.cert} (-X)"
            )
        else:
            assert line.startswith(f"error: ssl.certificate.location={cert.cert} (-X): the client certificate expired on "), line
        assert seconds < FAST, f"took {seconds:.1f}s"


def test_an_expired_broker_certificate_is_named_as_such(secure_stack: SecureStack, tmp_path: Path) -> None:
    env = _profile_env(secure_stack, tmp_path / "cfg")
    args = ["-b", secure_stack.expired_broker, "-X", "security.protocol=SSL", "-X", f"ssl.ca.location={secure_stack.ca}", "topics", "list"]
    res, seconds = _kafkaops(secure_stack, env, args)
    assert res.returncode == 2, res.stderr
    assert _error_line(res.stderr) == f"error: TLS certificate verification failed at {secure_stack.expired_broker}: the broker's certificate has expired"
    assert seconds < FAST, f"took {seconds:.1f}s"
