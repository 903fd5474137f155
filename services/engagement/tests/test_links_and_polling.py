from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from hypothesis import given
from hypothesis import strategies as st

from chorus.engagement.domain.links import is_code, new_code, tracked_target
from chorus.engagement.domain.polling import SCHEDULE, deltas, merged, next_poll_at


def test_codes_are_short_random_and_recognisable() -> None:
    codes = {new_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert all(is_code(code) for code in codes)
    assert not is_code("short") and not is_code("../../etc/pw")


def test_target_carries_utm_parameters_and_keeps_the_rest() -> None:
    target = tracked_target(
        "https://acme.example/news?id=7&utm_source=old#top",
        network="x",
        content_id="c-9",
        extras={"utm_content": "spring"},
    )
    parts = urlsplit(target)
    assert (parts.netloc, parts.path, parts.fragment) == ("acme.example", "/news", "top")
    assert parse_qs(parts.query) == {
        "id": ["7"],
        "utm_source": ["x"],
        "utm_medium": ["advocacy"],
        "utm_campaign": ["c-9"],
        "utm_content": ["spring"],
    }


def test_the_schedule_decays_then_stops() -> None:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    times = [next_poll_at(start, n) for n in range(len(SCHEDULE) + 1)]
    assert times[:5] == [start + timedelta(hours=h) for h in (1, 6, 24, 72, 168)]
    assert times[5] is None


totals = st.dictionaries(
    st.sampled_from(["reaction", "comment", "reshare"]), st.integers(min_value=0, max_value=1000)
)


@given(st.lists(totals, max_size=12))
def test_deltas_never_count_anything_twice(observations: list[dict[str, int]]) -> None:
    """Whatever the platform reports, in any order: the emitted deltas add up to
    the highest total seen, per kind."""
    counted: dict[str, int] = {}
    emitted: dict[str, int] = {}
    for observed in observations:
        for kind, delta in deltas(counted, observed).items():
            assert delta > 0
            emitted[kind] = emitted.get(kind, 0) + delta
        counted = merged(counted, observed)
    for kind in {k for o in observations for k in o}:
        assert emitted.get(kind, 0) == max(o.get(kind, 0) for o in observations)
