from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chorus.gamification.domain.periods import PeriodKind, is_period, period_of


@given(st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2999, 12, 31)))
def test_every_period_a_moment_falls_in_is_a_period(moment: datetime) -> None:
    for kind in PeriodKind:
        assert is_period(kind, period_of(kind, moment.replace(tzinfo=UTC)))


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        (PeriodKind.WEEK, "2026-W99"),
        (PeriodKind.WEEK, "2026-W00"),
        (PeriodKind.WEEK, "2025-W53"),  # 2025 has 52 ISO weeks
        (PeriodKind.WEEK, "2026-11"),
        (PeriodKind.WEEK, "2026-W4"),
        (PeriodKind.MONTH, "2026-13"),
        (PeriodKind.MONTH, "2026-00"),
        (PeriodKind.MONTH, "2026-W48"),
        (PeriodKind.QUARTER, "2026-Q5"),
        (PeriodKind.QUARTER, "2026-Q0"),
        (PeriodKind.ALL_TIME, "2026"),
        (PeriodKind.WEEK, "2026-W48\n"),
        (PeriodKind.WEEK, "٢٠٢٦-W48"),  # Arabic-Indic digits: Python's \d matches them
    ],
)
def test_names_of_no_period_are_refused(kind: PeriodKind, name: str) -> None:
    assert not is_period(kind, name)


def test_2026_has_a_week_53() -> None:
    assert is_period(PeriodKind.WEEK, "2026-W53")
    assert period_of(PeriodKind.WEEK, datetime(2026, 12, 31, tzinfo=UTC)) == "2026-W53"
