"""The shared wording helpers: the exact text every caller prints."""

from __future__ import annotations

from kafkaops.text import close_matches, did_you_mean, format_uptime


def test_close_matches_best_first_within_n_and_cutoff() -> None:
    names = ["db-live-events", "db-live-event", "orders", "db-live-evnts"]
    assert close_matches("db-live-events", names, n=2) == ["db-live-events", "db-live-evnts"]
    assert close_matches("orders", names, cutoff=0.99) == ["orders"]
    assert close_matches("zzz", names) == []
    assert close_matches("orderz", iter(["orders"])) == ["orders"]  # any iterable


def test_did_you_mean_names_several_with_or() -> None:
    assert did_you_mean("payment", ["other", "payment-log", "payments"]) == "did you mean payments or payment-log?"  # best first


def test_did_you_mean_is_empty_when_nothing_is_close() -> None:
    assert did_you_mean("payments", ["orders", "db-live-events"]) == ""
    assert did_you_mean("anything", []) == ""


def test_did_you_mean_one_strong_match() -> None:
    # topics: one name, cutoff 0.8 (a typo like db_live_event for db-live-events passes, a loose likeness does not)
    assert did_you_mean("db-live-event", ["db-live-events", "db-live"], n=1, cutoff=0.8) == "did you mean db-live-events?"
    assert did_you_mean("db-live", ["db-live-events-archive"], n=1, cutoff=0.8) == ""


def test_did_you_mean_quoted() -> None:
    # runbooks: the name as its repr, inside the caller's parentheses
    assert did_you_mean("failures", ["failure", "topics"], n=1, quote=True) == "did you mean 'failure'?"


def test_format_uptime() -> None:
    assert format_uptime(None) == ""
    assert format_uptime(0) == "0s"
    assert format_uptime(7.9) == "7s"  # truncated, not rounded
    assert format_uptime(59) == "59s"
    assert format_uptime(60) == "1m00s"
    assert format_uptime(185) == "3m05s"
    assert format_uptime(3599) == "59m59s"
    assert format_uptime(3600) == "1h00m"
    assert format_uptime(2 * 3600 + 7 * 60 + 59) == "2h07m"
    assert format_uptime(100 * 3600) == "100h00m"
