from hypothesis import given
from hypothesis import strategies as st

from chorus.distribution.domain.rate_limit import Budget, Limiter, SlidingWindow


def test_a_window_allows_its_limit_then_waits_for_the_oldest_to_age_out() -> None:
    window = SlidingWindow(limit=3, seconds=10.0)
    assert [window.take(t) for t in (0.0, 1.0, 2.0, 3.0)] == [True, True, True, False]
    assert window.wait_time(3.0) == 7.0
    assert window.take(10.0) and not window.take(10.5)


def test_a_429_blocks_until_the_reset() -> None:
    window = SlidingWindow(limit=100, seconds=1.0)
    window.block_until(10.0)
    assert not window.take(9.5) and window.wait_time(9.5) == 0.5
    assert window.take(10.0)


@given(st.lists(st.floats(min_value=0, max_value=3), min_size=1, max_size=300))
def test_never_more_than_the_budget_in_any_window(gaps: list[float]) -> None:
    limiter = Limiter(Budget(requests=20, seconds=10), Budget(requests=1000, seconds=1))
    now, passed = 0.0, []
    for gap in gaps:
        now += gap
        if limiter.take("bob", now):
            passed.append(now)
    for start in passed:
        assert sum(1 for t in passed if start <= t < start + 10) <= 20


def test_per_advocate_budget_is_separate() -> None:
    limiter = Limiter(Budget(1000, 1), Budget(requests=2, seconds=3600))
    assert limiter.take("bob", 0.0) and limiter.take("bob", 0.0)
    assert not limiter.take("bob", 0.0)
    assert limiter.take("alice", 0.0)
    assert limiter.wait_time("bob", 0.0) == 3600
    limiter.backoff("alice", reset_at=5.0, app_wide=True)
    assert limiter.wait_time("carol", 1.0) == 4.0
