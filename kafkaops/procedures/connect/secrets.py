"""The database password out of the connector's config: Kafka's FileConfigProvider.

Connect's REST API shows a connector's config to anyone who can reach it (GET /connectors/NAME/config), and
keeps it in the config topic. So for the workers kafkaops starts, the worker properties name a config
provider (``config.providers=file``, org.apache.kafka.common.config.provider.FileConfigProvider, allowed to
read KAFKAOPS_HOME/secrets only), kafkaops writes the password to KAFKAOPS_HOME/secrets/<connector>.properties
(mode 0600), and the connector's ``database.password`` is the reference ``${file:<that file>:database.password}``,
which the worker resolves when it validates and starts the connector. REST, the config topic and the task
configs show the reference, never the password.

Where that cannot work, the password goes into the connector's config as before, and the caller gets a
warning that says why and what to do: a remote Connect cluster (KAFKA_CONNECT_URL: its workers read their own
disks, and their config providers are theirs to choose), local workers started before kafkaops configured the
provider (restart them), or a path Connect's ``${provider:path:key}`` syntax cannot hold (a ``:`` or ``}`` in it,
as in a Windows drive letter).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from kafkaops.adapters.javaprops import write_properties
from kafkaops.settings import Settings

PROVIDER = "file"
PROVIDER_CLASS = "org.apache.kafka.common.config.provider.FileConfigProvider"
KEY = "database.password"


def secrets_dir(settings: Settings) -> Path:
    return (settings.kafkaops_home / "secrets").resolve()


def worker_properties(settings: Settings) -> dict[str, str]:
    """The worker properties that let connectors refer to files in the secrets folder (and to no other file)."""
    return {
        "config.providers": PROVIDER,
        f"config.providers.{PROVIDER}.class": PROVIDER_CLASS,
        f"config.providers.{PROVIDER}.param.allowed.paths": str(secrets_dir(settings)),  # KIP-993 (Kafka 3.8+)
    }


def ensure_secrets_dir(settings: Settings) -> Path:
    """The secrets folder, owner-only; it must exist before a worker starts (FileConfigProvider checks allowed.paths)."""
    folder = secrets_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    return folder


def provider_ready(props: dict[str, str]) -> bool:
    """Whether a worker's properties resolve ``${file:...}`` references in the secrets folder."""
    return (
        PROVIDER in [p.strip() for p in (props.get("config.providers") or "").split(",")] and props.get(f"config.providers.{PROVIDER}.class") == PROVIDER_CLASS
    )


def secret_path(settings: Settings, connector: str) -> Path:
    return secrets_dir(settings) / f"{connector}.properties"


def password_value(settings: Settings, connector: str, password: str, *, provider_ready: bool, warn: Callable[[str], None]) -> str:
    """What the connector's ``database.password`` holds: a reference to a 0600 file when the workers resolve it,
    else the password itself (and ``warn`` says why)."""
    if not password:
        return password  # nothing to hide (trust or peer authentication)
    if settings.connect_url:
        warn(
            f"the database password goes into the connector's config on the remote Connect cluster ({settings.connect_url}): "
            "GET /connectors/NAME/config shows it there. Configure a config provider on its workers and a DATABASE_URL user for Debezium only"
        )
        return password
    if not provider_ready:
        warn(
            "the running Connect workers were started without a config provider, so the database password goes into the connector's config "
            "(GET /connectors/NAME/config shows it): restart them (kafkaops connect down && kafkaops connect up) before deploying"
        )
        return password
    path = secret_path(settings, connector)
    if ":" in str(path) or "}" in str(path):
        warn(f"{path} cannot be written in Connect's ${{file:PATH:KEY}} syntax (a ':' or '}}' in it): the password goes into the connector's config")
        return password
    write_properties(path, {KEY: password}, "the database password of a Kafka Connect connector (kafkaops cdc deploy)", private=True)
    return f"${{{PROVIDER}:{path}:{KEY}}}"


def remove_secret(settings: Settings, connector: str) -> bool:
    path = secret_path(settings, connector)
    if not path.is_file():
        return False
    path.unlink()
    return True
