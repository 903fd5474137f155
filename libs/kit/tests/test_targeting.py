from chorus.kit.targeting import Audience, Profile, is_targeted


def test_an_empty_audience_is_everyone() -> None:
    assert is_targeted(Audience(), Profile(), [])


def test_groups_come_from_the_token_and_the_profile() -> None:
    audience = Audience(groups=("sales",))
    assert is_targeted(audience, Profile(), ["sales"])
    assert is_targeted(audience, Profile(groups=("sales",)), [])
    assert not is_targeted(audience, Profile(groups=("hr",)), ["eng"])


def test_every_dimension_must_match() -> None:
    audience = Audience(departments=("Sales",), locations=("Berlin",), languages=("de",))
    assert is_targeted(
        audience, Profile(department="sales", location="berlin", languages=("en", "de")), []
    )
    assert not is_targeted(
        audience, Profile(department="Sales", location="Paris", languages=("de",)), []
    )
    assert not is_targeted(audience, Profile(), [])
