"""What a producer's position has not sent, as id ranges: what the hand-over (procedures/connect/handover.py) and a
live position's reader with Debezium's query (procedures/produce/reader.py) read."""

from __future__ import annotations

from kafkaops.procedures.connect.handover import END
from kafkaops.procedures.produce.position import LivePosition


def test_a_plain_position_leaves_everything_above_it() -> None:
    assert LivePosition.parse(3000, None, None).ranges(END) == [(3000, END)]


def test_a_live_position_leaves_only_its_holes_and_what_is_above_what_it_read() -> None:
    # `produce --follow` sent 11..20 but 13 and 15-16 (a transaction still open): those, then 21 on
    live = LivePosition.parse(10, 20, "13,15-16")
    assert live.ranges(END) == [(12, 13), (14, 16), (20, END)]
    assert live.ranges(15) == [(12, 13), (14, 15)]  # up to a level: nothing above it


def test_holes_at_or_below_the_low_water_mark_are_not_read_again() -> None:
    assert LivePosition.parse(10, 20, "5-12").ranges(END) == [(10, 12), (20, END)]


def test_only_debezium_keys_without_schemas_count_as_debezium_events() -> None:
    from kafkaops.procedures.connect.handover import DEBEZIUM_KEY

    assert DEBEZIUM_KEY.fullmatch(b'{"id":10001}') and DEBEZIUM_KEY.fullmatch(b'{"id":-3}')
    for other in (b"10001", b'{"schema":{"type":"struct"},"payload":{"id":1}}', b'{"id": 1}', b'{"id":1,"x":2}'):
        assert not DEBEZIUM_KEY.fullmatch(other), other


def test_a_row_the_client_refuses_at_the_hand_over_is_a_clear_error() -> None:
    """An event librdkafka refuses before sending (over the hand-over's 1 MB, or a failed producer) stops the
    hand-over with the row's key and the cause, instead of an 'unexpected KafkaException'."""
    import pytest
    from confluent_kafka import KafkaError, KafkaException

    from kafkaops.errors import KafkaopsError
    from kafkaops.procedures.connect.handover import _Sender

    class Refusing:
        def produce(self, topic: str, value: bytes, key: bytes, on_delivery: object) -> None:
            raise KafkaException(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE, "Broker: Message size too large"))

    sender = object.__new__(_Sender)
    sender.topic, sender.sent, sender.errors, sender.producer = "db_live_events", 0, [], Refusing()
    with pytest.raises(KafkaopsError, match=r'the hand-over could not send the row keyed \{"id":7\} to db_live_events: MSG_SIZE_TOO_LARGE') as info:
        sender.send([(b'{"id":7}', None, b"x" * 10)])
    assert "rerun `kafkaops cdc deploy --from-producer`" in (info.value.hint or "")
    assert sender.sent == 0
