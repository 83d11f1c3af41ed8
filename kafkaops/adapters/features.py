"""Kafka's finalized features (``metadata.version`` and friends) through Kafka's own FeatureCommand.

The Python client (confluent-kafka 2.x over librdkafka) has no DescribeFeatures/UpdateFeatures call
(``AdminClient`` has no feature method at all), so this module runs the JVM tool that
``kafka-features.sh`` runs, ``org.apache.kafka.tools.FeatureCommand`` from the kafka-tools jar of an
installation, under a timeout. It answers in about a second here (a small heap, C1 only).

Output parsed (3.9 and 4.x print the same fields, 4.x pads them into columns):
``Feature: metadata.version  SupportedMinVersion: 3.3-IV3  SupportedMaxVersion: 4.4-IV2  FinalizedVersionLevel: 3.9-IV0  Epoch: 36``
and ``version-mapping``'s ``metadata.version=33 (4.4-IV2)``.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

MAIN_CLASS = "org.apache.kafka.tools.FeatureCommand"


class FeatureError(Exception):
    """The tool could not be run, timed out, or failed; the message carries its last line."""


@dataclass(frozen=True)
class Feature:
    name: str
    supported_min: str
    supported_max: str
    finalized: str | None  # None: not finalized (level 0 of a numeric feature is printed as 0)
    epoch: int | None


_FIELD = re.compile(r"(\w+):\s*(\S+)")


def parse_describe(text: str) -> dict[str, Feature]:
    """``kafka-features describe`` output as {feature name: Feature}."""
    features: dict[str, Feature] = {}
    for line in text.splitlines():
        fields = dict(_FIELD.findall(line))
        name = fields.get("Feature")
        if not name:
            continue
        epoch = fields.get("Epoch")
        features[name] = Feature(
            name,
            fields.get("SupportedMinVersion", ""),
            fields.get("SupportedMaxVersion", ""),
            fields.get("FinalizedVersionLevel"),
            int(epoch) if epoch and epoch.lstrip("-").isdigit() else None,
        )
    return features


_MAPPING = re.compile(r"^metadata\.version=(\d+)\s+\(([^)]+)\)", re.MULTILINE)


def parse_metadata_mapping(text: str) -> tuple[int, str]:
    """``version-mapping``'s metadata.version line: (level, name), e.g. (33, "4.4-IV2")."""
    m = _MAPPING.search(text)
    if m is None:
        raise FeatureError(f"unexpected kafka-features version-mapping output: {text.strip()[:200]}")
    return int(m.group(1)), m.group(2)


@dataclass(frozen=True)
class FeatureTool:
    """How to run FeatureCommand: the java, the installation whose libs/ hold kafka-tools, the cluster."""

    java: str
    kafka_home: Path
    bootstrap: str
    client_config: dict[str, str]
    timeout: float = 60.0

    def command(self, *args: str, config: Path | None = None) -> list[str]:
        cmd = [self.java, "-Xmx128m", "-XX:TieredStopAtLevel=1", "-cp", str(self.kafka_home / "libs" / "*"), MAIN_CLASS]
        cmd += ["--bootstrap-server", self.bootstrap]
        if config is not None:
            cmd += ["--command-config", str(config)]
        return [*cmd, *args]

    def run(self, *args: str) -> str:
        if not any((self.kafka_home / "libs").glob("kafka-tools-*.jar")):
            raise FeatureError(f"{self.kafka_home} has no kafka-tools jar ({MAIN_CLASS})")
        with tempfile.TemporaryDirectory(prefix="kafkaops-features-") as tmp:
            conf = Path(tmp) / "client.properties"  # the client's secrets go to a 0600 file, never the command line
            conf.write_text("".join(f"{k}={v}\n" for k, v in self.client_config.items()), encoding="utf-8")
            os.chmod(conf, 0o600)
            try:
                proc = subprocess.run(self.command(*args, config=conf), capture_output=True, text=True, timeout=self.timeout, stdin=subprocess.DEVNULL)  # noqa: S603
            except subprocess.TimeoutExpired as exc:
                raise FeatureError(f"kafka-features {args[0]} did not answer within {self.timeout:g}s") from exc
            except OSError as exc:
                raise FeatureError(f"kafka-features could not be run: {exc}") from exc
        if proc.returncode != 0:
            lines = [ln for ln in (proc.stderr + "\n" + proc.stdout).splitlines() if ln.strip() and not ln.startswith("log4j:")]
            raise FeatureError(f"kafka-features {args[0]} failed: {lines[-1][:300] if lines else f'exit code {proc.returncode}'}")
        return proc.stdout

    def describe(self) -> dict[str, Feature]:
        return parse_describe(self.run("describe"))

    def metadata_level(self, release: str | None = None) -> tuple[int, str]:
        """The metadata.version level of ``release`` (e.g. "4.4-IV2"); None: the newest stable this installation knows."""
        return parse_metadata_mapping(self.run("version-mapping", *(["--release-version", release] if release else [])))

    def upgrade_metadata(self, level: int) -> str:
        """Raise the finalized metadata.version to ``level`` (only that feature; the others are left as they are)."""
        return self.run("upgrade", "--feature", f"metadata.version={level}").strip()
