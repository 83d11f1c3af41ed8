"""Ctrl+C as a clean stop (kafkaops.cli.interrupt): first sets the event, second leaves now."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from kafkaops.cli.interrupt import graceful_stop


def test_first_ctrl_c_sets_the_event_and_says_so_the_second_raises() -> None:
    before = signal.getsignal(signal.SIGINT)
    said: list[str] = []
    with pytest.raises(KeyboardInterrupt), graceful_stop(lambda: said.append("stopping")) as stop:
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.wait(5)
        assert said == ["stopping"]
        os.kill(os.getpid(), signal.SIGINT)
        threading.Event().wait(5)  # the handler raises here
    assert signal.getsignal(signal.SIGINT) is before


def test_outside_the_main_thread_no_handler_is_installed() -> None:
    before = signal.getsignal(signal.SIGINT)
    seen: list[object] = []

    def run() -> None:
        with graceful_stop() as stop:
            seen.append(signal.getsignal(signal.SIGINT))
            seen.append(stop.is_set())

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    assert seen == [before, False]
