from chorus.hub.domain.charts import HEIGHT, PAD, WIDTH, bars, equality_line, lorenz_points


def test_an_even_spread_lies_on_the_line_of_equality() -> None:
    even = lorenz_points([(0.0, 0.0), (0.5, 0.5), (1.0, 1.0)])
    assert even.split()[0] == equality_line().split()[0]
    assert even.split()[-1] == equality_line().split()[-1]
    middle = even.split()[1].split(",")
    assert (float(middle[0]), float(middle[1])) == (WIDTH / 2, HEIGHT / 2)


def test_bars_are_scaled_to_the_tallest_and_keep_their_labels() -> None:
    drawn = bars([("mon", 2), ("tue", 4), ("wed", 0)])
    assert [b.label for b in drawn] == ["mon", "tue", "wed"]
    assert drawn[1].height == HEIGHT - 2 * PAD
    assert drawn[0].height == drawn[1].height / 2
    assert drawn[2].height == 0
    assert bars([]) == []
