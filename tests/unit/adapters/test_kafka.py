"""librdkafka's reports and configuration errors, turned into one kafkaops error naming the setting.

The texts are librdkafka 2.x's own (seen against the SASL_SSL broker of tests/secure_broker.py);
tests/integration/test_kafka_security.py proves the same against that real broker.
"""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

from kafkaops.adapters import kafka
from kafkaops.errors import ExitCode
from kafkaops.settings import load_settings

SECRET = "hunter2-Secret"


def _settings(**env: str):  # noqa: ANN202
    base = {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512", "KAFKA_SASL_USERNAME": "alice", "KAFKA_SASL_PASSWORD": SECRET}
    return load_settings(env={**base, **env})


def test_refused_login_names_the_password_setting() -> None:
    events = [
        ("LOG", "[thrd:sasl_ssl://h:9093/bootstrap]: sasl_ssl://h:9093/bootstrap: SASL authentication error: Authentication failed "
         "during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512 (after 348ms in state AUTH_REQ)"),
    ]  # fmt: skip
    err = kafka.classify(events, _settings(), "h:9093")
    assert err is not None and err.exit_code == ExitCode.USAGE
    assert (
        err.message == "SASL authentication failed at h:9093: the broker rejected user alice (SCRAM-SHA-512); check KAFKA_SASL_PASSWORD and KAFKA_SASL_USERNAME"
    )
    assert err.details == [
        "broker: SASL authentication error: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512"
    ]


def test_unsupported_mechanism_names_what_the_broker_accepts() -> None:
    events = [("_AUTHENTICATION", "sasl_ssl://h:9093/bootstrap: SASL SCRAM-SHA-256 mechanism handshake failed: Broker: Unsupported SASL mechanism: "
               "broker's supported mechanisms: SCRAM-SHA-512 (after 311ms in state AUTH_HANDSHAKE)")]  # fmt: skip
    err = kafka.classify(events, _settings(KAFKA_SASL_MECHANISM="SCRAM-SHA-256"), "h:9093")
    assert err is not None
    assert err.message == "SASL authentication failed at h:9093: the broker does not accept mechanism SCRAM-SHA-256 (it accepts SCRAM-SHA-512)"
    assert err.hint == "set KAFKA_SASL_MECHANISM to one the broker accepts"


def test_sasl_spoken_to_a_plaintext_listener_names_the_protocol() -> None:
    events = [("_AUTHENTICATION", "sasl_plaintext://h:9092/bootstrap: SASL PLAIN mechanism handshake failed: Broker: Request not valid "
               "in current SASL state: broker's supported mechanisms:  (after 2ms in state AUTH_HANDSHAKE)")]  # fmt: skip
    err = kafka.classify(events, _settings(KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT"), "h:9092")
    assert err is not None
    assert err.message == "SASL handshake failed at h:9092: that listener does not speak SASL, but KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT does"


def test_untrusted_certificate_names_the_ca_setting() -> None:
    events = [("_SSL", "sasl_ssl://h:9093/bootstrap: SSL handshake failed: error:0A000086:SSL routines::certificate verify failed: broker "
               "certificate could not be verified, verify that ssl.ca.location is correctly configured (after 4ms in state SSL_HANDSHAKE)")]  # fmt: skip
    err = kafka.classify(events, _settings(KAFKA_SSL_CA_LOCATION="/x/ca.pem"), "h:9093")
    assert err is not None
    assert (
        err.message
        == "TLS certificate verification failed at h:9093: KAFKA_SSL_CA_LOCATION=/x/ca.pem does not hold the CA that signed the broker's certificate"
    )


def test_transport_noise_is_not_a_security_error() -> None:
    events = [("_TRANSPORT", "localhost:9092/bootstrap: Connect to ipv4#127.0.0.1:9092 failed: Connection refused (after 0ms in state CONNECT)"),
              ("_ALL_BROKERS_DOWN", "1/1 brokers are down")]  # fmt: skip
    assert kafka.classify(events, _settings(), "localhost:9092") is None


def _librdkafka_error(text: str) -> KafkaException:
    return KafkaException(KafkaError(KafkaError._INVALID_ARG, text))


@pytest.mark.parametrize(
    ("env", "text", "message"),
    [
        ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSLX"}, 'Invalid value "SASL_SSLX" for configuration property "security.protocol"',
         "KAFKA_SECURITY_PROTOCOL='SASL_SSLX' is not a valid value"),
        ({"KAFKA_SASL_MECHANISM": "FOO"}, "Failed to create admin client: Unsupported SASL mechanism: FOO", "KAFKA_SASL_MECHANISM=FOO is not supported"),
        ({"KAFKA_SSL_CA_LOCATION": "/etc/hostname"}, "Failed to create producer: ssl.ca.location failed: error:05800088:x509 certificate routines::no certificate or crl found",
         "KAFKA_SSL_CA_LOCATION=/etc/hostname cannot be used: not a readable PEM file (error:05800088:x509 certificate routines::no certificate or crl found)"),
        ({}, f'Invalid value "{SECRET}" for configuration property "sasl.password"', "KAFKA_SASL_PASSWORD=**** is not a valid value"),
    ],
)  # fmt: skip
def test_configuration_errors_name_the_variable(env: dict[str, str], text: str, message: str) -> None:
    err = kafka.config_error(_librdkafka_error(text), _settings(**env))
    assert err.exit_code == ExitCode.USAGE
    assert err.message == message
    assert SECRET not in err.message + (err.hint or "")


def test_missing_pem_file_is_refused_before_librdkafka_sees_it(tmp_path) -> None:  # noqa: ANN001
    missing = tmp_path / "ca.pem"
    with pytest.raises(kafka.ClientSecurityError) as info:
        kafka.admin(_settings(KAFKA_SSL_CA_LOCATION=str(missing)))
    assert info.value.message == f"KAFKA_SSL_CA_LOCATION={missing}: no such file"
    assert info.value.exit_code == ExitCode.USAGE


def test_error_name_sets_are_real_kafka_names_and_nest() -> None:
    # every name is one confluent-kafka knows (a typo here would silently never match)
    for name in kafka.NO_ANSWER | kafka.UNREACHABLE | kafka.RETRIABLE | kafka.MISSING_TOPIC | kafka.UNKNOWN_TOPIC:
        assert isinstance(getattr(KafkaError, name), int), name
    assert kafka.UNREACHABLE - kafka.NO_ANSWER == {"REQUEST_TIMED_OUT"}
    assert kafka.BrokerRequestError("REQUEST_TIMED_OUT", "late").unreachable
    assert not kafka.BrokerRequestError("UNKNOWN_TOPIC_OR_PART", "no").unreachable
    assert "_MSG_TIMED_OUT" in kafka.RETRIABLE and "MSG_SIZE_TOO_LARGE" not in kafka.RETRIABLE
    assert kafka.MISSING_TOPIC & kafka.UNKNOWN_TOPIC == {"UNKNOWN_TOPIC_OR_PART"}


def test_a_setting_from_a_profile_or_x_is_named_where_it_was_set(tmp_path) -> None:  # noqa: ANN001
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    (cfg / "profiles.toml").write_text('[profiles.p]\nbroker = "h:9093"\n[profiles.p.client]\n"sasl.username" = "alice"\n"sasl.password" = {env = "P_PW"}\n')
    (cfg / "profiles.toml").chmod(0o600)
    s = load_settings(
        {"profile": "p", "client_x": ("ssl.ca.location=/x/ca.pem",)},
        env={"KAFKAOPS_CONFIG_DIR": str(cfg), "P_PW": SECRET, "KAFKAOPS_HOME": str(tmp_path)},
        cwd=tmp_path,
    )
    refused = [("_AUTHENTICATION", "sasl_ssl://h:9093/bootstrap: SASL authentication error: Authentication failed (after 3ms in state AUTH_REQ)")]
    err = kafka.classify(refused, s, "h:9093")
    assert err is not None and f"check sasl.password (profile p ({cfg / 'profiles.toml'}), from env P_PW) and sasl.username (profile p" in err.message
    assert kafka.setting_is(s, "ssl.ca.location") == "ssl.ca.location=/x/ca.pem (-X)"
    assert kafka.setting_is(s, "sasl.password") == f"sasl.password=**** (profile p ({cfg / 'profiles.toml'}), from env P_PW)"
    assert SECRET not in err.message + (err.hint or "") + "".join(err.details)


def test_a_broker_refusing_the_client_certificate_names_it() -> None:
    # Java brokers answer an untrusted (and an expired) client certificate with alert 46, "certificate unknown".
    events = [("LOG", "FAIL [kafkaops#producer-3] [thrd:ssl://h:9094/bootstrap]: ssl://h:9094/bootstrap: Receive failed: "
               "ssl/record/rec_layer_s3.c:918:ssl3_read_bytes error:0A000416:SSL routines::ssl/tls alert certificate unknown: "
               "SSL alert number 46 (after 53ms in state APIVERSION_QUERY) (_TRANSPORT)")]  # fmt: skip
    err = kafka.classify(events, _settings(KAFKA_SECURITY_PROTOCOL="SSL", KAFKA_SSL_CERTIFICATE_LOCATION="/c.pem"), "h:9094")
    assert err is not None
    assert err.message == "TLS handshake failed at h:9094: the broker does not trust the client certificate KAFKA_SSL_CERTIFICATE_LOCATION=/c.pem"


def test_an_unknown_x_key_is_named() -> None:
    s = load_settings({"client_x": ("no.such.key=1",)}, env={})
    err = kafka.config_error(KafkaException(KafkaError(KafkaError._INVALID_ARG, 'No such configuration property: "no.such.key"')), s)
    assert err.message == "no.such.key (-X): librdkafka has no such setting"


def test_a_partial_metadata_answer_is_asked_again_within_the_timeout(tmp_path) -> None:  # noqa: ANN001
    """Regression: a broker just restarted during a migration answered 'Local: Partial response' once, and
    the start-up wait (which retries only 'no answer') failed the whole migration phase."""
    from types import SimpleNamespace

    from confluent_kafka import KafkaError, KafkaException

    from kafkaops.settings import load_settings

    class Client:
        calls = 0

        def list_topics(self, timeout: float) -> object:
            Client.calls += 1
            if Client.calls == 1:
                raise KafkaException(KafkaError(KafkaError._PARTIAL))
            broker = SimpleNamespace(id=0, host="localhost", port=9092)
            return SimpleNamespace(brokers={0: broker}, topics={}, cluster_id="cid", controller_id=0)

    settings = load_settings(env={"KAFKAOPS_HOME": str(tmp_path)}, cwd=tmp_path)
    info = kafka.metadata(settings, timeout=5.0, client=Client())
    assert (info.cluster_id, [b.id for b in info.brokers], Client.calls) == ("cid", [0], 2)


def test_the_first_request_does_not_wait_out_librdkafkas_connection_interval(tmp_path) -> None:  # noqa: ANN001
    """librdkafka connects to a broker learned from metadata at most once per reconnect.backoff.ms / 2
    (at least 11 ms): at its default (100 ms) every `topics list` waited ~50 ms for its answer.
    The value stays a default: -X (or a profile, or a client config file) wins."""
    settings = load_settings(env={"KAFKAOPS_HOME": str(tmp_path)}, cwd=tmp_path)
    conf = kafka.client_config(settings)
    assert max(11, min(conf["reconnect.backoff.ms"] // 2, 1000)) == 11
    assert conf["reconnect.backoff.ms"] <= conf["reconnect.backoff.max.ms"]  # librdkafka refuses the reverse
    x = load_settings({"client_x": ("reconnect.backoff.ms=100",)}, env={"KAFKAOPS_HOME": str(tmp_path)}, cwd=tmp_path)
    assert kafka.client_config(x)["reconnect.backoff.ms"] == "100"


def test_a_fatal_error_that_poll_or_flush_raises_goes_to_the_callers_error_callback() -> None:
    """confluent-kafka raises a fatal error from poll()/flush() instead of calling error_cb; kafkaops's producer
    hands it to the caller's callback (which decides when to stop). Anything else, or a producer whose caller
    gave no callback, raises as before."""
    from kafkaops.adapters.kafka import ClientWatch, FatalToErrorCallback, _client_classes

    class Raising:  # stands in for confluent-kafka's C Producer: each call raises ``err``
        def __init__(self, err: Any) -> None:
            self.err = err

        def poll(self, timeout: float = -1) -> int:
            raise KafkaException(self.err)

        def flush(self, timeout: float = -1) -> int:
            raise KafkaException(self.err)

        def __len__(self) -> int:
            return 7

    class P(FatalToErrorCallback, Raising):
        pass

    fenced = KafkaError(KafkaError._FENCED, "fenced by a newer instance", fatal=True)
    seen: list[Any] = []
    p = P(fenced)
    p.kafkaops_watch = ClientWatch(seen.append)
    assert p.poll(0) == 0
    assert p.flush(1) == 7  # what is still queued
    assert [(e.code(), e.fatal()) for e in seen] == [(KafkaError._FENCED, True)] * 2
    assert p.kafkaops_watch.events[0] == ("_FENCED", "fenced by a newer instance")

    not_fatal = P(KafkaError(KafkaError._TRANSPORT, "down"))
    not_fatal.kafkaops_watch = ClientWatch(seen.append)
    with pytest.raises(KafkaException):
        not_fatal.poll(0)
    no_callback = P(fenced)
    no_callback.kafkaops_watch = ClientWatch(None)
    with pytest.raises(KafkaException):
        no_callback.flush(1)
    assert len(seen) == 2
    assert issubclass(_client_classes()["producer"], FatalToErrorCallback)
