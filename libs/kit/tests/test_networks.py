from chorus.kit.networks import Network, commentary_length


def test_x_counts_every_link_as_23_characters() -> None:
    short = "Read this http://a.io"
    long = "Read this https://acme.example/news/a-very-long-path?with=query&and=more"
    assert commentary_length(Network.X, short) == len("Read this ") + 23
    assert commentary_length(Network.X, long) == len("Read this ") + 23
    assert commentary_length(Network.LINKEDIN, long) == len(long)
