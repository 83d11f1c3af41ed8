"""The live position (produce/position.py): what was sent above the low-water mark, as ranges."""

from kafkaops.procedures.produce.position import LivePosition


def test_sent_rows_open_gaps_and_fill_holes() -> None:
    pos = LivePosition(0, 0)
    pos.sent([1, 2, 5, 6, 9])
    assert (pos.last_id, pos.upto, pos.text()) == (0, 9, "3-4,7-8")
    pos.sent([4, 7])  # late commits: their holes close
    assert pos.text() == "3,8"
    pos.read_to(12)  # read up to 12, nothing above 9 committed
    assert (pos.upto, pos.text()) == (12, "3,8,10-12")


def test_settle_moves_the_low_water_mark_and_drops_the_holes_below_it() -> None:
    pos = LivePosition.parse(0, 12, "3,8,10-12")
    pos.settle_to(10)
    assert (pos.last_id, pos.upto, pos.text()) == (10, 12, "11-12")
    pos.settle_to(12)
    assert pos.clean or (pos.last_id, pos.upto, pos.text()) == (12, 12, "")
    assert pos.clean


def test_text_round_trips_and_a_plain_offset_is_clean() -> None:
    assert LivePosition.parse(5, None, None).clean
    pos = LivePosition.parse(5, 20, "6-7,10")
    assert LivePosition.parse(pos.last_id, pos.upto, pos.text()) == pos
    assert pos.bounds() == ([6, 10], [7, 10])
    pos.sent([6])
    assert pos.text() == "7,10"
    pos.sent([30])
    assert (pos.upto, pos.text()) == (30, "7,10,21-29")
