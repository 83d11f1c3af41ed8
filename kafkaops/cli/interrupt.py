"""Ctrl+C as a request to stop cleanly: one helper for every command that runs until stopped."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def graceful_stop(notice: Callable[[], None] | None = None) -> Iterator[threading.Event]:
    """Yield an event that the first Ctrl+C sets (then ``notice()`` says what happens next); a second
    Ctrl+C raises KeyboardInterrupt so the user can leave now.

    The handler is installed only in the main thread (Python allows signal handlers nowhere else; in
    another thread the event is simply never set by Ctrl+C) and the previous handler is put back on exit.
    """
    stop = threading.Event()

    def on_sigint(_signum: int, _frame: object) -> None:
        if stop.is_set():  # a second Ctrl+C: leave now
            raise KeyboardInterrupt
        stop.set()
        if notice is not None:
            notice()

    previous = signal.signal(signal.SIGINT, on_sigint) if threading.current_thread() is threading.main_thread() else None
    try:
        yield stop
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
