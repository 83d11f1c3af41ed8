"""Kafka Connect as part of the stack, on real processes: `up --with connect`, `down` stopping the workers before
the broker, `status` rows for the workers, the database password kept off Connect's REST API, and a worker
that dies at start-up because another process took its REST port (the failure signature and its remedy)."""

from __future__ import annotations

import json
import re
import socket
import stat
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

from tests.conftest import Stack, free_port, run_kafkaops, start_kafkaops


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310 - the worker this test started
        return json.loads(resp.read())


def _ok(args: list[str], stack: Stack) -> subprocess.CompletedProcess[str]:
    res = run_kafkaops(args, stack.env, stack.root)
    assert res.returncode == 0, (args, res.stderr)
    return res


def test_up_with_connect_status_down_and_a_password_connect_does_not_show(connect_stack: Stack) -> None:
    s, port = connect_stack, free_port()
    _ok(["up"], s)
    _ok(["connect", "up", "--port", str(port)], s)
    url = f"http://127.0.0.1:{port}"

    st = _ok(["status", "--json"], s)
    workers = json.loads(st.stdout)["connect"]
    assert workers["remote"] is False
    assert [(w["name"], w["state"], w["url"], w["version"]) for w in workers["workers"]] == [("connect-1", "running", url, "3.9.2")]
    pid = workers["workers"][0]["pid"]
    table = _ok(["status"], s).stdout
    row = next(line for line in table.splitlines() if line.startswith("connect-1"))
    assert all(part in row for part in ("running", str(pid), str(port), "Kafka Connect 3.9.2", url))
    line = json.loads(_ok(["status", "--watch", "--count", "1"], s).stdout)  # no terminal: one JSON line
    assert {"service": "connect-1", "state": "running", "pid": pid} in line["services"] and line["up"] is True

    down = _ok(["down"], s)  # the worker was started by `connect up`: `down` stops it all the same, first
    assert down.stderr.index("connect-1 stopped") < down.stderr.index("Kafka broker stopped"), down.stderr
    assert not Path(f"/proc/{pid}").exists()

    up = _ok(["up", "--with", "connect"], s)  # the layout it last had: one worker, on the same port
    assert f"connect-1 started: {url} " in up.stderr
    assert up.stderr.index("Kafka broker started") < up.stderr.index("connect-1 started")
    again = _ok(["up", "--with", "connect"], s)
    assert "connect-1 already running" in again.stderr

    _ok(["db", "init", "--demo"], s)
    deploy = _ok(["cdc", "deploy", "--yes", "--json"], s)
    doc = json.loads(deploy.stdout)
    assert doc["state"] == "RUNNING" and [t["state"] for t in doc["tasks"]] == ["RUNNING"]
    assert "warning" not in deploy.stderr  # a local worker started by kafkaops: no plain password

    from kafkaops.adapters import embedded_pg
    from kafkaops.adapters.replication_sql import dsn_parts

    password = dsn_parts(embedded_pg.database_url(s.settings))["password"]
    assert password
    config = _get(f"{url}/connectors/{doc['connector']}/config")
    tasks = _get(f"{url}/connectors/{doc['connector']}/tasks")
    secret = Path(s.env["KAFKAOPS_HOME"]) / "secrets" / f"{doc['connector']}.properties"
    assert config["database.password"] == f"${{file:{secret.resolve()}:database.password}}"
    assert password not in json.dumps(config) and password not in json.dumps(tasks)
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600 and password in secret.read_text()
    status = _get(f"{url}/connectors/{doc['connector']}/status")
    assert status["connector"]["state"] == "RUNNING" and status["tasks"][0]["state"] == "RUNNING"
    # RUNNING means Debezium logged in: the server asks for the password (scram-sha-256) and the worker resolved the file

    delete = _ok(["cdc", "delete", "--yes"], s)
    assert "password file" in delete.stderr and not secret.exists()

    final = _ok(["down"], s)
    assert final.stderr.index("connect-1 stopped") < final.stderr.index("Kafka broker stopped")
    plain = _ok(["down"], s)  # no worker any more: `down` says nothing about Connect
    assert "connect-" not in plain.stderr


def test_a_rest_port_taken_while_the_worker_starts_is_named_with_its_remedy(running_stack: Stack, connect_home: Path) -> None:
    """`connect up` checks the port before it launches the worker; another process takes it in between: the worker
    dies binding its REST server, and the failure is recognised in its log (not just "exited")."""
    env = {**running_stack.env, "KAFKAOPS_CONNECT_HOME": str(connect_home), "KAFKAOPS_START_TIMEOUT": "150"}
    port = free_port()
    proc = start_kafkaops(["connect", "up", "--port", str(port)], env, running_stack.root)
    pid_file = Path(env["KAFKAOPS_HOME"]) / "run" / "connect-1.json"
    with socket.socket() as sock:
        deadline = time.monotonic() + 60
        while not pid_file.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)  # the worker is launched: its JVM needs seconds before it binds the REST port
        assert pid_file.exists(), proc.communicate()
        sock.bind(("127.0.0.1", port))
        sock.listen()
        out, err = proc.communicate(timeout=200)
    assert proc.returncode == 1, err
    # Connect exits 2 or 3 for it, depending on whether the REST server was being built or started
    assert re.search(r"connect-1 exited while starting \(exit code [23]\): the Connect worker's REST port is already in use", err), err
    assert "kafkaops connect up --port N" in err and "see: kafkaops runbook connect rest-port-in-use" in err
    assert "Failed to bind to /127.0.0.1:" in err or "BindException" in err  # the log lines shown with it

    logs = run_kafkaops(["connect", "logs", "-n", "5"], env, running_stack.root)
    assert logs.returncode == 0
    assert "the Connect worker's REST port is already in use" in logs.stderr and "(see: kafkaops runbook connect rest-port-in-use)" in logs.stderr
