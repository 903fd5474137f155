"""The figures as pure functions, on numbers worked out by hand."""

from datetime import date

import pytest

from chorus.insights.api import examples
from chorus.insights.api.grpc import CHUNK_BYTES, chunks
from chorus.insights.api.rest import AdvocateOut, ProgrammeOut
from chorus.insights.domain.figures import (
    Engagement,
    MediaRates,
    concentration,
    earned_media,
    participation,
)
from chorus.insights.domain.periods import (
    InvalidPeriod,
    Period,
    PeriodKind,
    day_range,
    period_named,
)
from chorus.insights.domain.reach import Audiences, potential_reach


def test_concentration_of_an_uneven_programme() -> None:
    # 5 advocates earned 50, 30, 10, 5 and 5 (100 in all).
    found = concentration([5, 50, 10, 30, 5])
    assert (found.contributors, found.total) == (5, 100)
    # ceil(2% of 5) = ceil(10% of 5) = ceil(20% of 5) = 1 advocate: 50 of 100.
    assert [(t.top, t.contributors, t.share) for t in found.tops] == [
        (0.02, 1, 0.5),
        (0.10, 1, 0.5),
        (0.20, 1, 0.5),
    ]
    # Ascending 5, 5, 10, 30, 50: Σ i·x = 5 + 10 + 30 + 120 + 250 = 415;
    # G = 2 * 415 / (5 * 100) - 6/5 = 0.46.
    assert found.gini == pytest.approx(0.46)
    assert found.lorenz == (
        (0.0, 0.0),
        (0.2, 0.05),
        (0.4, 0.10),
        (0.6, 0.20),
        (0.8, 0.50),
        (1.0, 1.0),
    )


def test_concentration_of_fifty_contributors_takes_the_top_one_five_and_ten() -> None:
    amounts = [100] + [10] * 9 + [1] * 40  # 100 + 90 + 40 = 230
    tops = [(t.contributors, round(t.share, 4)) for t in concentration(amounts).tops]
    assert tops == [(1, round(100 / 230, 4)), (5, round(140 / 230, 4)), (10, round(190 / 230, 4))]


def test_an_even_spread_has_no_concentration_and_nothing_is_not_zero_divided() -> None:
    assert concentration([10, 10, 10, 10]).gini == 0.0
    empty = concentration([])
    assert (empty.contributors, empty.total, empty.gini) == (0, 0, 0.0)
    assert [t.contributors for t in empty.tops] == [0, 0, 0]
    assert concentration([0, 0]).tops[0].share == 0.0


def test_participation_is_unknown_without_enrolment() -> None:
    assert participation(3, 12) == 0.25
    assert participation(0, 0) is None


def test_earned_media_value_is_the_rates_times_the_inputs_per_network() -> None:
    found = earned_media(
        {
            "linkedin": Engagement(clicks=10, reactions=20, impressions=2000),
            "x": Engagement(clicks=3, impressions=1000, reshares=4),
        },
        {
            "linkedin": MediaRates(cpm=30, cpc=2.5, per_reaction=0.1),
            "x": MediaRates(cpm=5, cpc=1),
        },
        "EUR",
    )
    # LinkedIn 30 * 2000 / 1000 + 2.5 * 10 + 0.1 * 20 = 87; X 5 + 3 = 8.
    assert [(v.network, v.value) for v in found.networks] == [("linkedin", 87.0), ("x", 8.0)]
    assert (found.total, found.currency) == (95.0, "EUR")
    assert found.networks[0].engagement.impressions == 2000


@pytest.mark.parametrize(
    ("kind", "name", "start", "end"),
    [
        (PeriodKind.DAY, "2026-12-02", date(2026, 12, 2), date(2026, 12, 3)),
        (PeriodKind.WEEK, "2026-W49", date(2026, 11, 30), date(2026, 12, 7)),
        (PeriodKind.WEEK, "2026-W53", date(2026, 12, 28), date(2027, 1, 4)),
        (PeriodKind.MONTH, "2026-12", date(2026, 12, 1), date(2027, 1, 1)),
        (PeriodKind.QUARTER, "2026-Q4", date(2026, 10, 1), date(2027, 1, 1)),
        (PeriodKind.QUARTER, "2027-Q1", date(2027, 1, 1), date(2027, 4, 1)),
    ],
)
def test_periods_on_the_utc_calendar(kind: PeriodKind, name: str, start: date, end: date) -> None:
    assert period_named(kind, name) == Period(start, end, kind)


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        (PeriodKind.WEEK, "2026-W99"),
        (PeriodKind.WEEK, "2025-W53"),  # 2025 has 52 ISO weeks
        (PeriodKind.MONTH, "2026-13"),
        (PeriodKind.QUARTER, "2026-Q5"),
        (PeriodKind.DAY, "2026-02-30"),
        (PeriodKind.DAY, "20261202"),
        (PeriodKind.MONTH, "2026-W49"),
    ],
)
def test_periods_that_do_not_exist_are_refused(kind: PeriodKind, name: str) -> None:
    with pytest.raises(InvalidPeriod):
        period_named(kind, name)


def test_a_custom_range_includes_both_days_and_must_run_forward() -> None:
    assert day_range("2026-11-01", "2026-11-30") == Period(date(2026, 11, 1), date(2026, 12, 1))
    with pytest.raises(InvalidPeriod, match="ends before"):
        day_range("2026-12-02", "2026-12-01")
    with pytest.raises(InvalidPeriod, match="at most"):
        day_range("2025-01-01", "2026-12-31")


def test_reach_prefers_the_platform_then_the_declared_size_then_the_reference() -> None:
    known = {
        "ann": Audiences(platform={"x": 120}, declared={"x": 90, "linkedin": 500}),
        "ben": Audiences(platform={}, declared={"facebook": 40}),
    }
    sharers = [("ann", "x"), ("ann", "linkedin"), ("ben", "facebook"), ("ben", "linkedin")]
    sharers += [("cy", "facebook"), ("cy", "x")]
    found = potential_reach(sharers, known)
    # 120 (platform) + 500 + 40 (declared) + 200 + 61 (cy: reference averages);
    # ben's LinkedIn is unknown and has no reference: left out, counted.
    assert (found.total, found.from_platform, found.declared, found.estimated) == (
        921,
        120,
        540,
        261,
    )
    assert (found.unmeasured, found.estimated_share) == (1, 261 / 921)
    assert potential_reach([], known).estimated_share is None


def test_an_export_is_streamed_in_chunks_of_whole_lines() -> None:
    lines = [f"advocate-{n},{n}\r\n" for n in range(20_000)]
    sent = list(chunks(lines))
    assert len(sent) > 1
    assert b"".join(sent).decode() == "".join(lines)
    assert all(chunk.endswith(b"\r\n") and len(chunk) < CHUNK_BYTES + 100 for chunk in sent)


def test_the_openapi_examples_are_answers_the_api_could_give() -> None:
    # Every field of the example is one of the model's, and none is missing.
    programme = ProgrammeOut.model_validate(examples.PROGRAMME)
    assert programme.model_dump(mode="json") == examples.PROGRAMME
    advocate = AdvocateOut.model_validate(examples.ADVOCATE)
    assert advocate.model_dump(mode="json") == examples.ADVOCATE
