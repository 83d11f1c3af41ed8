"""kafkaops bundle's masking: properties files, settings values, environment variables."""

from __future__ import annotations

from datetime import UTC, datetime

from kafkaops.procedures import bundle


def test_properties_keep_their_layout_and_lose_every_secret_value() -> None:
    text = '# a comment with password=inside\nlisteners=PLAINTEXT://:9092\nssl.key.password = s3cr3t\nssl.truststore.password:tpw\nlistener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.Foo required username="a" password="b";\n'
    masked = bundle.mask_properties(text)
    assert masked.splitlines() == [
        "# a comment with password=***",
        "listeners=PLAINTEXT://:9092",
        "ssl.key.password=***",
        "ssl.truststore.password:***",
        "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=***",
    ]
    assert bundle.properties_secrets(text) == ["s3cr3t", 'org.Foo required username="a" password="b";']


def test_values_are_masked_by_key_and_by_content() -> None:
    assert bundle.mask_value("KAFKA_SASL_PASSWORD", "pw") == "***"
    assert bundle.mask_value("DATABASE_URL", "postgresql://u:pw@h:5432/d") == "postgresql://u:***@h:5432/d"
    assert bundle.mask_value("KAFKA_OPTS", "-Djavax.net.ssl.keyStorePassword=pw -Xmx1g") == "-Djavax.net.ssl.keyStorePassword=*** -Xmx1g"
    assert bundle.mask_value("client_security", {"sasl.password": "pw", "sasl.username": "u"}) == {"sasl.password": "***", "sasl.username": "u"}
    assert bundle.mask_value("KAFKA_SASL_PASSWORD", "") == ""  # an empty secret says it is empty


def test_only_kafka_kafkaops_and_database_url_variables_are_taken() -> None:
    env = {"HOME": "/root", "KAFKA_BROKER": "b:9092", "KAFKAOPS_HOME": "/o", "DATABASE_URL": "postgresql://u:p@h/d", "AWS_SECRET_ACCESS_KEY": "x"}
    assert bundle.environment(env) == {"DATABASE_URL": "postgresql://u:***@h/d", "KAFKAOPS_HOME": "/o", "KAFKA_BROKER": "b:9092"}


def test_the_default_name_is_the_utc_time() -> None:
    assert bundle.default_name(datetime(2026, 12, 2, 21, 5, 9, tzinfo=UTC)) == "kafkaops-bundle-20261202T210509Z.zip"
