import pytest
from hypothesis import given
from hypothesis import strategies as st

from chorus.kit.retry import RetryPolicy


def test_delays_double_until_the_cap_without_jitter() -> None:
    policy = RetryPolicy(max_attempts=6, base_delay=0.5, max_delay=3.0, jitter=0.0)
    assert [policy.delay(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_attempts_are_bounded() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert [policy.should_retry(n) for n in (1, 2, 3, 4)] == [True, True, False, False]


@given(
    attempt=st.integers(min_value=1, max_value=50),
    rand=st.floats(min_value=0, max_value=1),
    jitter=st.floats(min_value=0, max_value=0.99),
)
def test_jitter_stays_within_its_fraction_of_the_capped_delay(
    attempt: int, rand: float, jitter: float
) -> None:
    policy = RetryPolicy(base_delay=0.1, max_delay=5.0, jitter=jitter)
    raw = min(5.0, 0.1 * 2 ** (attempt - 1))
    delay = policy.delay(attempt, rand=lambda: rand)
    assert raw * (1 - jitter) - 1e-9 <= delay <= raw * (1 + jitter) + 1e-9


def test_nonsense_policies_are_refused() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(jitter=1.5)
