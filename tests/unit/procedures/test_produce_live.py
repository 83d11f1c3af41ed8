"""The live rounds' checkpoints (produce/live.py), with the database's answers played by a stub."""

from typing import Any

import pytest

from kafkaops.adapters import pipeline_sql
from kafkaops.procedures.db import TableRef
from kafkaops.procedures.produce.live import Checkpoints


@pytest.fixture
def db_answers(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    state: dict[str, Any] = {"open": set(), "asked": 0, "level": 0, "writers": []}

    def ended(conn: Any, vxids: list[str]) -> bool:
        state["asked"] += 1
        return not set(vxids) & state["open"]

    monkeypatch.setattr(pipeline_sql, "ended", ended)
    monkeypatch.setattr(pipeline_sql, "high_water", lambda *a: state["level"])
    monkeypatch.setattr(pipeline_sql, "writers", lambda *a: list(state["writers"]))
    return state


def test_checkpoints_left_by_a_slow_writer_clear_at_once_in_a_few_probes(db_answers: dict[str, Any]) -> None:
    """Regression: one `ended` query per checkpoint stalled a round for a second after a 25 s writer."""
    cps, ref = Checkpoints(), TableRef("public", "livedb")
    db_answers["open"] = {"slow"}
    for level in range(1, 1001):  # 1000 rounds while the slow writer is open
        db_answers["level"], db_answers["writers"] = level, ["slow", f"w{level}"]
        assert cps.probe(None, ref) == (level, None)
    db_answers["open"] = {"w1001"}  # the slow writer ended; a new one writes
    db_answers["level"], db_answers["writers"], db_answers["asked"] = 1001, ["w1001"], 0
    assert cps.probe(None, ref) == (1001, 1000)  # every checkpoint up to 1000 cleared
    assert db_answers["asked"] <= 12
    assert [lvl for lvl, _ in cps.open] == [1001]


def test_no_writers_settles_at_the_level_read(db_answers: dict[str, Any]) -> None:
    cps, ref = Checkpoints(), TableRef("public", "livedb")
    db_answers["level"], db_answers["writers"], db_answers["open"] = 7, ["a"], {"a"}
    assert cps.probe(None, ref) == (7, None)
    db_answers["level"], db_answers["writers"] = 9, []
    assert cps.probe(None, ref) == (9, 9)
    assert cps.open == []


@pytest.mark.parametrize(
    "extra",
    [{"exactly_once": True}, {"envelope": "debezium"}, {"envelope": "debezium", "with_schema": True}],
)
def test_the_timestamp_cursor_refuses_what_follows_the_id_cursor_only(extra: dict[str, Any]) -> None:
    """Exactly-once recovery and the Debezium encoder were built for the id cursor (merged side by side with
    --mode timestamp+id); together they would send events with the wrong op or a position eos cannot recover."""
    from kafkaops.errors import UsageError
    from kafkaops.procedures.produce.options import ProduceOptions, validate

    validate(ProduceOptions(**extra))  # fine with the id cursor
    with pytest.raises(UsageError, match="works with --mode id only"):
        validate(ProduceOptions(mode="timestamp+id", **extra))
