"""kafkaops logs --follow against a real broker's log: new lines appear, the file is not held open, Ctrl+C is exit 0."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import psutil

from tests.conftest import Stack
from tests.integration.test_consume import new_topic, wait_for_line


def test_follow_prints_what_the_broker_logs_next_and_holds_no_handle(shared_stack: Stack) -> None:
    from kafkaops.procedures import services

    log = services.log_path(shared_stack.settings, services.KAFKA)
    proc = subprocess.Popen(
        [sys.executable, "-m", "kafkaops", "logs", "kafka", "-n", "1", "--follow"],
        env=shared_stack.env,
        cwd=shared_stack.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        wait_for_line(proc.stdout, "", timeout=60)  # the last line: the tail is read, following has begun
        topic = new_topic(shared_stack, prefix="follow")  # the broker logs the new partition
        wait_for_line(proc.stdout, f"{topic}-0", timeout=60)
        held = [f.path for f in psutil.Process(proc.pid).open_files() if Path(f.path) == log]
        assert held == []  # between reads the log is closed (Windows: log4j can rename it at rollover)
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
