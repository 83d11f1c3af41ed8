"""Client security: naming the client setting a user must fix, and reading librdkafka's reports of a refused
login, a failed TLS handshake or a configuration it rejects as one error each (exit 2)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from kafkaops.errors import UsageError
from kafkaops.redact import is_secret_key

if TYPE_CHECKING:
    from kafkaops.settings import Settings

# The client settings (librdkafka property -> kafkaops variable) a user can get wrong.
SECURITY_VARIABLES = {
    "security.protocol": "KAFKA_SECURITY_PROTOCOL",
    "sasl.mechanism": "KAFKA_SASL_MECHANISM",
    "sasl.mechanisms": "KAFKA_SASL_MECHANISM",
    "sasl.username": "KAFKA_SASL_USERNAME",
    "sasl.password": "KAFKA_SASL_PASSWORD",
    "ssl.ca.location": "KAFKA_SSL_CA_LOCATION",
    "ssl.certificate.location": "KAFKA_SSL_CERTIFICATE_LOCATION",
    "ssl.key.location": "KAFKA_SSL_KEY_LOCATION",
    "ssl.key.password": "KAFKA_SSL_KEY_PASSWORD",
}
_SECRET_PROPERTIES = ("sasl.password", "ssl.key.password")
_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
_RB_SECURITY = "failures client-security"


def setting_name(settings: Settings, prop: str) -> str:
    """How to name a client setting to the user: its KAFKA_* variable, or the key and where it was set (profile, file, -X)."""
    origin = settings.client_origins.get(prop)
    if origin:
        return f"{prop} ({origin})"
    return SECURITY_VARIABLES.get(prop, prop)


def setting_is(settings: Settings, prop: str) -> str:
    """``KAFKA_SSL_CA_LOCATION=/x`` or ``ssl.ca.location=/x (profile prod (...))``: a setting with its value (never a secret's)."""
    value = "****" if prop in _SECRET_PROPERTIES else settings.client_security.get(prop)
    origin = settings.client_origins.get(prop)
    return f"{prop}={value} ({origin})" if origin else f"{SECURITY_VARIABLES.get(prop, prop)}={value}"


class ClientSecurityError(UsageError):
    """The cluster refused the client's credentials or TLS, or a client setting cannot work (exit 2)."""


def _reason(text: str) -> str:
    """librdkafka's text without its "sasl_ssl://host:port/bootstrap: " prefix and "(after Nms ...)" tail."""
    text = re.sub(r"^(\[[^]]*\]:?\s*)*", "", text.strip())  # log lines start with [thrd:...]:
    text = re.sub(r"^[a-z_]+://[^ ]+/(bootstrap|\d+): ", "", text)
    text = re.sub(r"^\S+:\d+/(bootstrap|\d+): ", "", text)
    return re.sub(r"\s*\(after \d+ms in state [A-Z_]+\)(: \d+ identical error\(s\) suppressed)?$", "", text).strip()


def classify(events: list[tuple[str, str]], settings: Settings, address: str) -> ClientSecurityError | None:
    """An authentication or TLS failure among librdkafka's reports, as one error naming the setting to fix."""
    security = settings.client_security
    mechanism = security.get("sasl.mechanism", "")
    user = security.get("sasl.username")
    for code, text in events:
        reason = _reason(text)
        low = reason.lower()
        if "not valid in current sasl state" in low or re.search(r"supported mechanisms:\s*(\(|$)", reason):
            protocol = security.get("security.protocol", "")
            return ClientSecurityError(
                f"SASL handshake failed at {address}: that listener does not speak SASL, but KAFKA_SECURITY_PROTOCOL={protocol} does",
                hint="set KAFKA_SECURITY_PROTOCOL to the listener's protocol (PLAINTEXT or SSL), or point KAFKA_BROKER at the SASL listener",
                runbook=_RB_SECURITY,
            )
        if "unsupported sasl mechanism" in low or "mechanism handshake failed" in low:
            supported = re.search(r"supported mechanisms: ([A-Z0-9_, -]+)", reason)
            return ClientSecurityError(
                f"SASL authentication failed at {address}: the broker does not accept mechanism {mechanism or '(none)'}"
                + (f" (it accepts {supported.group(1).strip()})" if supported else ""),
                hint="set KAFKA_SASL_MECHANISM to one the broker accepts",
                runbook=_RB_SECURITY,
            )
        if code in ("_AUTHENTICATION", "SASL_AUTHENTICATION_FAILED") or "sasl authentication error" in low:
            who = f"user {user}" if user else "the client (KAFKA_SASL_USERNAME is not set)"
            password, username = setting_name(settings, "sasl.password"), setting_name(settings, "sasl.username")
            return ClientSecurityError(
                f"SASL authentication failed at {address}: the broker rejected {who} ({mechanism or 'no mechanism'}); check {password} and {username}",
                hint=f"set the user's password in {password}; kafkaops never prints it",
                details=[f"broker: {reason}"],
                runbook=_RB_SECURITY,
            )
        found = _tls_certificate(settings, address, low, reason)
        if found is not None:
            return found
        if "certificate verify failed" in low:
            ca = security.get("ssl.ca.location")
            where = f"{setting_is(settings, 'ssl.ca.location')} does not" if ca else "the system's CA certificates do not (KAFKA_SSL_CA_LOCATION is not set)"
            return ClientSecurityError(
                f"TLS certificate verification failed at {address}: {where} hold the CA that signed the broker's certificate",
                hint=f"set {setting_name(settings, 'ssl.ca.location')} to the CA certificate (PEM) of the cluster",
                details=[f"TLS: {reason}"],
                runbook=_RB_SECURITY,
            )
        if "connecting to a plaintext broker listener" in low:
            protocol = security.get("security.protocol", "PLAINTEXT")
            return ClientSecurityError(
                f"TLS handshake failed at {address}: KAFKA_SECURITY_PROTOCOL={protocol} speaks TLS, but that listener is PLAINTEXT",
                hint="set KAFKA_SECURITY_PROTOCOL to the listener's protocol (PLAINTEXT or SASL_PLAINTEXT), or point KAFKA_BROKER at the TLS listener",
                runbook=_RB_SECURITY,
            )
        if code == "_SSL" or "ssl handshake failed" in low:
            return ClientSecurityError(
                f"TLS handshake failed at {address}: {reason}",
                hint="check KAFKA_SSL_CA_LOCATION, KAFKA_SSL_CERTIFICATE_LOCATION and KAFKA_SSL_KEY_LOCATION against the cluster's TLS setup",
                runbook=_RB_SECURITY,
            )
    return None


def _tls_certificate(settings: Settings, address: str, low: str, reason: str) -> ClientSecurityError | None:
    """An expired certificate (the broker's, or the client's that the broker refused), or a client certificate it does not trust."""
    cert = setting_is(settings, "ssl.certificate.location") if settings.client_security.get("ssl.certificate.location") else None
    why = _server_verify_message(settings, address) if "certificate verify failed" in low else ""
    if "certificate verify failed" in low and ("expired" in low or "expired" in why):
        return ClientSecurityError(
            f"TLS certificate verification failed at {address}: the broker's certificate has expired",
            hint="the cluster's operators must renew the broker's certificate (no client setting fixes an expired server certificate)",
            details=[f"TLS: {reason}"],
            runbook=_RB_SECURITY,
        )
    if "alert certificate expired" in low or ("alert" in low and "expired" in low):
        return ClientSecurityError(
            f"TLS handshake failed at {address}: the broker refused the client certificate because it has expired ({cert or 'no client certificate is set'})",
            hint=f"renew the client certificate and point {setting_name(settings, 'ssl.certificate.location')} at the new one",
            details=[f"TLS: {reason}"],
            runbook=_RB_SECURITY,
        )
    if any(f"alert {what}" in low for what in ("unknown ca", "bad certificate", "certificate required", "certificate unknown")):
        what = f"does not trust the client certificate {cert}" if cert else "wants a client certificate (mutual TLS) and none is set"
        return ClientSecurityError(
            f"TLS handshake failed at {address}: the broker {what}",
            hint=f"set {setting_name(settings, 'ssl.certificate.location')} and {setting_name(settings, 'ssl.key.location')} "
            "to a certificate signed by a CA the broker trusts, and its key",
            details=[f"TLS: {reason}"],
            runbook=_RB_SECURITY,
        )
    return None


def _server_verify_message(settings: Settings, address: str) -> str:
    """Why the broker's certificate fails verification against the client's CA, as OpenSSL says it ("certificate
    has expired", "self-signed certificate in certificate chain"...): librdkafka's own error only says "verify failed".

    One TLS handshake of its own (2 s at most), made only after librdkafka's failed; "" when it cannot tell.
    """
    import socket
    import ssl

    host, _, port = address.split(",")[0].strip().rpartition(":")
    if not port.isdigit():
        return ""
    try:
        context = ssl.create_default_context(cafile=settings.client_security.get("ssl.ca.location") or None)
        context.check_hostname = False  # the certificate's dates and chain, not its name
        with socket.create_connection((host.strip("[]") or "localhost", int(port)), timeout=2) as sock, context.wrap_socket(sock):
            return ""
    except ssl.SSLCertVerificationError as exc:
        return str(exc.verify_message or "")
    except (OSError, ValueError):
        return ""


def _handshake_closed(events: list[tuple[str, str]]) -> bool:
    """The broker closed connections before the first answer: a TLS or SASL listener spoken to in PLAINTEXT."""
    return any("state APIVERSION_QUERY" in text and "Disconnected" in text for _code, text in events)


def _certificate_dates(path: Path) -> tuple[float, float] | None:
    """(not before, not after) of a PEM certificate as epoch seconds; None when it cannot be read here.

    CPython's ssl module decodes a certificate file only through a private helper; without it (or for a
    file it cannot read) the check is skipped and the broker's answer decides.
    """
    import ssl

    decode = getattr(getattr(ssl, "_ssl", None), "_test_decode_cert", None)
    if decode is None:
        return None
    try:
        cert = decode(str(path))
        return ssl.cert_time_to_seconds(cert["notBefore"]), ssl.cert_time_to_seconds(cert["notAfter"])
    except (OSError, ValueError, KeyError, ssl.SSLError):
        return None


def _check_client_certificate(settings: Settings) -> None:
    """A client certificate that has expired (or is not valid yet) fails before any connection, naming the setting.

    A broker refuses such a certificate with the same TLS alert as an untrusted one ("certificate unknown"),
    so only the client can say which it is.
    """
    import time

    value = settings.client_security.get("ssl.certificate.location")
    dates = _certificate_dates(Path(value).expanduser()) if value else None
    if dates is None:
        return
    now, (start, end) = time.time(), dates
    if now > end or now < start:
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(end if now > end else start))
        state = f"expired on {when}" if now > end else f"is not valid before {when}"
        raise ClientSecurityError(
            f"{setting_is(settings, 'ssl.certificate.location')}: the client certificate {state}",
            hint=f"renew the client certificate (the cluster's CA signs a new one) and point {setting_name(settings, 'ssl.certificate.location')} at it",
            runbook=_RB_SECURITY,
        )


def _check_files(settings: Settings) -> None:
    for prop in ("ssl.ca.location", "ssl.certificate.location", "ssl.key.location", "ssl.keystore.location"):
        value = settings.client_security.get(prop)
        if value and not Path(value).expanduser().is_file():
            raise ClientSecurityError(
                f"{setting_is(settings, prop)}: no such file",
                hint=f"give the path of an existing PEM file, or unset {setting_name(settings, prop)}",
                runbook=_RB_SECURITY,
            )
    _check_client_certificate(settings)


def config_error(exc: BaseException, settings: Settings) -> ClientSecurityError:
    """librdkafka refused the configuration: one readable line that names the setting."""
    err = exc.args[0] if exc.args else None
    text = err.str() if err is not None and hasattr(err, "str") else str(exc)
    text = re.sub(r"^Failed to create (admin client|producer|consumer): ", "", text)
    for key, secret in settings.client_security.items():
        if secret and (key in _SECRET_PROPERTIES or is_secret_key(key)):
            text = text.replace(secret, "****")
    bad = re.search(r'(?:Invalid|Unsupported) value "([^"]*)" for configuration property "([^"]+)"', text)
    if bad:
        value, prop = bad.groups()
        var = setting_name(settings, prop)
        shown = "****" if prop in _SECRET_PROPERTIES or is_secret_key(prop) else repr(value)
        hint = f"use one of {', '.join(_PROTOCOLS)}" if prop == "security.protocol" else f"fix {var}"
        return ClientSecurityError(f"{var}={shown} is not a valid value", hint=hint, runbook=_RB_SECURITY)
    unknown = re.search(r"No such configuration property: \"([^\"]+)\"", text)
    if unknown:
        return ClientSecurityError(
            f"{setting_name(settings, unknown.group(1))}: librdkafka has no such setting",
            hint="see librdkafka's CONFIGURATION.md for the names (Java-only keys have none)",
            runbook=_RB_SECURITY,
        )
    failed = re.match(r"(ssl\.[a-z.]+) failed: (.*)", text)
    if failed and failed.group(1) in settings.client_security:
        var = setting_name(settings, failed.group(1))
        return ClientSecurityError(
            f"{setting_is(settings, failed.group(1))} cannot be used: not a readable PEM file ({failed.group(2)})",
            hint=f"give {var} a PEM file (a CA certificate, client certificate or key as its name says)",
            runbook=_RB_SECURITY,
        )
    mech = re.search(r"(?:Unsupported SASL mechanism|No provider for SASL mechanism):? (\S+?):?(?:\s|$)", text)
    if mech:
        named = setting_is(settings, "sasl.mechanism") if settings.client_security.get("sasl.mechanism") else f"KAFKA_SASL_MECHANISM={mech.group(1)}"
        return ClientSecurityError(
            f"{named} is not supported",
            hint="use PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER",
            runbook=_RB_SECURITY,
        )
    return ClientSecurityError(
        f"invalid Kafka client settings: {text}", hint="check the KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_* and KAFKA_SSL_* settings", runbook=_RB_SECURITY
    )
