"""The Windows (KAFKA-1194) check asks a broker elsewhere for its log.dirs: against a real broker."""

from __future__ import annotations

from tests.conftest import Stack


def test_remote_log_dirs_is_what_the_broker_says(shared_stack: Stack) -> None:
    from kafkaops.procedures import windows

    assert windows.remote_log_dirs(shared_stack.settings) == str(shared_stack.log_dir)
    assert windows.delete_warning(shared_stack.settings, "t", platform="linux") is None  # a POSIX path, this machine
