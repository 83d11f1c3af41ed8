"""Finding Java and its version."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from kafkaops.errors import KafkaopsError

MIN_JAVA = 11  # Kafka 3.9 brokers run on Java 11 and newer (8 is deprecated); 17 recommended

_VERSION = re.compile(r'version "(\d+)(?:\.(\d+))?[^"]*"')


@dataclass(frozen=True)
class JavaInfo:
    path: str
    major: int
    version_line: str


def parse_java_version(text: str) -> int | None:
    """The major version from ``java -version`` output (``"1.8.0_292"`` is 8, ``"17.0.15"`` is 17)."""
    m = _VERSION.search(text)
    if not m:
        return None
    major = int(m.group(1))
    if major == 1 and m.group(2):
        return int(m.group(2))
    return major


_versions: dict[tuple[str, int, int], tuple[int | None, str]] = {}  # (path, size, mtime) -> this process's `java -version`


def find_java(java: str, cache: Path | None = None) -> JavaInfo:
    """The java to run and its version; ``cache`` (a JSON file) keeps `java -version` between runs, per binary."""
    path = shutil.which(java)
    if path is None:
        raise KafkaopsError(
            "Java was not found",
            hint=f"install Java {MIN_JAVA}+ (17 recommended), or set JAVA_HOME or KAFKAOPS_JAVA",
            runbook="failures java-missing",
        )
    major, text = _java_version(path, cache)
    if major is None:
        raise KafkaopsError(f"cannot tell the Java version of {path}", hint="check JAVA_HOME / KAFKAOPS_JAVA")
    if major < MIN_JAVA:
        raise KafkaopsError(
            f"Java {major} at {path} is too old: Kafka needs Java {MIN_JAVA} or newer",
            hint="install Java 17 and set JAVA_HOME (or KAFKAOPS_JAVA)",
            runbook="failures java-missing",
        )
    return JavaInfo(path=path, major=major, version_line=text.strip().splitlines()[0] if text.strip() else "")


def _java_version(path: str, cache: Path | None = None) -> tuple[int | None, str]:
    """``java -version`` of ``path``, run once per process for one binary (`up` asks again for the CDS key),
    and once per binary at all with a ``cache`` file: its entry is keyed by the real file, its size and mtime."""
    try:
        st = os.stat(path)
        key: tuple[str, int, int] | None = (os.path.realpath(path), st.st_size, st.st_mtime_ns)
    except OSError:
        key = None
    if key is not None and key in _versions:
        return _versions[key]
    stored = _read_cache(cache, key)
    if stored is not None and key is not None:
        _versions[key] = stored
        return stored
    try:
        proc = subprocess.run([path, "-version"], capture_output=True, text=True, timeout=30, check=False)  # noqa: S603
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise KafkaopsError(f"cannot run {path} -version: {exc}", hint="check JAVA_HOME / KAFKAOPS_JAVA") from None
    text = proc.stderr + proc.stdout
    result = (parse_java_version(text), text)
    if key is not None and result[0] is not None:
        _versions[key] = result
        _write_cache(cache, key, text)
    return result


def _read_cache(cache: Path | None, key: tuple[str, int, int] | None) -> tuple[int | None, str] | None:
    if cache is None or key is None:
        return None
    try:
        entry = json.loads(cache.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(entry, dict) or entry.get("key") != list(key) or not isinstance(entry.get("text"), str):
        return None
    major = parse_java_version(entry["text"])
    return (major, entry["text"]) if major is not None else None


def _write_cache(cache: Path | None, key: tuple[str, int, int], text: str) -> None:
    if cache is None:
        return
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(f"{cache.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"key": list(key), "text": text}), encoding="utf-8")
        tmp.replace(cache)
    except OSError:
        pass
