"""What the engine reads back when faust's delivery skips offsets."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from chorus.gamification.app.positions import SourceRecord, in_order, skipped_range

TOPIC = "share.performed"


def record(offset: int, partition: int = 0) -> SourceRecord:
    return SourceRecord(TOPIC, partition, offset, b"k", str(offset).encode(), [])


def test_a_contiguous_batch_needs_nothing_from_the_broker() -> None:
    assert skipped_range(10, [10, 11, 12]) is None
    assert skipped_range(10, [12, 10, 11, 11]) is None  # order and redelivery do not matter


def test_already_scored_offsets_are_ignored() -> None:
    assert skipped_range(10, [7, 8, 9]) is None
    assert skipped_range(10, [8, 9, 10, 11]) is None


def test_a_skipped_head_is_read_back() -> None:
    # The restart case: committed at 100, faust delivers from 121 on.
    assert skipped_range(100, [121, 122, 123]) == (100, 123)


def test_a_hole_in_the_middle_is_read_back() -> None:
    assert skipped_range(10, [10, 11, 14, 15]) == (12, 15)


def test_in_order_drops_scored_and_repeated_records_and_sorts_by_offset() -> None:
    records = [record(12), record(10), record(11), record(10), record(9), record(5, partition=1)]
    ordered = in_order(records, {record(0).tp: 10, record(0, partition=1).tp: 3})
    assert [(r.partition, r.offset) for r in ordered] == [(0, 10), (0, 11), (0, 12), (1, 5)]


@given(
    start=st.integers(min_value=0, max_value=1_000),
    present=st.sets(st.integers(min_value=0, max_value=60), max_size=40),
)
def test_delivered_plus_read_back_covers_every_offset_up_to_the_last(
    start: int, present: set[int]
) -> None:
    delivered = [start + offset for offset in present]
    span = skipped_range(start, delivered)
    covered = set(delivered) | (set(range(*span)) if span else set())
    if delivered:
        assert set(range(start, max(delivered) + 1)) <= covered
    else:
        assert span is None
