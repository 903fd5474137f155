from chorus.hub.domain.commentary import remaining


def test_the_tracked_link_takes_its_share_of_an_x_post() -> None:
    assert remaining("x", "") == 280 - 24
    assert remaining("x", "a" * 256) == 0
    assert remaining("x", "see https://acme.example/a/very/long/path") == 280 - 24 - 4 - 23
    assert remaining("linkedin", "hello") == 2995
