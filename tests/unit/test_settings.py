from __future__ import annotations

from pathlib import Path

import pytest

from kafkaops.errors import UsageError
from kafkaops.settings import VARIABLES, load_settings
from kafkaops.stack_record import RECORD_FIELDS, STACK_RECORD, read_stack_record, write_stack_record

REPO = Path(__file__).resolve().parents[2]


def test_defaults(tmp_path: Path) -> None:
    s = load_settings(env={"KAFKAOPS_HOME": str(tmp_path / "h")}, cwd=tmp_path)
    assert s.kafka_topic == "db_live_events"
    assert s.kafka_broker == "localhost:9092" and s.sources["kafka_broker"] == "default"
    assert s.zookeeper_connect == "localhost:2181"
    assert s.kafka_home == tmp_path / "h" / "kafka" / "3.9.2"
    assert s.server_properties == s.kafka_home / "config" / "server.properties"
    assert s.topic_partitions == 1 and s.topic_replication_factor == 1
    assert s.database_url is None and s.env_file is None


def test_flags_beat_env_beat_dotenv_beat_defaults(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("KAFKA_TOPIC=from_dotenv\nKAFKA_CLIENT_ID=dot\nKAFKA_BROKER=dot:1\n")
    env = {"KAFKAOPS_HOME": str(tmp_path), "KAFKA_BROKER": "env:2"}
    s = load_settings({"kafka_topic": "from_flag"}, env=env, cwd=tmp_path)
    assert s.kafka_topic == "from_flag" and s.sources["kafka_topic"] == "flag"
    assert s.kafka_broker == "env:2" and s.sources["kafka_broker"] == "env"
    assert s.kafka_client_id == "dot" and s.sources["kafka_client_id"] == ".env"
    assert s.env_file == tmp_path / ".env"


def test_explicit_env_file_and_missing_one(tmp_path: Path) -> None:
    f = tmp_path / "other.env"
    f.write_text("DATABASE_URL=postgresql://u:pw@h/db\n")
    s = load_settings(env={"KAFKAOPS_HOME": str(tmp_path)}, env_file=f, cwd=tmp_path)
    assert s.database_url == "postgresql://u:pw@h/db" and s.env_file == f
    with pytest.raises(UsageError, match="does not exist"):
        load_settings(env={}, env_file=tmp_path / "missing.env", cwd=tmp_path)


def test_broker_and_zookeeper_derived_from_server_properties(tmp_path: Path) -> None:
    conf = tmp_path / "server.properties"
    conf.write_text("listeners=PLAINTEXT://0.0.0.0:19092\nadvertised.listeners=PLAINTEXT://myhost:19092\nzookeeper.connect=zk:12181/chroot\n")
    s = load_settings(env={"KAFKAOPS_HOME": str(tmp_path), "KAFKAOPS_SERVER_PROPERTIES": str(conf)}, cwd=tmp_path)
    assert s.kafka_broker == "myhost:19092" and s.sources["kafka_broker"] == "config"
    assert s.zookeeper_connect == "zk:12181/chroot"


@pytest.mark.parametrize(
    ("var", "value", "message"),
    [
        ("KAFKA_TOPIC_PARTITIONS", "0", "at least 1"),
        ("KAFKA_TOPIC_PARTITIONS", "two", "not a whole number"),
        ("KAFKAOPS_START_TIMEOUT", "-1", "more than 0"),
    ],
)
def test_bad_numbers_are_usage_errors(tmp_path: Path, var: str, value: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        load_settings(env={"KAFKAOPS_HOME": str(tmp_path), var: value}, cwd=tmp_path)


def test_security_settings_reach_the_client_config(tmp_path: Path) -> None:
    from kafkaops.adapters.kafka import client_config

    env = {
        "KAFKAOPS_HOME": str(tmp_path),
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": "PLAIN",
        "KAFKA_SASL_USERNAME": "u",
        "KAFKA_SASL_PASSWORD": "s3cret",
    }
    conf = client_config(load_settings(env=env, cwd=tmp_path))
    assert conf["security.protocol"] == "SASL_SSL" and conf["sasl.password"] == "s3cret"


def test_every_variable_is_documented_in_env_example() -> None:
    text = (REPO / ".env.example").read_text()
    for var in VARIABLES.values():
        assert f"{var.env}=" in text, f"{var.env} is missing from .env.example"


def test_an_env_file_error_names_the_line_with_text_after_blank_lines(tmp_path: Path) -> None:
    # python-dotenv starts the failing statement at the blank lines before it (line 2 here).
    (tmp_path / ".env").write_text("KAFKA_TOPIC=t\n\n\nexport  KAFKA_CLIENT_ID = 'me\n")
    with pytest.raises(UsageError, match=r"\.env, line 4: the value of KAFKA_CLIENT_ID opens a quote \(\'\) that is never closed$"):
        load_settings(env={"KAFKAOPS_HOME": str(tmp_path)}, cwd=tmp_path)


def test_mode_picks_the_installation(tmp_path: Path) -> None:
    home = {"KAFKAOPS_HOME": str(tmp_path / "h")}
    zk = load_settings(env=home, cwd=tmp_path)
    assert zk.mode == "zookeeper" and zk.kafka_home == tmp_path / "h" / "kafka" / "3.9.2"
    kraft = load_settings(env={**home, "KAFKAOPS_MODE": "kraft"}, cwd=tmp_path)
    assert kraft.mode == "kraft" and kraft.kraft and kraft.kafka_home == tmp_path / "h" / "kafka" / "4.4.0"
    implied = load_settings({"kafka_version": "4.1.1"}, env=home, cwd=tmp_path)
    assert implied.mode == "kraft" and implied.kafka_home == tmp_path / "h" / "kafka" / "4.1.1"
    with pytest.raises(UsageError, match="zookeeper or kraft"):
        load_settings(env={**home, "KAFKAOPS_MODE": "raft"}, cwd=tmp_path)
    with pytest.raises(UsageError, match="does not run in zookeeper mode"):
        load_settings({"kafka_version": "4.4.0", "mode": "zookeeper"}, env=home, cwd=tmp_path)


def test_mode_is_read_from_the_config_never_from_the_version(tmp_path: Path) -> None:
    conf = tmp_path / "server.properties"
    conf.write_text("process.roles=broker,controller\nnode.id=1\nlisteners=PLAINTEXT://localhost:19092,CONTROLLER://localhost:19093\n")
    env = {"KAFKAOPS_HOME": str(tmp_path), "KAFKAOPS_SERVER_PROPERTIES": str(conf), "KAFKAOPS_KAFKA_VERSION": "3.9.2"}
    s = load_settings(env=env, cwd=tmp_path)
    assert s.mode == "kraft" and s.sources["mode"] == "config" and s.kafka_broker == "localhost:19092"
    conf.write_text("broker.id=0\nzookeeper.connect=localhost:2181\n")  # no process.roles: ZooKeeper mode, whatever KAFKAOPS_MODE says
    s = load_settings(env={**env, "KAFKAOPS_MODE": "kraft", "KAFKAOPS_KAFKA_VERSION": "4.4.0"}, cwd=tmp_path)
    assert s.mode == "zookeeper" and s.sources["mode"] == "config"


def test_stack_record_sits_between_dotenv_and_defaults(tmp_path: Path) -> None:
    home = tmp_path / "h"
    cfg = tmp_path / "migrated" / "server.properties"
    write_stack_record(home, {"kafka_version": "3.9.2", "server_properties": str(cfg)})
    s = load_settings(env={"KAFKAOPS_HOME": str(home)}, cwd=tmp_path)
    assert s.server_properties == cfg and s.sources["server_properties"] == "stack record"
    assert s.kafka_version == "3.9.2" and s.sources["kafka_version"] == "stack record"
    (tmp_path / ".env").write_text(f"KAFKAOPS_SERVER_PROPERTIES={tmp_path / 'mine.properties'}\n")
    s = load_settings(env={"KAFKAOPS_HOME": str(home), "KAFKAOPS_KAFKA_VERSION": "3.9.1"}, cwd=tmp_path)
    assert s.server_properties == tmp_path / "mine.properties" and s.sources["server_properties"] == ".env"
    assert s.kafka_version == "3.9.1" and s.sources["kafka_version"] == "env"


def test_a_profile_and_the_stack_record_apply_together_and_never_say_where_they_are(tmp_path: Path) -> None:
    # load_settings reads KAFKAOPS_HOME, the profile's name and its folder before the profile and the record:
    # neither may set them (else the values would be read once too early).
    from kafkaops.profiles import FIELDS

    assert not {"kafkaops_home", "profile", "config_dir"} & (set(RECORD_FIELDS) | set(FIELDS.values()))
    home, cfg = tmp_path / "h", tmp_path / "cfg"
    write_stack_record(home, {"kafka_version": "3.9.2"})
    cfg.mkdir()
    (cfg / "profiles.toml").write_text('default = "p"\n[profiles.p]\nbroker = "p:9093"\ntopic = "t1"\n')
    (cfg / "profiles.toml").chmod(0o600)
    s = load_settings(env={"KAFKAOPS_HOME": str(home), "KAFKAOPS_CONFIG_DIR": str(cfg), "KAFKA_TOPIC": "t2"}, cwd=tmp_path)
    assert (s.kafka_version, s.kafka_broker, s.kafka_topic) == ("3.9.2", "p:9093", "t2")
    assert [s.sources[n] for n in ("kafka_version", "kafka_broker", "kafka_topic", "kafka_heap")] == ["stack record", "profile", "env", "default"]


def test_stack_record_merges_removes_and_refuses_other_fields(tmp_path: Path) -> None:
    write_stack_record(tmp_path, {"kafka_version": "3.9.2", "kafka_home": "/k"})
    write_stack_record(tmp_path, {"kafka_version": "4.4.0", "kafka_home": None})
    assert read_stack_record(tmp_path) == {"kafka_version": "4.4.0"}
    with pytest.raises(ValueError, match="database_url"):
        write_stack_record(tmp_path, {"database_url": "postgresql://u:secret@h/db"})
    assert not (tmp_path / (STACK_RECORD + ".tmp")).exists()


def test_broken_stack_record_is_a_usage_error_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / STACK_RECORD).write_text("{not json")
    with pytest.raises(UsageError, match="stack record") as info:
        load_settings(env={"KAFKAOPS_HOME": str(tmp_path)}, cwd=tmp_path)
    assert str(tmp_path / STACK_RECORD) in str(info.value) + (info.value.hint or "")


def test_kraft_mode_runs_on_a_3_9_bridge_release(tmp_path: Path) -> None:
    # A migrated stack is KRaft on the 3.9 binaries: KAFKAOPS_MODE=kraft with 3.9.2 (or a stack record saying 3.9.2) is no contradiction.
    home = tmp_path / "h"
    s = load_settings(env={"KAFKAOPS_HOME": str(home), "KAFKAOPS_MODE": "kraft", "KAFKAOPS_KAFKA_VERSION": "3.9.2"}, cwd=tmp_path)
    assert s.mode == "kraft" and s.kafka_version == "3.9.2" and s.kafka_home == home / "kafka" / "3.9.2"
    write_stack_record(home, {"kafka_version": "3.9.2"})
    s = load_settings(env={"KAFKAOPS_HOME": str(home), "KAFKAOPS_MODE": "kraft"}, cwd=tmp_path)
    assert s.mode == "kraft" and s.kafka_version == "3.9.2"


def test_a_kafka_home_given_without_a_version_reports_the_version_installed_there(tmp_path: Path) -> None:
    # KAFKA_HOME pointing at a 4.4 install with no KAFKAOPS_KAFKA_VERSION was reported (and installed Connect) as 3.9.2.
    kafka = tmp_path / "kafka_2.13-4.4.0"
    (kafka / "libs").mkdir(parents=True)
    for jar in ("kafka_2.13-4.4.0.jar", "kafka_2.13-4.4.0-test.jar", "kafka-clients-4.4.0.jar"):
        (kafka / "libs" / jar).touch()
    env = {"KAFKAOPS_HOME": str(tmp_path / "h"), "KAFKA_HOME": str(kafka)}
    s = load_settings(env=env, cwd=tmp_path)
    assert (s.kafka_version, s.sources["kafka_version"], s.mode) == ("4.4.0", "installation", "kraft")
    assert s.connect_home == tmp_path / "h" / "connect" / "4.4.0"
    assert load_settings(env={**env, "KAFKAOPS_KAFKA_VERSION": "4.3.0"}, cwd=tmp_path).kafka_version == "4.3.0"  # a version given still wins
    with pytest.raises(UsageError, match="does not run in zookeeper mode"):
        load_settings(env={**env, "KAFKAOPS_MODE": "zookeeper"}, cwd=tmp_path)
    empty = tmp_path / "not-yet-installed"
    s = load_settings(env={**env, "KAFKA_HOME": str(empty)}, cwd=tmp_path)
    assert (s.kafka_version, s.sources["kafka_version"]) == ("3.9.2", "default")
