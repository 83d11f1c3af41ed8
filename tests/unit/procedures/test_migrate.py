"""migrate's pure parts: the configs it derives from the user's, the preflight's refusals, the state file (the comparison: test_cluster_snapshot.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kafkaops.errors import UsageError
from kafkaops.procedures.migrate import configs, stack_health
from kafkaops.procedures.migrate.plan import ibp_ok, unsupported
from kafkaops.procedures.migrate.state import IN_PROGRESS, MigrationState, migration_label, read_state, write_state
from kafkaops.settings import load_settings

BROKER = {
    "broker.id": "0",
    "listeners": "PLAINTEXT://localhost:9092",
    "log.dirs": "/data/kafka-logs",
    "zookeeper.connect": "localhost:2181",
    "zookeeper.connection.timeout.ms": "18000",
    "offsets.topic.replication.factor": "1",
}


def test_the_migration_broker_is_the_users_config_plus_the_migration_configs() -> None:
    out = configs.migration_broker_config(BROKER, controller_id=3000, controller_port=9093)
    assert {k: out[k] for k in BROKER} == BROKER  # nothing of the user's is dropped or changed
    assert out["zookeeper.metadata.migration.enable"] == "true"
    assert out["controller.quorum.voters"] == "3000@localhost:9093"
    assert out["controller.listener.names"] == "CONTROLLER"
    assert out["listener.security.protocol.map"] == "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
    assert out["inter.broker.protocol.version"] == "3.9"


def test_the_kraft_broker_keeps_the_broker_id_as_node_id_and_drops_zookeeper() -> None:
    out = configs.kraft_broker_config(BROKER, controller_id=3000, controller_port=9093)
    assert out["process.roles"] == "broker" and out["node.id"] == "0"
    assert not any(k.startswith("zookeeper.") or k == "broker.id" for k in out)
    assert out["log.dirs"] == "/data/kafka-logs"


def test_the_finalized_controller_has_no_migration_configs() -> None:
    kw = {"controller_id": 3000, "controller_port": 9093, "metadata_dir": Path("/m"), "zk_connect": "localhost:2181"}
    mig = configs.controller_config(BROKER, migration=True, **kw)  # type: ignore[arg-type]
    final = configs.controller_config(BROKER, migration=False, **kw)  # type: ignore[arg-type]
    assert mig["zookeeper.metadata.migration.enable"] == "true" and mig["zookeeper.connect"] == "localhost:2181"
    assert "zookeeper.connect" not in final and configs.MIGRATION_FLAG not in final
    assert final["process.roles"] == "controller" and final["inter.broker.listener.name"] == "PLAINTEXT"


def test_a_diff_shows_each_changed_line() -> None:
    lines = configs.diff({"a": "1", "b": "2"}, {"a": "1", "b": "3"}, "old", "new")
    assert lines[:2] == ["--- old", "+++ new"]
    assert "-b=2" in lines and "+b=3" in lines and not any(ln.endswith("a=1") for ln in lines)


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"authorizer.class.name": "kafka.security.authorizer.AclAuthorizer"}, "authorizer.class.name"),
        ({"control.plane.listener.name": "CP"}, "control.plane"),
        ({"listener.security.protocol.map": "PLAINTEXT:SSL"}, "inter-broker listener"),
        ({"zookeeper.set.acl": "true"}, "secured ZooKeeper"),
    ],
)
def test_features_the_migration_does_not_carry_are_named(extra: dict[str, str], named: str) -> None:
    found = unsupported({**BROKER, **extra})
    assert len(found) == 1 and named in found[0]


def test_a_plain_broker_has_nothing_unsupported_and_a_right_ibp() -> None:
    assert unsupported(BROKER) == []
    assert ibp_ok(BROKER) and ibp_ok({"inter.broker.protocol.version": "3.9-IV0"})
    assert not ibp_ok({"inter.broker.protocol.version": "3.6"})


def _state(tmp: Path) -> MigrationState:
    return MigrationState(
        2, IN_PROGRESS, "cid", 0, 3000, 9093, "/m", "/s", "/z", "/zd", "/k", {"root": str(tmp)}, {"cluster_id": "cid", "topics": {}, "groups": {}}
    )


def test_state_round_trip_and_the_status_label(tmp_path: Path) -> None:
    path = tmp_path / "migration" / "state.json"
    write_state(path, _state(tmp_path), "phase 2 completed")
    back = read_state(path)
    assert back is not None and back.phase == 2 and back.history[0].endswith("phase 2 completed")
    assert migration_label(tmp_path) == "migrating (phase 2 of 5)"
    back.status = "finalized"
    write_state(path, back)
    assert migration_label(tmp_path) is None


def test_a_broken_state_file_is_a_usage_error_never_a_guess(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(UsageError, match="cannot be read"):
        read_state(path)


def test_a_kraft_stack_has_nothing_to_migrate(tmp_path: Path) -> None:
    conf = tmp_path / "server.properties"
    conf.write_text("process.roles=broker,controller\nnode.id=1\n", encoding="utf-8")
    settings = load_settings(env={"KAFKAOPS_HOME": str(tmp_path), "KAFKAOPS_SERVER_PROPERTIES": str(conf)}, cwd=tmp_path)
    check = stack_health(settings, [])
    assert not check.ok and "nothing to migrate" in check.detail


def test_a_failure_names_the_phase_what_runs_and_the_next_commands(tmp_path: Path) -> None:
    from kafkaops.errors import ServiceFailed
    from kafkaops.procedures.migrate import _stopped

    settings = load_settings(env={"KAFKAOPS_HOME": str(tmp_path / "ops"), "KAFKA_HOME": str(tmp_path / "k")}, cwd=tmp_path)
    exc = _stopped(ServiceFailed("the broker exited while starting", hint="read its log"), settings, _state(tmp_path), 3)
    assert exc.hint == "read its log; then resume with `kafkaops migrate --to kraft`, or return to ZooKeeper mode with `kafkaops migrate --rollback`"
    assert exc.details[0] == "the migration stopped in phase 3 (broker in migration mode; metadata copied to KRaft); phase 2 was the last completed"
    assert exc.details[1:] == ["ZooKeeper: not running", "KRaft controller: not running", "broker: not running"]
    final = _stopped(ServiceFailed("x"), settings, _state(tmp_path), 5)
    assert final.hint == "resume with `kafkaops migrate --to kraft --finalize`"  # no rollback offered in phase 5
