"""A real secured broker: ZooKeeper-mode Kafka with a SASL_SSL listener (SCRAM-SHA-512) and a mutual-TLS
(SSL, client certificate required) listener next to its PLAINTEXT one, for tests of authentication and TLS.

Everything is made in the test's temporary folder: a CA, the broker's key and certificate signed by it
(in a PKCS12 keystore, openssl), the broker's truststore holding the CA (PKCS12, keytool), a second CA the
broker does not use (for "untrusted CA" tests), client certificates (one signed by the CA, one expired,
one signed by the other CA), and the SCRAM user, written to ZooKeeper before the broker starts. Brokers talk to each other on the PLAINTEXT
listener, which is also the one ``kafkaops up`` waits on; tests point KAFKA_BROKER at ``secure_broker``
and set the KAFKA_SECURITY_PROTOCOL / KAFKA_SASL_* / KAFKA_SSL_* variables from ``client_env``.

Loaded from tests/conftest.py (``pytest_plugins``). Needs openssl and the Java of the Kafka install.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import Stack, free_port, make_stack, teardown_stack

SCRAM_USER = "alice"
SCRAM_PASSWORD = "alice-s3cret-Pw"  # noqa: S105 - a test credential, asserted never to be printed
STORE_PASSWORD = "storepass123"  # noqa: S105


@dataclass
class ClientCert:
    cert: Path
    key: Path


@dataclass
class SecureStack:
    stack: Stack
    secure_port: int
    ca: Path  # the CA that signed the broker's certificate
    other_ca: Path  # a CA that did not
    mtls_port: int = 0  # the SSL listener that requires a client certificate
    expired_port: int = 0  # an SSL listener whose (broker) certificate has expired
    client: ClientCert | None = None  # signed by ca
    expired_client: ClientCert | None = None  # signed by ca, expired
    untrusted_client: ClientCert | None = None  # signed by other_ca
    user: str = SCRAM_USER
    password: str = SCRAM_PASSWORD

    @property
    def secure_broker(self) -> str:
        return f"localhost:{self.secure_port}"

    @property
    def mtls_broker(self) -> str:
        return f"localhost:{self.mtls_port}"

    @property
    def expired_broker(self) -> str:
        return f"localhost:{self.expired_port}"

    def client_env(self, **overrides: str) -> dict[str, str]:
        """The stack's environment with a client set up for the SASL_SSL listener; overrides win."""
        env = dict(self.stack.env)
        env.update(
            {
                "KAFKA_BROKER": self.secure_broker,
                "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
                "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
                "KAFKA_SASL_USERNAME": self.user,
                "KAFKA_SASL_PASSWORD": self.password,
                "KAFKA_SSL_CA_LOCATION": str(self.ca),
            }
        )
        env.update(overrides)
        return env


def _run(cmd: list[str], cwd: Path) -> None:
    res = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, f"{' '.join(cmd)} failed: {res.stderr[-2000:]}"


def make_ca(folder: Path, name: str) -> tuple[Path, Path]:
    """A self-signed CA: (certificate, key)."""
    cert, key = folder / f"{name}.pem", folder / f"{name}.key"
    _run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}",
          "-keyout", str(key), "-out", str(cert)], folder)  # fmt: skip
    return cert, key


def make_broker_keystore(folder: Path, ca_cert: Path, ca_key: Path, name: str = "broker", days: int = 2) -> Path:
    """The broker's key and a certificate for localhost signed by the CA, as a PKCS12 keystore (``days=-1``: expired)."""
    key, csr, cert, ext = folder / f"{name}.key", folder / f"{name}.csr", folder / f"{name}.pem", folder / "san.ext"
    ext.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    _run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(csr)], folder)
    _run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca_cert), "-CAkey", str(ca_key), "-CAcreateserial",
          "-days", str(days), "-extfile", str(ext), "-out", str(cert)], folder)  # fmt: skip
    store = folder / f"{name}.p12"
    _run(["openssl", "pkcs12", "-export", "-in", str(cert), "-inkey", str(key), "-certfile", str(ca_cert),
          "-name", "broker", "-passout", f"pass:{STORE_PASSWORD}", "-out", str(store)], folder)  # fmt: skip
    return store


def make_client_cert(folder: Path, name: str, ca_cert: Path, ca_key: Path, days: int = 2) -> ClientCert:
    """A client key and certificate signed by the CA (PEM); ``days=-1`` makes one that has already expired."""
    key, csr, cert = folder / f"{name}.key", folder / f"{name}.csr", folder / f"{name}.pem"
    _run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}", "-keyout", str(key), "-out", str(csr)], folder)
    _run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca_cert), "-CAkey", str(ca_key), "-CAcreateserial",
          "-days", str(days), "-out", str(cert)], folder)  # fmt: skip
    return ClientCert(cert, key)


def make_truststore(folder: Path, ca_cert: Path, java: str) -> Path:
    """The broker's truststore (PKCS12) holding the CA, made with the JDK's keytool."""
    keytool = Path(java).with_name("keytool.exe" if java.endswith(".exe") else "keytool")
    store = folder / "broker-trust.p12"
    _run([str(keytool), "-importcert", "-noprompt", "-alias", "test-ca", "-file", str(ca_cert), "-keystore", str(store),
          "-storetype", "PKCS12", "-storepass", STORE_PASSWORD], folder)  # fmt: skip
    return store


def add_scram_user(stack: Stack, user: str, password: str) -> None:
    """Kafka's own ConfigCommand writes the SCRAM credential to ZooKeeper (the ZooKeeper-mode way)."""
    from kafkaops.adapters.java import find_java

    java = find_java(stack.settings.java).path
    libs = Path(stack.env["KAFKA_HOME"]) / "libs"
    _run([java, "-Xmx128m", "-cp", f"{libs}/*", "kafka.admin.ConfigCommand", "--zookeeper", f"localhost:{stack.zk_port}",
          "--alter", "--add-config", f"SCRAM-SHA-512=[password={password}]", "--entity-type", "users", "--entity-name", user],
         stack.root)  # fmt: skip


def start_secure_stack(root: Path, kafka_home: Path) -> SecureStack:
    """Make the certificates, configure and start ZooKeeper, add the SCRAM user, then start the broker."""
    from kafkaops.adapters.java import find_java
    from kafkaops.procedures import services

    tls = root / "tls"
    tls.mkdir(parents=True)
    ca, ca_key = make_ca(tls, "test-ca")
    other_ca, other_key = make_ca(tls, "other-ca")
    store = make_broker_keystore(tls, ca, ca_key)
    expired_store = make_broker_keystore(tls, ca, ca_key, "expired-broker", days=-1)
    secure_port, mtls_port, expired_port = free_port(), free_port(), free_port()
    stack = make_stack(root, kafka_home)
    trust = make_truststore(tls, ca, find_java(stack.settings.java).path)
    plain = f"PLAINTEXT://localhost:{stack.broker_port}"
    secure = f"SASL_SSL://localhost:{secure_port},SSL://localhost:{mtls_port},EXPIRED://localhost:{expired_port}"
    _add_secure_listener(stack, plain, secure, store, trust)
    _expired_listener(stack, expired_store)
    clients = [make_client_cert(tls, "client", ca, ca_key), make_client_cert(tls, "expired-client", ca, ca_key, days=-1)]
    clients.append(make_client_cert(tls, "untrusted-client", other_ca, other_key))
    settings = stack.settings
    try:
        cfg = services.read_stack_config(settings)
        services.start_zookeeper(settings, cfg, find_java(settings.java).path, services._noop)
        add_scram_user(stack, SCRAM_USER, SCRAM_PASSWORD)
        services.up(settings)
    except BaseException:
        teardown_stack(stack)
        raise
    return SecureStack(stack, secure_port, ca, other_ca, mtls_port, expired_port, *clients)


def _add_secure_listener(stack: Stack, plain: str, secure: str, store: Path, trust: Path) -> None:
    """Rewrite the stack's server.properties with the three listeners (same ports, same folders)."""
    from kafkaops.adapters.javaprops import read_properties, write_properties

    path = Path(stack.env["KAFKAOPS_SERVER_PROPERTIES"])
    props = dict(read_properties(path).values)
    props.update(
        {
            "listeners": f"{plain},{secure}",
            "advertised.listeners": f"{plain},{secure}",
            "inter.broker.listener.name": "PLAINTEXT",
            "sasl.enabled.mechanisms": "SCRAM-SHA-512",
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": "org.apache.kafka.common.security.scram.ScramLoginModule required;",
            "ssl.keystore.location": str(store),
            "ssl.keystore.type": "PKCS12",
            "ssl.keystore.password": STORE_PASSWORD,
            "ssl.key.password": STORE_PASSWORD,
            "ssl.truststore.location": str(trust),
            "ssl.truststore.type": "PKCS12",
            "ssl.truststore.password": STORE_PASSWORD,
            "listener.name.ssl.ssl.client.auth": "required",  # mutual TLS on the SSL listener only
        }
    )
    write_properties(path, props)


def _expired_listener(stack: Stack, store: Path) -> None:
    """The EXPIRED listener speaks SSL with its own keystore, whose certificate has expired."""
    from kafkaops.adapters.javaprops import read_properties, write_properties

    path = Path(stack.env["KAFKAOPS_SERVER_PROPERTIES"])
    props = dict(read_properties(path).values)
    props["listener.security.protocol.map"] = "PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL,EXPIRED:SSL"
    for key, value in (("location", str(store)), ("type", "PKCS12"), ("password", STORE_PASSWORD)):
        props[f"listener.name.expired.ssl.keystore.{key}"] = value
    props["listener.name.expired.ssl.key.password"] = STORE_PASSWORD
    write_properties(path, props)


@pytest.fixture(scope="module")
def secure_stack(tmp_path_factory: pytest.TempPathFactory, kafka_home: Path) -> Iterator[SecureStack]:
    """A running ZooKeeper-mode broker with PLAINTEXT, SASL_SSL (SCRAM-SHA-512) and mutual-TLS listeners."""
    secure = start_secure_stack(tmp_path_factory.mktemp("secure-stack"), kafka_home)
    yield secure
    teardown_stack(secure.stack)
