"""kafkaops install --with connect: the Connect runtime and Debezium's PostgreSQL plugin, from Maven Central.

Layout under the Connect home (KAFKAOPS_CONNECT_HOME, default KAFKAOPS_HOME/connect/<Kafka version>)::

    libs/                                    the distributed worker's classpath (connect-runtime, its
                                             JSON converter, the stock transforms, and the logging
                                             backend of that Kafka line: reload4j for 3.x, log4j2 for 4.x)
    plugins/debezium-connector-postgres/     one plugin.path entry: Debezium and its own dependencies,
                                             without the Kafka and SLF4J jars the runtime provides
    kafkaops-connect.json                    the marker: written last, so a half-done install is redone

Each part is resolved in a temporary folder beside the target and renamed into place when complete.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from kafkaops.errors import KafkaopsError
from kafkaops.procedures.install import Progress, check_version, logging_deps, run_maven

MARKER = "kafkaops-connect.json"
DEBEZIUM = "3.6.1.Final"
PLUGIN = "debezium-connector-postgres"
# The runtime provides these to every plugin (Connect loads org.apache.kafka and SLF4J classes from its own
# classpath, never a plugin's): a second copy in the plugin folder is dead weight at best. Debezium 3.6.1 is
# built against Kafka 4.3.0 (version.kafka in debezium-build-parent): its connect-api 4.3.0 brings the same
# six artifacts, whichever Connect line (3.9 or 4.x) runs it; lz4-java is matched by artifactId, which the
# 4.x line kept when it moved to the at.yawk.lz4 group.
PROVIDED = ("connect-api", "kafka-clients", "slf4j-api", "lz4-java", "snappy-java", "zstd-jni")


@dataclass(frozen=True)
class ConnectInstall:
    home: Path
    kafka_version: str
    debezium_version: str
    runtime_jars: int
    plugin_jars: int
    already_installed: bool

    @property
    def plugin_path(self) -> Path:
        return self.home / "plugins"


def _pom(artifact: str, deps: list[tuple[str, str, str]]) -> str:
    body = "".join(f"    <dependency><groupId>{g}</groupId><artifactId>{a}</artifactId><version>{v}</version></dependency>\n" for g, a, v in deps)
    return (
        '<project xmlns="http://maven.apache.org/POM/4.0.0">\n  <modelVersion>4.0.0</modelVersion>\n'
        f"  <groupId>kafkaops.install</groupId><artifactId>{artifact}</artifactId><version>1</version><packaging>pom</packaging>\n"
        f"  <dependencies>\n{body}  </dependencies>\n</project>\n"
    )


def runtime_pom(kafka_version: str) -> str:
    """The worker's classpath for ``kafka_version``: the Connect artifacts of that release and its line's logging backend."""
    check_version(kafka_version)
    return _pom(
        "connect-runtime",
        [
            *logging_deps(kafka_version),  # no logging backend in the POMs: the worker would be silent
            ("org.apache.kafka", "connect-runtime", kafka_version),  # ConnectDistributed, the REST server
            ("org.apache.kafka", "connect-json", kafka_version),  # JsonConverter
            ("org.apache.kafka", "connect-transforms", kafka_version),  # RegexRouter and the other stock SMTs
        ],
    )


def plugin_pom() -> str:
    return _pom("debezium-postgres", [("io.debezium", PLUGIN, DEBEZIUM)])


def read_marker(home: Path) -> dict[str, object] | None:
    try:
        data = json.loads((home / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def install_connect(home: Path, kafka_version: str, *, force: bool = False, progress: Progress = lambda _m: None, mvn: str = "mvn") -> ConnectInstall:
    """Lay out the Connect runtime for ``kafka_version`` and the Debezium PostgreSQL plugin under ``home``."""
    marker = read_marker(home)
    if marker and not force:
        if marker.get("kafka_version") != kafka_version:
            raise KafkaopsError(
                f"{home} holds Connect for Kafka {marker.get('kafka_version')}, not {kafka_version}",
                hint="set KAFKAOPS_CONNECT_HOME to another folder, or run install --with connect --force to replace it",
            )
        return ConnectInstall(home, kafka_version, str(marker.get("debezium")), _count(home / "libs"), _count(home / "plugins" / PLUGIN), True)
    runtime_pom(kafka_version)  # refuses a version it cannot serve before anything is downloaded
    home.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".install-connect-", dir=home.parent))
    try:
        staged = work / "connect"
        run_maven(runtime_pom(kafka_version), staged / "libs", work / "runtime", progress, f"Kafka Connect {kafka_version}", mvn=mvn)
        if not (staged / "libs" / f"connect-runtime-{kafka_version}.jar").is_file():
            raise KafkaopsError(f"Maven finished but connect-runtime-{kafka_version}.jar is missing")
        plugin = staged / "plugins" / PLUGIN
        extra = (f"-DexcludeArtifactIds={','.join(PROVIDED)}",)
        run_maven(plugin_pom(), plugin, work / "plugin", progress, f"Debezium PostgreSQL connector {DEBEZIUM}", mvn=mvn, extra=extra)
        if not (plugin / f"{PLUGIN}-{DEBEZIUM}.jar").is_file():
            raise KafkaopsError(f"Maven finished but {PLUGIN}-{DEBEZIUM}.jar is missing")
        result = ConnectInstall(home, kafka_version, DEBEZIUM, _count(staged / "libs"), _count(plugin), False)
        info = {"kafka_version": kafka_version, "debezium": DEBEZIUM, "runtime_jars": result.runtime_jars, "plugin_jars": result.plugin_jars}
        (staged / MARKER).write_text(json.dumps(info, indent=2), encoding="utf-8")
        if home.exists():
            shutil.rmtree(home)
        staged.rename(home)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return result


def _count(folder: Path) -> int:
    return len(list(folder.glob("*.jar")))


def require_connect(home: Path) -> dict[str, object]:
    """The marker of a complete Connect install at ``home``, or the error that says how to get one."""
    marker = read_marker(home)
    if marker is None:
        raise KafkaopsError(f"Kafka Connect is not installed in {home}", hint="run: kafkaops install --with connect")
    return marker
