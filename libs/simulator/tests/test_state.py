from pathlib import Path

from chorus.simulator.state import Fault, Post, SimulatorState, Token, Window


def test_the_window_enforces_its_limit_and_says_when_it_resets() -> None:
    window = Window(limit=2, seconds=10.0)
    assert window.take(0.0)[0] and window.take(1.0)[0]
    allowed, remaining, reset_at = window.take(2.0)
    assert (allowed, remaining, reset_at) == (False, 0, 10.0)
    assert window.take(10.5)[0]


def test_user_and_app_limits_both_apply() -> None:
    state = SimulatorState()
    state.limits[("x", "user")] = (1, 60.0)
    assert state.check_rate("x", "bob", 0.0)[0]
    assert not state.check_rate("x", "bob", 1.0)[0]
    assert state.check_rate("x", "alice", 1.0)[0]


def test_count_faults_are_used_up() -> None:
    state = SimulatorState(faults=[Fault("x", "429", remaining=2)])
    assert [state.take_fault("x", ("429",)) is not None for _ in range(3)] == [True, True, False]
    assert state.take_fault("linkedin", ("429",)) is None


def test_a_saved_state_keeps_tokens_posts_and_ids(tmp_path: Path) -> None:
    state = SimulatorState()
    state.tokens["t-1"] = Token("linkedin", "acme-bob", frozenset({"w_member_social"}), 99.0)
    state.refresh_tokens["r-1"] = ("x", "acme-bob", frozenset({"tweet.write"}))
    post_id = state.next_id()
    state.posts[post_id] = Post("linkedin", post_id, "acme-bob", "hi", "http://l/r/x", {}, 1.0)
    state.posts_received = 1
    state.save(tmp_path / "state.json")

    loaded = SimulatorState.load(tmp_path / "state.json")
    assert loaded.tokens == state.tokens
    assert loaded.refresh_tokens == state.refresh_tokens
    assert loaded.posts == state.posts and loaded.posts_received == 1
    assert int(loaded.next_id()) > int(post_id)
    assert SimulatorState.load(tmp_path / "missing.json").tokens == {}
