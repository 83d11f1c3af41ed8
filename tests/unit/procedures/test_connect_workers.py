from __future__ import annotations

import json
from pathlib import Path

import pytest

from kafkaops.adapters import connect_rest
from kafkaops.errors import KafkaopsError, RefusedError, UsageError
from kafkaops.procedures.connect import install, workers
from kafkaops.settings import load_settings


def _settings(tmp_path: Path, **env: str):  # noqa: ANN202
    return load_settings(env={"KAFKAOPS_HOME": str(tmp_path), "KAFKA_BROKER": "localhost:9", **env}, cwd=tmp_path)


@pytest.mark.parametrize(("brokers", "factor"), [(0, 1), (1, 1), (2, 2), (3, 3), (7, 3)])
def test_internal_topics_fit_the_cluster_size(brokers: int, factor: int) -> None:
    assert workers.replication_factor(brokers) == factor


def test_worker_properties_share_one_group_and_name_their_own_port(tmp_path: Path) -> None:
    props = workers.worker_properties(_settings(tmp_path), 18083, 2)
    assert props["group.id"] == workers.GROUP_ID and props["bootstrap.servers"] == "localhost:9"
    assert props["listeners"] == "http://127.0.0.1:18083" and props["rest.advertised.port"] == "18083"
    assert {props[f"{t}.storage.replication.factor"] for t in ("config", "offset", "status")} == {"2"}
    assert props["plugin.path"] == str((tmp_path / "connect" / "3.9.2" / "plugins").resolve())


def test_up_and_down_refuse_a_remote_cluster(tmp_path: Path) -> None:
    settings = _settings(tmp_path, KAFKA_CONNECT_URL="http://connect.example:8083/")
    assert settings.connect_url == "http://connect.example:8083"
    with pytest.raises(RefusedError, match="remote Connect cluster"):
        workers.up(settings, "java", 1)
    with pytest.raises(RefusedError, match="remote Connect cluster"):
        workers.down(settings)
    assert workers.connect_url(settings) == "http://connect.example:8083"


def test_up_without_an_install_says_how_to_get_one(tmp_path: Path) -> None:
    with pytest.raises(KafkaopsError, match="Kafka Connect is not installed") as info:
        workers.up(_settings(tmp_path), "java", 1)
    assert info.value.hint == "run: kafkaops install --with connect"


def test_connect_4x_runtime_logs_through_log4j2() -> None:
    pom = install.runtime_pom("4.4.0")
    for artifact in ("connect-runtime", "connect-json", "connect-transforms"):
        assert f"<artifactId>{artifact}</artifactId><version>4.4.0</version>" in pom
    # the same backend as the 4.x broker's install: log4j2 bound through the SLF4J 2 API, no reload4j
    assert "<artifactId>slf4j-api</artifactId><version>2." in pom and "log4j-slf4j2-impl" in pom and "<artifactId>log4j-core</artifactId>" in pom
    assert "reload4j" not in pom


def test_a_4x_runtime_gets_the_yaml_module_at_its_own_jackson_version(tmp_path: Path) -> None:
    for jar in ("jackson-databind-2.21.7.jar", "jackson-core-2.21.7.jar", "connect-runtime-4.4.0.jar"):
        (tmp_path / jar).write_bytes(b"")
    assert "<artifactId>jackson-dataformat-yaml</artifactId><version>2.21.7</version>" in install.yaml_pom(tmp_path)
    (tmp_path / "jackson-databind-2.19.0.jar").write_bytes(b"")
    with pytest.raises(KafkaopsError, match="one jackson-databind jar"):
        install.yaml_pom(tmp_path)


@pytest.mark.parametrize(
    ("stack", "runtime"), [("3.9.2", "3.9.2"), ("4.1.1", "4.1.1"), ("4.3.0", "4.3.0"), ("4.3.1", "4.3.1"), ("4.4.0", "4.3.0"), ("5.0.0", "4.3.0")]
)
def test_the_connect_runtime_is_the_stack_release_up_to_the_line_debezium_is_built_for(stack: str, runtime: str) -> None:
    # Debezium 3.6.1 loads org.apache.kafka.common.utils.Sanitizer, which Kafka 4.4.0 moved (KAFKA-20297)
    assert install.connect_version(stack) == runtime


def test_a_4_4_stack_installs_the_4_3_runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def fake_maven(pom: str, libs: Path, _work: Path, _progress: object, what: str, **_kw: object) -> None:
        calls.append(what)
        libs.mkdir(parents=True, exist_ok=True)
        names = {"Kafka Connect 4.3.0": ["connect-runtime-4.3.0.jar", "jackson-databind-2.20.1.jar"], "log4j2's YAML support": []}
        for name in names.get(what, [f"{install.PLUGIN}-{install.DEBEZIUM}.jar"]):
            (libs / name).write_bytes(b"")
        assert "4.4.0" not in pom

    monkeypatch.setattr(install, "run_maven", fake_maven)  # Maven itself: tests/integration/test_connect_kraft.py
    result = install.install_connect(tmp_path / "connect", "4.4.0")
    assert calls == ["Kafka Connect 4.3.0", "log4j2's YAML support", f"Debezium PostgreSQL connector {install.DEBEZIUM}"]
    assert (result.kafka_version, result.connect_version) == ("4.4.0", "4.3.0")
    marker = install.read_marker(tmp_path / "connect")
    assert marker is not None and marker["kafka_version"] == "4.4.0" and marker["connect_version"] == "4.3.0"
    again = install.install_connect(tmp_path / "connect", "4.4.0", mvn="/nonexistent/mvn")
    assert again.already_installed and again.connect_version == "4.3.0"


def test_connect_3x_runtime_keeps_reload4j() -> None:
    pom = install.runtime_pom("3.9.2")
    assert "<artifactId>reload4j</artifactId><version>1.2.25</version>" in pom and "log4j-core" not in pom


@pytest.mark.parametrize("version", ["4.0.0", "2.8.2", "latest"])
def test_connect_install_refuses_a_version_kafkaops_cannot_install_before_downloading(tmp_path: Path, version: str) -> None:
    with pytest.raises(UsageError):
        install.install_connect(tmp_path / "c", version, mvn="/nonexistent/mvn")
    assert not (tmp_path / "c").exists()


def _connect_home(tmp_path: Path, *jars: str) -> Path:
    home = tmp_path / "connect-home"
    (home / "libs").mkdir(parents=True)
    for jar in jars:
        (home / "libs" / jar).write_bytes(b"")
    return home


def test_a_4x_worker_is_pointed_at_the_log4j2_config(tmp_path: Path) -> None:
    home = _connect_home(tmp_path, "connect-runtime-4.4.0.jar", "log4j-core-2.25.3.jar")
    settings = _settings(tmp_path, KAFKAOPS_MODE="kraft", KAFKAOPS_CONNECT_HOME=str(home))
    cmd = workers._command(settings, "java", tmp_path / "connect-1.properties", 1)
    config = tmp_path / "conf" / "log4j2.yaml"
    # 4.x ignores -Dlog4j.configuration: with it alone the worker would write no server.log (connect logs, doctor)
    assert f"-Dlog4j2.configurationFile={config.resolve()}" in cmd and not any(a.startswith("-Dlog4j.configuration=") for a in cmd)
    assert "${sys:kafka.logs.dir}/server.log" in config.read_text()
    assert f"-Dkafka.logs.dir={(tmp_path / 'logs' / 'connect-1').resolve()}" in cmd


def test_a_3x_worker_is_pointed_at_the_reload4j_config(tmp_path: Path) -> None:
    home = _connect_home(tmp_path, "connect-runtime-3.9.2.jar", "reload4j-1.2.25.jar")
    cmd = workers._command(_settings(tmp_path, KAFKAOPS_CONNECT_HOME=str(home)), "java", tmp_path / "connect-1.properties", 1)
    assert f"-Dlog4j.configuration={(tmp_path / 'conf' / 'log4j.properties').resolve().as_uri()}" in cmd
    assert not any(a.startswith("-Dlog4j2.") for a in cmd)


def test_a_kraft_stack_has_its_own_connect_home(tmp_path: Path) -> None:
    settings = _settings(tmp_path, KAFKAOPS_MODE="kraft")
    assert settings.connect_home == tmp_path / "connect" / "4.4.0"
    assert workers.worker_properties(settings, 18083, 1)["plugin.path"] == str((tmp_path / "connect" / "4.4.0" / "plugins").resolve())


def test_an_install_for_another_kafka_version_is_not_reused(tmp_path: Path) -> None:
    (tmp_path / install.MARKER).write_text(json.dumps({"kafka_version": "3.8.1", "debezium": install.DEBEZIUM}))
    with pytest.raises(KafkaopsError, match="holds Connect for Kafka 3.8.1"):
        install.install_connect(tmp_path, "3.9.2")


def test_the_plugin_leaves_out_what_the_runtime_provides() -> None:
    assert "connect-api" in install.PROVIDED and "kafka-clients" in install.PROVIDED
    assert "<artifactId>debezium-connector-postgres</artifactId><version>3.6.1.Final</version>" in install.plugin_pom()
    assert "<artifactId>connect-runtime</artifactId><version>3.9.2</version>" in install.runtime_pom("3.9.2")


def test_a_connect_url_must_be_http(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not an http"):
        connect_rest.request("file:///etc/passwd", "GET", "/")


def test_a_refusal_from_connect_never_shows_the_database_password() -> None:
    reply = connect_rest.Reply(400, {"message": "Connector config {database.password=s3cret-pw, database.user=app} is invalid"})
    with pytest.raises(KafkaopsError) as info:
        connect_rest.expect(reply, "create x", secrets=("s3cret-pw",))
    assert "s3cret-pw" not in info.value.message and "database.password=***" in info.value.message


def test_a_worker_just_launched_is_judged_alive_by_its_pid_and_start_time_not_its_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression (CI, stop 22): the wait after launch checked the JVM's command line, which reads empty for a moment
    right after the launch, and reported a healthy worker "exited during start-up" with an empty log."""
    import subprocess
    import sys
    import time

    from kafkaops.adapters import processes
    from kafkaops.procedures.services.pidfiles import PidRecord

    settings = _settings(tmp_path)
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])  # not java: its command line never matches
    try:
        info = processes.proc_info(proc.pid)
        props = tmp_path / "connect-1.properties"
        props.write_text("listeners=http://127.0.0.1:9\n")
        record = PidRecord("connect-1", proc.pid, info.create_time, workers.MAIN_CLASS, str(props), str(tmp_path / "server.log"), "", 0, time.time(), "")
        monkeypatch.setattr(connect_rest, "request", lambda *a, **k: connect_rest.Reply(200, {"version": "3.9.2"}))
        assert workers._wait_ready(settings, record, "http://127.0.0.1:9", lambda _m: None) == "3.9.2"
    finally:
        proc.kill()
        proc.wait()
