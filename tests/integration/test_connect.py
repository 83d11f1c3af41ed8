"""kafkaops connect up|status|logs|down: real distributed-mode workers against a real broker."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from kafkaops.procedures.connect.workers import GROUP_ID, TOPICS
from tests.conftest import Stack, free_port, run_kafkaops


def _env(stack: Stack, connect_home: Path) -> dict[str, str]:
    return {**stack.env, "KAFKAOPS_CONNECT_HOME": str(connect_home), "KAFKAOPS_START_TIMEOUT": "150"}


def test_one_worker_up_status_logs_down_and_a_taken_port(running_stack: Stack, connect_home: Path) -> None:
    env = _env(running_stack, connect_home)
    port = free_port()
    up = run_kafkaops(["connect", "up", "--port", str(port)], env, running_stack.root)
    assert up.returncode == 0, up.stderr
    assert f"connect-1 started: http://127.0.0.1:{port}" in up.stderr

    st = run_kafkaops(["connect", "status", "--json"], env, running_stack.root)
    assert st.returncode == 0, st.stderr
    doc = json.loads(st.stdout)
    assert doc["remote"] is False
    assert [(w["name"], w["state"], w["url"], w["version"]) for w in doc["workers"]] == [("connect-1", "running", f"http://127.0.0.1:{port}", "3.9.2")]
    props = (Path(env["KAFKAOPS_HOME"]) / "conf" / "connect-1.properties").read_text()
    assert f"group.id={GROUP_ID}" in props and "config.storage.replication.factor=1" in props  # one broker: factor 1

    topics = run_kafkaops(["topics", "list", "--json"], env, running_stack.root)
    assert all(t in topics.stdout for t in TOPICS.values()), topics.stdout

    again = run_kafkaops(["connect", "up", "--port", str(port)], env, running_stack.root)
    assert again.returncode == 0 and "connect-1 already running" in again.stderr

    # The whole log: the worker goes on logging client configs after its started line, so a short tail may
    # not reach it (CI, session 24: 400 lines did not). The tail's length itself is tested below.
    logs = run_kafkaops(["connect", "logs", "-n", "1000000"], env, running_stack.root)
    assert logs.returncode == 0 and "Kafka Connect started" in logs.stdout
    last = run_kafkaops(["connect", "logs", "-n", "5"], env, running_stack.root)
    assert last.returncode == 0 and len(last.stdout.splitlines()) == 5, last.stdout

    remote = run_kafkaops(["connect", "status", "--json"], {**env, "KAFKA_CONNECT_URL": f"http://127.0.0.1:{port}/"}, running_stack.root)
    assert remote.returncode == 0, remote.stderr
    assert json.loads(remote.stdout)["workers"][0]["state"] == "running"
    refused = run_kafkaops(["connect", "down"], {**env, "KAFKA_CONNECT_URL": f"http://127.0.0.1:{port}"}, running_stack.root)
    assert refused.returncode == 5 and "remote Connect cluster" in refused.stderr

    down = run_kafkaops(["connect", "down"], env, running_stack.root)
    assert down.returncode == 0 and "connect-1 stopped" in down.stderr, down.stderr
    gone = run_kafkaops(["connect", "status"], env, running_stack.root)
    assert gone.returncode == 3


def test_a_taken_rest_port_names_its_owner(running_stack: Stack, connect_home: Path) -> None:
    env = _env(running_stack, connect_home)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        res = run_kafkaops(["connect", "up", "--port", str(port)], env, running_stack.root)
    assert res.returncode == 5
    assert f"port {port} (Connect REST) is taken by pid " in res.stderr and "python" in res.stderr
