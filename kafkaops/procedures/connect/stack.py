"""Kafka Connect as part of the local stack: `kafkaops up --with connect`, `kafkaops down` and `kafkaops status`.

``up --with connect`` starts the workers after the broker is ready, exactly as `kafkaops connect up` does
(readiness from the REST API), with the layout the workers last had here: as many workers as
KAFKAOPS_HOME/conf/connect-N.properties files, the first on the port connect-1.properties names (else 8083,
Connect's default), the others on the next free ports; workers that run are kept. So
`connect up --workers 2 --port 18083`, `down`, `up --with connect` brings the same two workers back.

``down`` stops the workers kafkaops started here (their pid files) before the broker, whether `up --with
connect` or `connect up` started them, and whatever KAFKA_CONNECT_URL says (a remote cluster is not ours to
stop, the local workers are). ``status`` lists the workers when Connect is in use here: pid files,
properties files (a worker that ran here and is stopped), or KAFKA_CONNECT_URL.
"""

from __future__ import annotations

from kafkaops.adapters import kafka
from kafkaops.adapters.javaprops import read_properties
from kafkaops.errors import KafkaopsError
from kafkaops.procedures.connect import workers
from kafkaops.procedures.connect.install import require_connect
from kafkaops.procedures.services.config import Progress, _noop
from kafkaops.settings import Settings


def configured(settings: Settings) -> list[int]:
    """The workers that ran here: those with a properties file kafkaops wrote (connect-1, connect-2, ...)."""
    return [n for n in range(1, workers.MAX_WORKERS + 1) if workers.properties_path(settings, n).is_file()]


def _port(settings: Settings, n: int) -> int | None:
    listener = read_properties(workers.properties_path(settings, n)).get("listeners") or ""
    tail = listener.split(",")[0].strip().rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() else None


def last_layout(settings: Settings) -> tuple[int, int | None]:
    """(how many workers, the first one's REST port) the workers last had here; (1, None) the first time."""
    numbers = configured(settings)
    return (max(numbers), _port(settings, 1) if 1 in numbers else None) if numbers else (1, None)


def check_before_up(settings: Settings) -> None:
    """What `up --with connect` refuses before it starts anything: a remote Connect cluster, no Connect install."""
    workers.refuse_remote(settings, "start")
    require_connect(settings.connect_home)


def up(settings: Settings, java: str, progress: Progress = _noop) -> list[workers.Worker]:
    """Start the workers of the last layout against the running broker; the internal topics fit the broker count."""
    count, port = last_layout(settings)
    brokers = len(kafka.metadata(settings).brokers)
    return workers.up(settings, java, brokers, workers=count, port=port, progress=progress)


def down(settings: Settings, *, force: bool = False, progress: Progress = _noop) -> list[workers.Worker]:
    """Stop the local workers before the broker; nothing (and no output) when none has a pid file."""
    if not workers.local_records(settings):
        return []
    return workers.stop_local(settings, force=force, progress=progress)


def status(settings: Settings) -> list[workers.Worker] | None:
    """Each worker for `kafkaops status`; None when Connect is not in use here (no row, no JSON key). What
    cannot be asked (a KAFKA_CONNECT_URL that is no URL, a worker config that cannot be read) is a row in
    state "error" with the reason, so the rest of the status still shows."""
    try:
        return _status(settings)
    except KafkaopsError as exc:
        return [workers.Worker("remote" if settings.connect_url else "connect", None, "error", detail=exc.message)]


def _status(settings: Settings) -> list[workers.Worker] | None:
    if settings.connect_url:
        return workers.status(settings)
    numbers = configured(settings)
    recorded = {n for n, _rec in workers.local_records(settings)}
    if not numbers and not recorded:
        return None
    rows = {int(w.name.rsplit("-", 1)[1]): w for w in workers.status(settings)}
    for n in numbers:
        if n not in rows:
            port = _port(settings, n)
            rows[n] = workers.Worker(workers.service(n), f"http://127.0.0.1:{port}" if port else None, "stopped")
    return [rows[n] for n in sorted(rows)]


def expected_down(result: list[workers.Worker]) -> list[workers.Worker]:
    """The workers that should run and do not: a stopped worker (no pid file) is not expected to run."""
    return [w for w in result if w.state not in ("running", "stopped")]
