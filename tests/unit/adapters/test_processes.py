"""The process module's platform branches. CI runs on Linux: the Windows branch's logic is covered here."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
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
    me = processes.proc_info(os.getpid())
    processes.request_stop(me.pid, me.create_time)
    cmd, kw = calls[0]
    assert cmd[-1] == str(me.pid) and cmd[1] == "-c"
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
        processes.request_stop(os.getpid())


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


# --------------------------------------------------------------------------------------------
# Is this process what kafkaops launched? (never signal on a pid file's word alone)

CONF = "/home/u/.local/share/kafkaops/kafka/3.9.2/config/server.properties"


def _info(*cmdline: str) -> processes.ProcInfo:
    return processes.ProcInfo(4242, "java", tuple(cmdline), 1000.0)


@pytest.mark.parametrize(
    ("cmdline", "expected"),
    [
        (("/usr/lib/jvm/java-17/bin/java", "-Xmx512m", "-cp", "/k/libs/*", "kafka.Kafka", CONF), True),
        (("java", "kafka.Kafka", CONF), True),
        (("java", "kafka.Kafka", "/home/u/.local/share/kafkaops/kafka/3.9.2/config/../config/server.properties"), True),
        (("java", "kafka.Kafka", "/other/stack/server.properties"), False),  # another stack's broker
        (("java", "org.apache.zookeeper.server.quorum.QuorumPeerMain", CONF), False),  # another main class
        (("java", "-Dx=kafka.Kafka", CONF), False),  # the class name inside an option is not the main class
        (("java", "kafka.Kafka"), False),  # no config argument
        (("/usr/bin/python3", "-c", "import time; time.sleep(300)", "kafka.Kafka", CONF), False),  # not a JVM
        (("sleep", "300"), False),
        (("/usr/bin/java.exe", "kafka.Kafka", CONF), False),  # POSIX: java only
        ((), False),  # a command line that cannot be read is never trusted
    ],
)
def test_posix_launch_matching(cmdline: tuple[str, ...], expected: bool) -> None:
    assert processes.runs_java_main(_info(*cmdline), "kafka.Kafka", CONF, windows=False) is expected


WCONF = r"C:\Users\u\AppData\Local\kafkaops\kafka\3.9.2\config\server.properties"


@pytest.mark.parametrize(
    ("cmdline", "expected"),
    [
        ((r"C:\Program Files\Java\jdk-17\bin\java.exe", "-cp", r"C:\k\libs\*", "kafka.Kafka", WCONF), True),
        ((r"C:\Program Files\Java\jdk-17\bin\JAVA.EXE", "kafka.Kafka", WCONF.lower()), True),  # case-insensitive
        ((r"C:\jdk\bin\javaw.exe", "kafka.Kafka", WCONF.replace("\\", "/")), True),  # either slash
        (("java", "kafka.Kafka", WCONF), True),
        ((r"C:\jdk\bin\java.exe", "kafka.Kafka", r"D:\other\server.properties"), False),
        ((r"C:\Windows\System32\timeout.exe", "kafka.Kafka", WCONF), False),
        ((r"C:\Python311\python.exe", "-c", "pass", "kafka.Kafka", WCONF), False),
        ((), False),
    ],
)
def test_windows_launch_matching(cmdline: tuple[str, ...], expected: bool) -> None:
    assert processes.runs_java_main(_info(*cmdline), "kafka.Kafka", WCONF, windows=True) is expected


def test_windows_matching_is_the_default_on_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    info = _info(r"C:\jdk\bin\java.exe", "kafka.Kafka", WCONF.upper())
    monkeypatch.setattr(processes, "IS_WINDOWS", True)
    assert processes.runs_java_main(info, "kafka.Kafka", WCONF)
    monkeypatch.setattr(processes, "IS_WINDOWS", False)
    assert not processes.runs_java_main(info, "kafka.Kafka", WCONF)


def test_start_time_tolerance() -> None:
    assert processes.same_start(1000.4, 1000.0) and processes.same_start(999.6, 1000.0)
    assert not processes.same_start(1001.5, 1000.0)


def _sleeper(argv0: str | None = None, *args: str) -> subprocess.Popen[bytes]:
    cmd = [argv0 or sys.executable, "-c", "import time; time.sleep(60)", *args]
    proc = subprocess.Popen(cmd)
    while (info := processes.proc_info(proc.pid)) is None or not info.cmdline or info.cmdline[0] != cmd[0]:
        pass  # until the child has exec'd
    return proc


def test_stop_and_kill_never_signal_a_process_with_another_start_time() -> None:
    proc = _sleeper()
    try:
        info = processes.proc_info(proc.pid)
        processes.request_stop(proc.pid, info.create_time - 50)  # what a reused pid looks like
        processes.kill(proc.pid, info.create_time + 50)
        assert not processes.wait_exit(proc.pid, info.create_time, 0.5)
        processes.request_stop(proc.pid, info.create_time)
        assert processes.wait_exit(proc.pid, info.create_time, 10)
    finally:
        proc.kill()
        proc.wait()


def test_windows_stop_never_runs_the_helper_for_another_start_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    monkeypatch.setattr(processes, "IS_WINDOWS", True)
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: calls.append(cmd) or subprocess.CompletedProcess(cmd, 0))
    me = processes.proc_info(os.getpid())
    processes.request_stop(me.pid, me.create_time - 50)
    processes.request_stop(2**22 + 7)  # no such process
    assert calls == []


def _settings(tmp_path):  # noqa: ANN001, ANN202
    from kafkaops.settings import load_settings

    conf = tmp_path / "conf"
    conf.mkdir(parents=True, exist_ok=True)
    return load_settings(
        env={
            "KAFKAOPS_HOME": str(tmp_path / "ops"),
            "KAFKA_HOME": str(tmp_path / "kafka"),
            "KAFKAOPS_SERVER_PROPERTIES": str(conf / "server.properties"),
            "KAFKAOPS_ZOOKEEPER_PROPERTIES": str(conf / "zookeeper.properties"),
        },
        cwd=tmp_path,
    )


def test_check_pid_verdicts(tmp_path) -> None:  # noqa: ANN001
    from kafkaops.procedures.services import PidRecord, check_pid, live_process

    settings = _settings(tmp_path)
    config = str(settings.server_properties.resolve())
    # A stand-in for the broker's JVM: a program named java whose arguments are what kafkaops passes.
    java = tmp_path / "bin" / "java"
    java.parent.mkdir()
    java.symlink_to(sys.executable)
    fake_broker = _sleeper(str(java), "kafka.Kafka", config)
    lookalike = _sleeper(None, "kafka.Kafka", config)
    try:
        b, lk = processes.proc_info(fake_broker.pid), processes.proc_info(lookalike.pid)

        def rec(pid: int, create_time: float, main_class: str = "kafka.Kafka", conf: str = config) -> PidRecord:
            return PidRecord("kafka", pid, create_time, main_class, conf, "", "", 0, 0.0, "")

        assert check_pid(None).verdict == "none"
        ours = check_pid(rec(b.pid, b.create_time), settings)
        assert (ours.verdict, ours.proc.pid) == ("ours", b.pid)
        assert live_process(rec(b.pid, b.create_time)) is not None  # without settings: the config the file names
        # The start time is checked first: another start time means the pid was reused (a stale file).
        assert check_pid(rec(b.pid, b.create_time - 100), settings).verdict == "gone"
        assert check_pid(rec(2**22 + 7, 0.0), settings).verdict == "gone"
        # The main class in the file is never trusted: only kafka.Kafka counts for the kafka pid file.
        forged = check_pid(rec(lk.pid, lk.create_time, main_class="-c"), settings)
        assert forged.verdict == "mismatch" and live_process(rec(lk.pid, lk.create_time, main_class="-c")) is None
        assert forged.detail.startswith(f"the kafka pid file names pid {lk.pid}, which is not the Kafka broker kafkaops started (it runs `{sys.executable} -c")
        # A JVM with the right class but another stack's config is not this stack's broker.
        other = _settings(tmp_path / "other")
        assert check_pid(rec(b.pid, b.create_time), other).verdict == "mismatch"
    finally:
        for p in (fake_broker, lookalike):
            p.kill()
            p.wait()


def test_a_pid_file_is_removed_only_while_it_says_what_was_read(tmp_path) -> None:  # noqa: ANN001
    from kafkaops.procedures import services

    settings = _settings(tmp_path)
    mine = services.PidRecord("kafka", 111, 5.0, "kafka.Kafka", "", "", "", 0, 1.0, "")
    theirs = services.PidRecord("kafka", 222, 6.0, "kafka.Kafka", "", "", "", 0, 2.0, "")
    services.write_pid(settings, theirs)  # another command wrote its own file since we read ours
    assert services.remove_pid(settings, mine) is False
    assert services.read_pid(settings, "kafka") == theirs
    assert services.remove_pid(settings, theirs) is True
    assert services.read_pid(settings, "kafka") is None
    # A file under the wrong name is not trusted either.
    services.write_pid(settings, theirs)
    services.pid_path(settings, "kafka").rename(services.pid_path(settings, "zookeeper"))
    assert services.read_pid(settings, "zookeeper").pid == -1


# --------------------------------------------------------------------------------------------
# The inter-process lock


def test_lock_waits_names_its_holder_and_times_out(tmp_path) -> None:  # noqa: ANN001
    from kafkaops.adapters import locks

    path = tmp_path / "run" / "stack.lock"
    code = (
        "import sys, time\nfrom pathlib import Path\nfrom kafkaops.adapters import locks\n"
        f"with locks.hold(Path({str(path)!r}), 'up', timeout=1, on_wait=print):\n    print('held', flush=True)\n    time.sleep(60)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        seen = []
        with pytest.raises(locks.LockTimeout) as exc:
            with locks.hold(path, "down", timeout=0.3, on_wait=seen.append):
                pass
        assert [(h.pid, h.command) for h in seen] == [(holder.pid, "up")]
        assert (exc.value.holder.pid, exc.value.waited) == (holder.pid, 0.3)
        # Another lock file (another KAFKAOPS_HOME) is not blocked.
        with locks.hold(tmp_path / "other" / "stack.lock", "down", timeout=0.3, on_wait=seen.append):
            pass
        assert len(seen) == 1
        # The OS frees the lock when its holder dies, however it dies: no stale lock.
        holder.kill()
        holder.wait()
        with locks.hold(path, "down", timeout=5, on_wait=seen.append) as me:
            assert me.pid == os.getpid() and locks.read_holder(path) == me
            with locks.hold(path, "up", timeout=0.1, on_wait=seen.append) as nested:  # nested in one process: free
                assert nested == me
        assert len(seen) == 1
        assert locks.read_holder(path) is None and not locks.note_path(path).exists()
    finally:
        holder.kill()
        holder.wait()


def test_wait_exit_waits_for_the_last_thread_not_only_the_main_one(tmp_path: Path) -> None:
    """A JVM's main thread can be gone (psutil says zombie) while its other threads still hold its listening
    socket: `down` then took the stack for stopped and reset saw "port N still held by a process kafkaops
    cannot see". Here a real process does the same: its main thread exits first, another holds a port 1.5 s."""
    script = tmp_path / "main_thread_exits_first.py"
    script.write_text(
        "import ctypes, os, socket, sys, threading, time\n"
        "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n"
        "print(s.getsockname()[1], flush=True)\n"
        "def later():\n"
        "    time.sleep(1.5)\n"
        "    os._exit(0)\n"
        "threading.Thread(target=later).start()\n"
        "ctypes.CDLL(None).pthread_exit(None)\n"
    )
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        create_time = psutil.Process(proc.pid).create_time()
        while psutil.Process(proc.pid).status() != psutil.STATUS_ZOMBIE:
            time.sleep(0.01)
        assert processes.port_open("127.0.0.1", port)  # the main thread is gone, the process is not

        assert processes.wait_exit(proc.pid, create_time, timeout=10)

        assert not processes.port_open("127.0.0.1", port)
    finally:
        proc.kill()
        proc.wait()


def test_a_just_started_process_whose_command_line_reads_empty_is_read_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression (CI, stop 22): a JVM's command line reads empty for ~1 ms right after launch (4 of 300 java
    launches here), so `up --with connect` judged the worker it had just started "exited during start-up"."""
    proc = _sleeper()
    try:
        real, reads = psutil.Process.cmdline, []

        def first_read_empty(self: psutil.Process) -> list[str]:
            reads.append(self.pid)
            return [] if len(reads) == 1 else real(self)

        monkeypatch.setattr(psutil.Process, "cmdline", first_read_empty)
        info = processes.proc_info(proc.pid)
        assert info is not None and info.cmdline[:2] == (sys.executable, "-c") and len(reads) == 2
        # an old process whose command line cannot be read is believed at once (a kernel thread, another user's)
        monkeypatch.setattr(psutil.Process, "cmdline", lambda self: [])
        monkeypatch.setattr(processes, "YOUNG_PROCESS_S", 0.0)
        t0 = time.monotonic()
        assert processes.proc_info(proc.pid).cmdline == () and time.monotonic() - t0 < processes.EMPTY_CMDLINE_WAIT_S
    finally:
        proc.kill()
        proc.wait()
