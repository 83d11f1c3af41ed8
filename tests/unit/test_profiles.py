"""Profiles: the TOML file, references to secrets, masking, and where profile values rank among the settings."""

from __future__ import annotations

import os
import sys
import tomllib
from pathlib import Path

import pytest

from kafkaops import profiles
from kafkaops.errors import UsageError
from kafkaops.profiles import Profile, Ref
from kafkaops.settings import load_settings

PROFILES = """
default = "prod"

[profiles.prod]
broker = "prod-kafka:9093"
zookeeper = "prod-zk:2181"
topic = "orders"
database_url = {env = "PROD_DB"}

[profiles.prod.client]
"security.protocol" = "SASL_SSL"
sasl.mechanism = "SCRAM-SHA-512"
sasl.username = "alice"
sasl.password = {env = "PROD_PW"}
"ssl.key.password" = {file = "key-pass.txt"}

[profiles.dev]
broker = "dev:9092"
"""


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    folder = tmp_path / "cfg"
    folder.mkdir()
    (folder / "profiles.toml").write_text(PROFILES)
    (folder / "profiles.toml").chmod(0o600)
    (folder / "key-pass.txt").write_text("key-s3cret\n")
    return folder


def _env(tmp_path: Path, cfg: Path, **more: str) -> dict[str, str]:
    return {"KAFKAOPS_HOME": str(tmp_path / "home"), "KAFKAOPS_CONFIG_DIR": str(cfg), **more}


def test_file_reads_quoted_and_dotted_keys_and_references(cfg: Path) -> None:
    found = profiles.read_file(cfg / "profiles.toml")
    assert found.default == "prod" and sorted(found.profiles) == ["dev", "prod"]
    prod = found.profiles["prod"]
    assert prod.client["sasl.mechanism"] == "SCRAM-SHA-512"  # dotted key: a nested table in TOML, flattened
    assert prod.client["sasl.password"] == Ref("env", "PROD_PW")
    assert prod.values["database_url"] == Ref("env", "PROD_DB")


def test_default_profile_sits_between_dotenv_and_defaults(tmp_path: Path, cfg: Path) -> None:
    (tmp_path / ".env").write_text("KAFKA_TOPIC=from_dotenv\n")
    s = load_settings(env=_env(tmp_path, cfg, PROD_PW="pw-1", PROD_DB="postgresql://u:dbpw@h/db"), cwd=tmp_path)
    assert s.profile == "prod" and s.profile_file == cfg / "profiles.toml"
    assert s.kafka_broker == "prod-kafka:9093" and s.sources["kafka_broker"] == "profile"
    assert s.zookeeper_connect == "prod-zk:2181" and s.sources["zookeeper_connect"] == "profile"
    assert s.kafka_topic == "from_dotenv" and s.sources["kafka_topic"] == ".env"  # .env wins over the profile
    assert s.database_url == "postgresql://u:dbpw@h/db"
    assert s.client_security == {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "alice",
        "sasl.password": "pw-1",
        "ssl.key.password": "key-s3cret",
    }
    assert s.client_origins["sasl.password"] == f"profile prod ({cfg / 'profiles.toml'}), from env PROD_PW"
    assert s.warnings == ()


def test_flags_env_and_x_win_over_the_profile(tmp_path: Path, cfg: Path) -> None:
    env = _env(tmp_path, cfg, PROD_PW="pw-1", PROD_DB="x", KAFKA_SASL_PASSWORD="env-pw", KAFKA_BROKER="env:1")
    s = load_settings({"kafka_topic": "flag_topic", "client_x": ("sasl.username=bob", "linger.ms=5")}, env=env, cwd=tmp_path)
    assert s.kafka_broker == "env:1" and s.kafka_topic == "flag_topic"
    assert s.client_security["sasl.password"] == "env-pw" and "sasl.password" not in s.client_origins  # named by its variable
    assert s.client_security["sasl.username"] == "bob" and s.client_origins["sasl.username"] == "-X"
    assert s.client_security["linger.ms"] == "5"


def test_profile_flag_picks_another_and_a_secret_is_read_only_when_used(tmp_path: Path, cfg: Path) -> None:
    s = load_settings({"profile": "dev"}, env=_env(tmp_path, cfg), cwd=tmp_path)  # PROD_PW unset: prod is not used
    assert s.profile == "dev" and s.kafka_broker == "dev:9092" and s.client_security == {}
    s = load_settings(env=_env(tmp_path, cfg, KAFKAOPS_PROFILE="dev"), cwd=tmp_path)
    assert s.profile == "dev"
    overridden = _env(tmp_path, cfg, KAFKA_SASL_PASSWORD="env-pw", DATABASE_URL="postgresql://h/db")
    assert load_settings(env=overridden, cwd=tmp_path).client_security["sasl.password"] == "env-pw"


def test_missing_reference_and_unknown_profile_are_one_line_errors(tmp_path: Path, cfg: Path) -> None:
    with pytest.raises(UsageError, match="sasl.password comes from the environment variable PROD_PW, which is not set"):
        load_settings(env=_env(tmp_path, cfg, PROD_DB="x"), cwd=tmp_path)
    with pytest.raises(UsageError, match=r"no profile named 'prdo' .*did you mean prod"):
        load_settings({"profile": "prdo"}, env=_env(tmp_path, cfg), cwd=tmp_path)
    (cfg / "key-pass.txt").unlink()
    with pytest.raises(UsageError, match=r"ssl.key.password comes from the file .*key-pass.txt: no such file"):
        load_settings(env=_env(tmp_path, cfg, PROD_PW="p", PROD_DB="x"), cwd=tmp_path)


def test_no_file_no_profile(tmp_path: Path) -> None:
    s = load_settings(env=_env(tmp_path, tmp_path / "nothing"), cwd=tmp_path)
    assert s.profile is None and s.client_security == {}
    with pytest.raises(UsageError, match="no profile file"):
        load_settings({"profile": "prod"}, env=_env(tmp_path, tmp_path / "nothing"), cwd=tmp_path)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes: Windows ACLs are not checked")
def test_file_readable_by_others_is_warned(tmp_path: Path, cfg: Path) -> None:
    (cfg / "profiles.toml").chmod(0o644)
    s = load_settings({"profile": "dev"}, env=_env(tmp_path, cfg), cwd=tmp_path)
    assert s.warnings == (f"the profile file {cfg / 'profiles.toml'} is readable by other users (mode 0644): run `chmod 600 {cfg / 'profiles.toml'}`",)


def test_writer_round_trips_and_writes_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "c" / "profiles.toml"
    odd = Profile('we"ird\\ name', {"broker": "h:1", "topic": "t\n2"}, {"sasl.password": Ref("env", "X"), "a.b": "c=d"})
    profiles.add(path, odd, replace=False, make_default=True)
    back = profiles.read_file(path)
    assert back.default == odd.name and back.profiles[odd.name] == odd
    assert tomllib.loads(path.read_text())["default"] == odd.name
    if sys.platform != "win32":
        assert path.stat().st_mode & 0o777 == 0o600
    with pytest.raises(UsageError, match="already exists"):
        profiles.add(path, odd, replace=False, make_default=False)


def test_add_refuses_a_secret_as_text(tmp_path: Path) -> None:
    path = tmp_path / "profiles.toml"
    for prof in (Profile("p", {}, {"sasl.password": "pw"}), Profile("p", {"database_url": "postgresql://u:pw@h/db"}, {})):
        with pytest.raises(UsageError, match="would be written into"):
            profiles.add(path, prof, replace=False, make_default=False)
    assert not path.exists()


def test_show_masks_every_secret(cfg: Path) -> None:
    prod = profiles.read_file(cfg / "profiles.toml").profiles["prod"]
    literal = Profile("lit", {"database_url": "postgresql://u:dbpw@h/db"}, {"sasl.password": "pw", "sasl.oauthbearer.client.secret": "cs"})
    shown = str(profiles.describe(prod, "prod")) + str(profiles.describe(literal, None))
    assert "env:PROD_PW" in shown and "file:key-pass.txt" in shown
    for secret in ("dbpw", "'pw'", "'cs'"):
        assert secret not in shown


def test_use_and_remove(cfg: Path) -> None:
    path = cfg / "profiles.toml"
    assert profiles.use(path, "dev").default == "dev"
    assert profiles.use(path, None).default is None
    profiles.use(path, "dev")
    after = profiles.remove(path, "dev")
    assert after.default is None and list(after.profiles) == ["prod"]
    with pytest.raises(UsageError, match="no profile named"):
        profiles.remove(path, "dev")


def test_config_dir_follows_the_platform(monkeypatch: pytest.MonkeyPatch) -> None:
    assert profiles.config_dir({"KAFKAOPS_CONFIG_DIR": "/x/y"}) == Path("/x/y")
    if sys.platform.startswith("linux"):
        monkeypatch.setenv("XDG_CONFIG_HOME", "/xdg")
        assert profiles.config_dir({}) == Path("/xdg/kafkaops")
    assert os.environ.get("KAFKAOPS_PROFILE") is None
