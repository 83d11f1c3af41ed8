"""Class-data sharing (AppCDS) for the JVMs kafkaops starts: a faster start, never a broken one.

The first start of a service (per java binary, Java version, classpath and main class) runs with
``-XX:ArchiveClassesAtExit``: when that JVM exits (``kafkaops down``), it writes a dynamic archive of
the classes it loaded to ``KAFKAOPS_HOME/cds/<service>-<key>.jsa.part``. The next start renames it
to ``<service>-<key>.jsa`` and checks it with a throwaway ``java -Xshare:on -XX:+VerifySharedSpaces
... -version`` (a truncated archive crashes the JVM even with -Xshare:auto; one that fails the check
is deleted and made again); the check is recorded (``.jsa.ok``: its size and mtime) and made again
only when the file changes. Every start from then on maps it with ``-Xshare:auto`` (an archive the JVM cannot use is ignored:
a normal start). Before the first start, a throwaway ``java ... -XX:ArchiveClassesAtExit ... -version``
makes sure the JVM accepts the dump at all (it refuses to start without the JDK's base archive, for
one): if not, a plain start. A new java, Kafka version or jar set is a new key: a new archive; older ones of the
service are deleted when it is made. ``KAFKAOPS_CDS=off`` turns it all off, and so does any
class-data sharing option in ``KAFKAOPS_JVM_OPTS``; an error here only means a start without an archive.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

from kafkaops.adapters.java import find_java
from kafkaops.errors import KafkaopsError
from kafkaops.procedures.services.config import MAIN_CLASS, ZOOKEEPER
from kafkaops.settings import Settings

_USER_CDS = ("-Xshare", "-XX:SharedArchiveFile", "-XX:ArchiveClassesAtExit", "-XX:SharedClassListFile", "-XX:DumpLoadedClassList")
MIN_JAVA = 13  # -XX:ArchiveClassesAtExit (dynamic archives) came with Java 13
CHECK_TIMEOUT = 30.0


def cds_dir(settings: Settings) -> Path:
    return settings.kafkaops_home / "cds"


def _stamp(path: Path) -> str:
    try:
        st = path.stat()
    except OSError:
        return f"{path.name}:-"
    return f"{path.name}:{st.st_size}:{st.st_mtime_ns}"


def archive_key(java_path: str, version_line: str, libs: Path, main_class: str) -> str:
    """A hash of what an archive is only valid for: the JVM (binary, libjvm, version), the jars, the main class."""
    java = Path(java_path).resolve()
    java_home = java.parent.parent
    parts = [str(java), version_line, main_class, _stamp(java)]
    parts += [_stamp(p) for p in (java_home / "lib" / "server" / "libjvm.so", java_home / "bin" / "server" / "jvm.dll", java_home / "release")]
    parts += [_stamp(jar) for jar in sorted(libs.glob("*.jar"))]  # what the JVM's libs/* wildcard expands to
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def archive_path(settings: Settings, service: str, java: str) -> Path | None:
    """Where this service's archive lives for this java and classpath; None when CDS is off or the JVM too old."""
    if not settings.cds or any(opt.startswith(_USER_CDS) for opt in settings.jvm_opts):
        return None  # KAFKAOPS_JVM_OPTS has its own class-data sharing options: they decide
    info = find_java(java)
    if info.major < MIN_JAVA:
        return None
    key = archive_key(info.path, info.version_line, settings.kafka_home / "libs", MAIN_CLASS[service])
    return cds_dir(settings) / f"{service}-{key}.jsa"


def part_path(archive: Path) -> Path:
    return archive.with_name(archive.name + ".part")


def _check_path(archive: Path) -> Path:
    return archive.with_name(archive.name + ".ok")


def _identity(archive: Path) -> str:
    st = archive.stat()
    return f"{st.st_size}:{st.st_mtime_ns}"


def _checked(archive: Path) -> bool:
    """Whether this very file (same size and mtime) passed the check: a truncated archive crashes the JVM."""
    try:
        return _check_path(archive).read_text(encoding="utf-8").strip() == _identity(archive)
    except OSError:
        return False


def _record_check(archive: Path) -> None:
    _check_path(archive).write_text(_identity(archive) + "\n", encoding="utf-8")


def archive_usable(java: str, archive: Path, classpath: str) -> bool:
    """Whether the JVM maps the archive (-Xshare:on fails instead of falling back) with its checksums right."""
    crash_report = archive.with_name(archive.name + ".hs_err.log")  # a truncated archive crashes it: not in the cwd
    cmd = [java, f"-XX:ErrorFile={crash_report}", "-Xshare:on", "-XX:+VerifySharedSpaces", f"-XX:SharedArchiveFile={archive}"]
    cmd += ["-cp", classpath, "-version"]
    try:
        return subprocess.run(cmd, capture_output=True, timeout=CHECK_TIMEOUT, check=False, cwd=archive.parent).returncode == 0  # noqa: S603
    except (OSError, subprocess.SubprocessError):
        return False
    finally:
        _remove(crash_report)


def dump_accepted(java: str, settings: Settings, service: str, part: Path) -> bool:
    """Whether a JVM with these options starts at all when asked to dump: it refuses to (and so would the service)
    without the JDK's base archive, with -Xshare:off in KAFKAOPS_JVM_OPTS, or with a directory on the classpath."""
    heap = settings.zookeeper_heap if service == ZOOKEEPER else settings.kafka_heap
    trial = part.with_name(part.name + ".trial")
    cmd = [java, f"-Xmx{heap}", "-Xshare:auto", f"-XX:ArchiveClassesAtExit={trial}", *settings.jvm_opts]
    cmd += ["-cp", str(settings.kafka_home / "libs" / "*"), "-version"]
    try:
        return subprocess.run(cmd, capture_output=True, timeout=CHECK_TIMEOUT, check=False, cwd=part.parent).returncode == 0  # noqa: S603
    except (OSError, subprocess.SubprocessError):
        return False
    finally:
        _remove(trial)


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


def jvm_options(settings: Settings, service: str, java: str) -> list[str]:
    """The CDS options for this start: use the archive, or make one at exit; none when off or on any error."""
    try:
        archive = archive_path(settings, service, java)
        if archive is None:
            return []
        part = part_path(archive)
        if not archive.is_file() and part.is_file():  # written when the last JVM exited
            part.replace(archive)
        if archive.is_file() and not _checked(archive):  # new, or changed since its check (size or mtime)
            if archive_usable(java, archive, str(settings.kafka_home / "libs" / "*")):
                _record_check(archive)
            else:
                _remove(archive)
        if archive.is_file():
            return ["-Xshare:auto", f"-XX:SharedArchiveFile={archive}"]
        archive.parent.mkdir(parents=True, exist_ok=True)
        for old in archive.parent.glob(f"{service}-*.jsa*"):  # another java or jar set: not valid any more
            _remove(old)
        if not dump_accepted(java, settings, service, part):
            return []
        return ["-Xshare:auto", f"-XX:ArchiveClassesAtExit={part}"]
    except (OSError, KafkaopsError):
        return []
