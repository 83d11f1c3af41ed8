"""-X and Java client config files, translated for librdkafka."""

from __future__ import annotations

from pathlib import Path

import pytest

from kafkaops.client_config import from_java, parse_jaas, parse_x, read_client_config
from kafkaops.errors import UsageError
from kafkaops.settings import load_settings


def test_x_pairs() -> None:
    assert parse_x(["a.b=1", "c=x=y", "a.b=2", "empty="]) == {"a.b": "2", "c": "x=y", "empty": ""}
    with pytest.raises(UsageError, match="is not key=value"):
        parse_x(["novalue"])


def test_jaas_scram_and_plain_give_username_and_password() -> None:
    jaas = 'org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="p\\"w;x";'
    assert parse_jaas(jaas) == ("org.apache.kafka.common.security.scram.ScramLoginModule", {"username": "alice", "password": 'p"w;x'})
    cfg = from_java({"security.protocol": "SASL_SSL", "sasl.mechanism": "PLAIN", "sasl.jaas.config": jaas.replace("scram.Scram", "plain.Plain")}, "f")
    assert cfg.values == {"security.protocol": "SASL_SSL", "sasl.mechanism": "PLAIN", "sasl.username": "alice", "sasl.password": 'p"w;x'}
    assert cfg.origins["sasl.password"] == "f, from sasl.jaas.config"


def test_oauthbearer_becomes_librdkafka_oidc() -> None:
    cfg = from_java(
        {
            "sasl.mechanism": "OAUTHBEARER",
            "sasl.oauthbearer.token.endpoint.url": "https://idp/token",
            "sasl.login.callback.handler.class": "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler",
            "sasl.jaas.config": 'org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required clientId="app" clientSecret="cs" scope="kafka";',
        },
        "f",
    )
    assert cfg.values == {
        "sasl.mechanism": "OAUTHBEARER",
        "sasl.oauthbearer.token.endpoint.url": "https://idp/token",
        "sasl.oauthbearer.client.id": "app",
        "sasl.oauthbearer.client.secret": "cs",
        "sasl.oauthbearer.scope": "kafka",
        "sasl.oauthbearer.method": "oidc",
    }
    assert "sasl.login.callback.handler.class" in cfg.warnings[0]


def test_truststores(tmp_path: Path) -> None:
    pem, jks, p12 = tmp_path / "ca.pem", tmp_path / "trust.jks", tmp_path / "trust.p12"
    pem.write_text("-----BEGIN CERTIFICATE-----\n")
    jks.write_bytes(b"\xfe\xed\xfe\xed\x00\x00")
    p12.write_bytes(b"\x30\x82\x01")
    cfg = from_java({"ssl.truststore.location": str(pem), "ssl.truststore.type": "PEM", "ssl.endpoint.identification.algorithm": ""}, "f")
    assert cfg.values == {"ssl.ca.location": str(pem), "ssl.endpoint.identification.algorithm": "none"}
    for store, kind in ((jks, "JKS"), (p12, "PKCS12")):
        with pytest.raises(UsageError, match=f"is a {kind} truststore: librdkafka reads only PEM") as exc:
            from_java({"ssl.truststore.location": str(store)}, "f")
        assert "keytool -exportcert -rfc" in (exc.value.hint or "")
    with pytest.raises(UsageError, match="is a JKS keystore") as exc:
        from_java({"ssl.keystore.location": str(jks)}, "f")
    assert "-deststoretype PKCS12" in (exc.value.hint or "")
    assert from_java({"ssl.keystore.location": str(p12), "ssl.keystore.password": "x"}, "f").values["ssl.keystore.location"] == str(p12)


def test_kerberos_is_refused_with_the_way_out() -> None:
    with pytest.raises(UsageError, match="Krb5LoginModule, which kafkaops cannot translate") as exc:
        from_java({"sasl.jaas.config": "com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true;"}, "f")
    assert "sasl.kerberos" in (exc.value.hint or "")


def test_client_config_file_ranks_as_a_flag(tmp_path: Path) -> None:
    props = tmp_path / "client.properties"
    props.write_text(
        "security.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-512\n"
        'sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \\\n  username="alice" password="file-pw";\n'
    )
    env = {"KAFKAOPS_HOME": str(tmp_path / "h"), "KAFKAOPS_CONFIG_DIR": str(tmp_path), "KAFKA_SASL_PASSWORD": "env-pw"}
    s = load_settings({"client_config": props}, env=env, cwd=tmp_path)
    assert s.client_security["sasl.password"] == "file-pw"  # the flag's file wins over the environment
    assert s.client_origins["sasl.password"] == f"--client-config {props}, from sasl.jaas.config"
    env["KAFKAOPS_CLIENT_CONFIG"] = str(props)
    s = load_settings(env=env, cwd=tmp_path)
    assert s.client_security["sasl.password"] == "env-pw"  # same rank: the single setting wins over the file
    with pytest.raises(UsageError, match="no such file"):
        read_client_config(tmp_path / "missing.properties")


def test_a_profile_names_a_client_config_below_its_own_client_table(tmp_path: Path) -> None:
    props = tmp_path / "client.properties"
    props.write_text("security.protocol=SASL_SSL\nsasl.username=from-file\nlinger.ms=7\n")
    (tmp_path / "profiles.toml").write_text(f'default = "p"\n[profiles.p]\nclient_config = "{props}"\n[profiles.p.client]\n"sasl.username" = "from-table"\n')
    (tmp_path / "profiles.toml").chmod(0o600)
    s = load_settings(env={"KAFKAOPS_HOME": str(tmp_path / "h"), "KAFKAOPS_CONFIG_DIR": str(tmp_path)}, cwd=tmp_path)
    assert s.client_security == {"security.protocol": "SASL_SSL", "sasl.username": "from-table", "linger.ms": "7"}
    assert s.client_origins["linger.ms"] == f"client_config of the profile {props}"
