"""The process module's platform branches. CI runs on Linux: the Windows branch's logic is covered here."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from kafkaops.adapters import processes


def test_posix_launch_detaches_into_its_own_session(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(processes, "IS_WINDOWS", False)
    assert processes.launch_options() == {"start_new_session": True}


def test_windows_launch_uses_a_hidden_console_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    class FakeStartupInfo:
        dwFlags = 0
        wShowWindow = 1

    monkeypatch.setattr(processes, "IS_WINDOWS", True)
    monkeypatch.setattr(subprocess, "STARTUPINFO", FakeStartupInfo, raising=False)
    opts = processes.launch_options()
    # A new console (so Ctrl+C can be raised in it alone), not CREATE_NEW_PROCESS_GROUP (which ignores Ctrl+C).
    assert opts["creationflags"] == processes.CREATE_NEW_CONSOLE
    assert opts["creationflags"] & 0x00000200 == 0
    assert opts["startupinfo"].wShowWindow == processes.SW_HIDE
    assert opts["startupinfo"].dwFlags & processes.STARTF_USESHOWWINDOW


def test_windows_graceful_stop_raises_ctrl_c_through_an_attached_helper(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def fake_run(cmd, **kw):  # noqa: ANN001, ANN003
        calls.append((cmd, kw))
        return subprocess.CompletedProcess(cmd, 0)

    monkeypatch.setattr(processes, "IS_WINDOWS", True)
    monkeypatch.setattr(subprocess, "run", fake_run)
    processes.request_stop(4242)
    cmd, kw = calls[0]
    assert cmd[-1] == "4242" and cmd[1] == "-c"
    helper = cmd[2]
    # Detach, attach to the JVM's console, ignore Ctrl+C ourselves, raise CTRL_C_EVENT (0), not CTRL_BREAK (1).
    assert helper.index("FreeConsole") < helper.index("AttachConsole(pid)") < helper.index("SetConsoleCtrlHandler(None, True)")
    assert "GenerateConsoleCtrlEvent(0, 0)" in helper
    assert kw["creationflags"] == processes.CREATE_NO_WINDOW


def test_windows_helper_failure_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from kafkaops.errors import KafkaopsError

    monkeypatch.setattr(processes, "IS_WINDOWS", True)
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: subprocess.CompletedProcess(cmd, 2))
    with pytest.raises(KafkaopsError, match="could not send Ctrl\\+C"):
        processes.request_stop(4242)


def test_helper_script_compiles() -> None:
    compile(processes.WINDOWS_CTRL_C_HELPER, "<helper>", "exec")


def test_port_probes_and_owner() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert processes.port_open("127.0.0.1", port)
        assert not processes.port_bindable("127.0.0.1", port)
        owner = processes.port_owner(port)
        if sys.platform.startswith("linux"):
            assert owner is not None and owner.pid == __import__("os").getpid()
    assert not processes.port_open("127.0.0.1", port)


def test_pid_file_naming_another_program_is_not_trusted(tmp_path) -> None:  # noqa: ANN001
    import os

    from kafkaops.procedures.services import PidRecord, live_process

    me = processes.proc_info(os.getpid())
    same = PidRecord("kafka", me.pid, me.create_time, "kafka.Kafka", "", "", "", 0, 0.0, "")
    assert live_process(same) is None  # right pid and start time, but not a kafka.Kafka process
    gone = PidRecord("kafka", 2**22 + 7, 0.0, "kafka.Kafka", "", "", "", 0, 0.0, "")
    assert live_process(gone) is None
