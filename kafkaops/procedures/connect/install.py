"""kafkaops install --with connect: the Connect runtime and Debezium's PostgreSQL plugin, from Maven Central.

Layout under the Connect home (KAFKAOPS_CONNECT_HOME, default KAFKAOPS_HOME/connect/<Kafka version>)::

    libs/                                    the distributed worker's classpath (connect-runtime, its
                                             JSON converter, the stock transforms, and the logging
                                             backend of that Kafka line: reload4j for 3.x, log4j2 for 4.x)
    plugins/debezium-connector-postgres/     one plugin.path entry: Debezium and its own dependencies,
                                             without the Kafka and SLF4J jars the runtime provides
    kafkaops-connect.json                    the marker: written last, so a half-done install is redone

The runtime is the stack's own Kafka release, except on a line newer than the one Debezium is built against
(DEBEZIUM_KAFKA), which gets that one: Debezium 3.6.1 does not run on Connect 4.4. Each part is resolved in a
temporary folder beside the target and renamed into place when complete.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from kafkaops.errors import KafkaopsError
from kafkaops.procedures.install import Progress, check_version, logging_deps, run_maven, version_mode

MARKER = "kafkaops-connect.json"
DEBEZIUM = "3.6.1.Final"
PLUGIN = "debezium-connector-postgres"
# The Kafka release Debezium 3.6.1.Final is built against (version.kafka in io.debezium:debezium-build-parent).
# Kafka 4.4.0 moved org.apache.kafka.common.utils.Sanitizer to ...common.utils.internals (KAFKA-20297), which
# Debezium 3.6.1's metrics still load: on a 4.4 runtime its task dies at once with NoClassDefFoundError
# (fixed after 3.6.1: debezium/debezium#7951). So a stack on a newer line than this gets this Connect runtime:
# Connect is a Kafka client, and a 4.3 worker talks to a 4.4 broker like any other client.
DEBEZIUM_KAFKA = "4.3.0"
# The runtime provides these to every plugin (Connect loads org.apache.kafka and SLF4J classes from its own
# classpath, never a plugin's): a second copy in the plugin folder is dead weight at best. Debezium's
# connect-api 4.3.0 brings the same six artifacts whichever Connect line (3.9 or 4.x) runs it; lz4-java is
# matched by artifactId, which the 4.x line kept when it moved to the at.yawk.lz4 group.
PROVIDED = ("connect-api", "kafka-clients", "slf4j-api", "lz4-java", "snappy-java", "zstd-jni")


@dataclass(frozen=True)
class ConnectInstall:
    home: Path
    kafka_version: str  # the stack's Kafka version this home was installed for
    debezium_version: str
    runtime_jars: int
    plugin_jars: int
    already_installed: bool
    connect_version: str = ""  # the Connect runtime's own release (connect_version(kafka_version))

    @property
    def plugin_path(self) -> Path:
        return self.home / "plugins"


def connect_version(kafka_version: str) -> str:
    """The Connect runtime installed for a stack of ``kafka_version``: that release, or DEBEZIUM_KAFKA for a newer line."""
    check_version(kafka_version)

    def line(version: str) -> tuple[int, int]:
        major, minor = version.split(".")[:2]
        return int(major), int(minor)

    return DEBEZIUM_KAFKA if line(kafka_version) > line(DEBEZIUM_KAFKA) else kafka_version


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


def yaml_pom(libs: Path) -> str:
    """jackson-dataformat-yaml at the Jackson version of the runtime resolved into ``libs``.

    A 4.x worker reads kafkaops's log4j2.yaml (the broker's config, one file for both) through it; the broker has
    it from kafka_2.13, Connect's POMs do not, and without it log4j2 parses the YAML as XML, fails, and the worker
    writes no log. The runtime's own version, so the module never disagrees with the jackson-databind beside it.
    """
    found = [j.name[len("jackson-databind-") : -len(".jar")] for j in libs.glob("jackson-databind-*.jar")]
    if len(found) != 1:
        raise KafkaopsError(f"expected one jackson-databind jar in {libs}, found {len(found)}")
    return _pom("log4j2-yaml", [("com.fasterxml.jackson.dataformat", "jackson-dataformat-yaml", found[0])])


def plugin_pom() -> str:
    return _pom("debezium-postgres", [("io.debezium", PLUGIN, DEBEZIUM)])


def read_marker(home: Path) -> dict[str, object] | None:
    try:
        data = json.loads((home / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def install_connect(home: Path, kafka_version: str, *, force: bool = False, progress: Progress = lambda _m: None, mvn: str = "mvn") -> ConnectInstall:
    """Lay out the Connect runtime for a stack of ``kafka_version`` and the Debezium PostgreSQL plugin under ``home``."""
    runtime = connect_version(kafka_version)  # refuses a version it cannot serve before anything is downloaded
    marker = read_marker(home)
    if marker and not force:
        if marker.get("kafka_version") != kafka_version:
            raise KafkaopsError(
                f"{home} holds Connect for Kafka {marker.get('kafka_version')}, not {kafka_version}",
                hint="set KAFKAOPS_CONNECT_HOME to another folder, or run install --with connect --force to replace it",
            )
        jars = (_count(home / "libs"), _count(home / "plugins" / PLUGIN))
        return ConnectInstall(home, kafka_version, str(marker.get("debezium")), *jars, True, str(marker.get("connect_version") or kafka_version))
    home.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".install-connect-", dir=home.parent))
    try:
        staged = work / "connect"
        _resolve(staged, work, runtime, progress, mvn)
        result = ConnectInstall(home, kafka_version, DEBEZIUM, _count(staged / "libs"), _count(staged / "plugins" / PLUGIN), False, runtime)
        info: dict[str, object] = {"kafka_version": kafka_version, "connect_version": runtime, "debezium": DEBEZIUM}
        info |= {"runtime_jars": result.runtime_jars, "plugin_jars": result.plugin_jars}
        (staged / MARKER).write_text(json.dumps(info, indent=2), encoding="utf-8")
        if home.exists():
            shutil.rmtree(home)
        staged.rename(home)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return result


def _resolve(staged: Path, work: Path, runtime: str, progress: Progress, mvn: str) -> None:
    """The Connect ``runtime`` into staged/libs, Debezium into staged/plugins/<plugin>, each checked."""
    run_maven(runtime_pom(runtime), staged / "libs", work / "runtime", progress, f"Kafka Connect {runtime}", mvn=mvn)
    if not (staged / "libs" / f"connect-runtime-{runtime}.jar").is_file():
        raise KafkaopsError(f"Maven finished but connect-runtime-{runtime}.jar is missing")
    if version_mode(runtime) == "kraft":
        run_maven(yaml_pom(staged / "libs"), staged / "libs", work / "yaml", progress, "log4j2's YAML support", mvn=mvn)
    plugin = staged / "plugins" / PLUGIN
    extra = (f"-DexcludeArtifactIds={','.join(PROVIDED)}",)
    run_maven(plugin_pom(), plugin, work / "plugin", progress, f"Debezium PostgreSQL connector {DEBEZIUM}", mvn=mvn, extra=extra)
    if not (plugin / f"{PLUGIN}-{DEBEZIUM}.jar").is_file():
        raise KafkaopsError(f"Maven finished but {PLUGIN}-{DEBEZIUM}.jar is missing")


def _count(folder: Path) -> int:
    return len(list(folder.glob("*.jar")))


def require_connect(home: Path) -> dict[str, object]:
    """The marker of a complete Connect install at ``home``, or the error that says how to get one."""
    marker = read_marker(home)
    if marker is None:
        raise KafkaopsError(f"Kafka Connect is not installed in {home}", hint="run: kafkaops install --with connect")
    return marker
