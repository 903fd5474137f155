from chorus.hub.domain.commentary import counted_length, remaining


def test_x_counts_every_link_as_23_characters() -> None:
    short = "Read this http://a.io"
    long = "Read this https://acme.example/news/a-very-long-path?with=query&and=more"
    assert counted_length("x", short) == len("Read this ") + 23
    assert counted_length("x", long) == len("Read this ") + 23
    assert counted_length("linkedin", long) == len(long)


def test_the_tracked_link_takes_its_share_of_an_x_post() -> None:
    assert remaining("x", "") == 280 - 24
    assert remaining("x", "a" * 256) == 0
    assert remaining("linkedin", "hello") == 2995
