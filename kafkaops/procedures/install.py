"""kafkaops install: a real Apache Kafka laid out like the official distribution (libs/, config/).

Two sources. ``maven`` resolves the broker's runtime classpath from Maven Central with ``mvn`` (plus
the logging backend the kafka_2.13 POM leaves out, and the tools jar). ``apache`` downloads the
official ``kafka_2.13-<version>.tgz`` from a mirror and checks its published SHA-512 before unpacking.
Either way the result is built in a temporary folder beside the target and renamed into place only
when complete, so a failure never leaves a half-installed folder behind.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kafkaops.defaults import DEFAULT_MIRROR
from kafkaops.errors import KafkaopsError, UnreachableError, UsageError
from kafkaops.procedures.layout import write_kraft_configs, write_local_configs

MARKER = "kafkaops-install.json"
SCALA = "2.13"
SLF4J_RELOAD4J = "1.7.36"
RELOAD4J = "1.2.25"
# Kafka 4.x logs through log4j2. Its POM asks for slf4j-api 1.7.36, which log4j-slf4j2-impl does not
# bind to (SLF4J falls back to NOP: no log line at all), so the pom pins the SLF4J 2 API it needs (logging_deps).
SLF4J_API_2 = "2.0.17"
LOG4J2 = "2.25.3"

Progress = Callable[[str], None]


@dataclass(frozen=True)
class InstallResult:
    kafka_home: Path
    version: str
    source: str
    jars: int
    already_installed: bool
    mode: str = "zookeeper"


def version_mode(version: str) -> str:
    """The mode a Kafka version's install is configured for: 4.x runs only in KRaft mode, 3.x in ZooKeeper mode."""
    return "kraft" if int(version.split(".")[0]) >= 4 else "zookeeper"


def check_version(version: str) -> str:
    """Check a version kafkaops can install; return the mode its configs are written for."""
    if not re.fullmatch(r"\d+\.\d+\.\d+", version):
        raise UsageError(f"{version!r} is not a Kafka version (expected e.g. 3.9.2 or 4.4.0)")
    major = int(version.split(".")[0])
    if major < 3:
        raise UsageError(f"Kafka {version} is older than kafkaops supports", hint="use --version 3.9.2 (ZooKeeper mode) or 4.4.0 (KRaft)")
    if version in ("4.0.0",):  # never published on Maven Central: 4.0.1 is the first 4.x release there
        raise UsageError("Kafka 4.0.0 is not on Maven Central", hint="use 4.0.1 or newer, e.g. --version 4.4.0")
    return version_mode(version)


def installed_version(kafka_home: Path) -> dict[str, object] | None:
    marker = kafka_home / MARKER
    if not marker.is_file():
        return None
    try:
        return json.loads(marker.read_text(encoding="utf-8"))
    except ValueError:
        return None


def logging_deps(version: str) -> list[tuple[str, str, str]]:
    """The logging backend Kafka's POMs leave out (without one SLF4J falls back to NOP: not a single log line).

    4.x: log4j2, bound through the SLF4J 2 API (a direct dependency, so it wins over the 1.7.36 Kafka's POM asks
    for, which log4j-slf4j2-impl does not bind to). 3.x: reload4j. Used by the broker's install and Connect's.
    """
    if version_mode(version) == "kraft":
        return [
            ("org.slf4j", "slf4j-api", SLF4J_API_2),
            ("org.apache.logging.log4j", "log4j-slf4j2-impl", LOG4J2),
            ("org.apache.logging.log4j", "log4j-core", LOG4J2),
        ]
    return [("org.slf4j", "slf4j-reload4j", SLF4J_RELOAD4J), ("ch.qos.reload4j", "reload4j", RELOAD4J)]


def pom_xml(version: str) -> str:
    deps = [
        *logging_deps(version),
        ("org.apache.kafka", f"kafka_{SCALA}", version),
        ("org.apache.kafka", "kafka-tools", version),  # kafka-topics / console consumer / StorageTool main classes
    ]
    body = "".join(f"    <dependency><groupId>{g}</groupId><artifactId>{a}</artifactId><version>{v}</version></dependency>\n" for g, a, v in deps)
    return (
        '<project xmlns="http://maven.apache.org/POM/4.0.0">\n'
        "  <modelVersion>4.0.0</modelVersion>\n"
        "  <groupId>kafkaops.install</groupId><artifactId>kafka-runtime</artifactId>"
        f"<version>{version}</version><packaging>pom</packaging>\n"
        f"  <dependencies>\n{body}  </dependencies>\n</project>\n"
    )


_MVN_ARTIFACT = re.compile(r"Download(?:ing|ed) from \S+: \S+/([^/\s]+\.(?:jar|pom))")


def resolve_with_maven(version: str, libs: Path, work: Path, progress: Progress, mvn: str = "mvn") -> None:
    run_maven(pom_xml(version), libs, work, progress, f"Kafka {version}", mvn=mvn)
    if not any(libs.glob(f"kafka_{SCALA}-{version}.jar")):
        raise KafkaopsError(f"Maven finished but kafka_{SCALA}-{version}.jar is missing from {libs}")


def run_maven(pom: str, libs: Path, work: Path, progress: Progress, what: str, *, mvn: str = "mvn", extra: tuple[str, ...] = ()) -> None:
    """Copy the runtime classpath of the dependencies in ``pom`` into ``libs`` with mvn (``what`` names them in messages)."""
    exe = shutil.which(mvn)
    if exe is None:
        raise KafkaopsError(
            "Maven (mvn) was not found: the maven source needs it",
            hint="install Maven 3 (e.g. `apt-get install maven`), or use --source apache",
        )
    work.mkdir(parents=True, exist_ok=True)
    (work / "pom.xml").write_text(pom, encoding="utf-8")
    cmd = [
        exe,
        "-B",
        "-f",
        str(work / "pom.xml"),
        "org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={libs}",
        *extra,
    ]
    progress(f"resolving {what} from Maven Central")
    tail: list[str] = []
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=work)  # noqa: S603
    assert proc.stdout is not None
    for line in proc.stdout:
        line = line.rstrip()
        tail = (tail + [line])[-40:]
        m = _MVN_ARTIFACT.search(line)
        if m:
            progress(f"downloading {m.group(1)}")
    code = proc.wait()
    if code != 0:
        errors = [ln.replace("[ERROR] ", "") for ln in tail if ln.startswith("[ERROR]") and ln.strip() != "[ERROR]"]
        first = errors[0] if errors else f"mvn exited with {code}"
        if any("Could not transfer" in e or "Could not resolve" in e or "UnknownHost" in e for e in errors):
            raise UnreachableError(
                f"Maven could not download {what}: {first[:300]}",
                hint="check the network connection to Maven Central (and any proxy in ~/.m2/settings.xml), then run install again",
            )
        raise KafkaopsError(f"Maven failed to resolve {what}: {first[:300]}")


def parse_sha512(text: str) -> str:
    """The digest from a ``.sha512`` file, in Apache's ``name: 8B1F 6D2B ...`` layout or ``sha512sum``'s."""
    body = text.strip()
    m = re.match(r"([0-9a-fA-F]{128})\b", body)  # sha512sum: "<hex>  <file name>"
    if m:
        return m.group(1).lower()
    if ":" in body:  # gpg --print-md: "<file name>: 8B1F6D2B 3B5A ..." wrapped over lines
        body = body.split(":", 1)[1]
    hexpart = "".join(body.split()).lower()
    if not re.fullmatch(r"[0-9a-f]{128}", hexpart):
        raise KafkaopsError("the published SHA-512 file could not be read", hint="check --mirror and --version")
    return hexpart


def _fetch(url: str, dest: Path, progress: Progress, timeout: float = 30.0) -> None:
    import urllib.error
    import urllib.request  # lazy: ssl and http cost every command ~0.1 s at start-up

    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp, open(dest, "wb") as fh:  # noqa: S310
            total = int(resp.headers.get("Content-Length") or 0)
            done = 0
            while True:
                chunk = resp.read(1 << 20)
                if not chunk:
                    break
                fh.write(chunk)
                done += len(chunk)
                if total:
                    progress(f"downloading {dest.name}: {done * 100 // total}% of {total / 1e6:.0f} MB")
                else:
                    progress(f"downloading {dest.name}: {done / 1e6:.0f} MB")
    except urllib.error.HTTPError as exc:
        raise UnreachableError(f"download failed: {url} answered HTTP {exc.code}", hint="check --version and --mirror") from None
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise UnreachableError(f"download failed: {url}: {reason}", hint="check the network, or use --source maven") from None


def download_archive(version: str, mirror: str, target: Path, work: Path, progress: Progress) -> None:
    import hashlib
    import tarfile

    name = f"kafka_{SCALA}-{version}.tgz"
    base = mirror.rstrip("/")
    url = f"{base}/{version}/{name}"
    archive = work / name
    sha_file = work / f"{name}.sha512"
    _fetch(url + ".sha512", sha_file, progress)
    expected = parse_sha512(sha_file.read_text(encoding="utf-8", errors="replace"))
    _fetch(url, archive, progress)
    progress("verifying SHA-512")
    digest = hashlib.sha512()
    with open(archive, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    if digest.hexdigest() != expected:
        raise KafkaopsError(
            f"checksum mismatch for {name}: the download is corrupt or was tampered with",
            hint="run install again; if it repeats, try another --mirror",
        )
    progress(f"unpacking {name}")
    unpack = work / "unpack"
    try:
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(unpack, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise KafkaopsError(f"cannot unpack {name}: {exc}") from None
    roots = [p for p in unpack.iterdir() if p.is_dir()]
    if len(roots) != 1 or not (roots[0] / "libs").is_dir():
        raise KafkaopsError(f"{name} does not look like a Kafka distribution (no libs/ folder)")
    for item in roots[0].iterdir():
        shutil.move(str(item), str(target / item.name))
    stock = target / "config"
    if stock.is_dir():  # keep the distribution's own configs beside ours, for reference
        (target / "config-dist").mkdir(exist_ok=True)
        for name_ in ("server.properties", "zookeeper.properties", "log4j.properties", "log4j2.yaml", "broker.properties", "controller.properties"):
            if (stock / name_).is_file():
                shutil.move(str(stock / name_), str(target / "config-dist" / name_))


def install(
    *,
    dists_dir: Path,
    data_dir: Path,
    version: str,
    source: str = "maven",
    mirror: str = DEFAULT_MIRROR,
    force: bool = False,
    progress: Progress = lambda _msg: None,
    mvn: str = "mvn",
) -> InstallResult:
    mode = check_version(version)
    if source not in ("maven", "apache"):
        raise UsageError(f"unknown source {source!r}", hint="use --source maven or --source apache")
    target = dists_dir / version
    marker = installed_version(target)
    if marker and not force:
        jars = len(list((target / "libs").glob("*.jar")))
        return InstallResult(target, version, str(marker.get("source", "?")), jars, already_installed=True, mode=mode)
    if target.exists() and not marker and any(target.iterdir()) and not force:
        raise KafkaopsError(
            f"{target} exists but was not installed by kafkaops (or a previous install did not finish)",
            hint="move it away, or run install with --force to replace it",
        )
    dists_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".install-{version}-", dir=dists_dir))
    try:
        staged = work / "kafka"
        staged.mkdir()
        if source == "maven":
            (staged / "libs").mkdir()
            resolve_with_maven(version, staged / "libs", work, progress, mvn=mvn)
        else:
            download_archive(version, mirror, staged, work, progress)
        if mode == "kraft":  # data of both installs lives side by side under data_dir
            write_kraft_configs(staged / "config", data_dir)
        else:
            write_local_configs(staged / "config", data_dir)
        jars = len(list((staged / "libs").glob("*.jar")))
        (staged / MARKER).write_text(json.dumps({"version": version, "source": source, "jars": jars, "mode": mode}, indent=2), encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        staged.rename(target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return InstallResult(target, version, source, jars, already_installed=False, mode=mode)
