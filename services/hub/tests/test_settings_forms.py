"""The settings forms ↔ the APIs: points, badges and campaigns (gamification),
media rates (insights)."""

from __future__ import annotations

from chorus.hub.adapters.api import ApiProblem
from chorus.hub.web.media import errors_of, media_body, media_form
from chorus.hub.web.rules import (
    campaign_errors,
    campaign_of,
    edited,
    rules_form,
    with_campaigns,
)

CURRENT = {
    "version": 4,
    "points": {"share": {"default": 10, "linkedin": 15, "mastodon": 7}, "click": {"default": 1}},
    "daily_caps": {"click": 100, "unique_click": 100},
    "multipliers": [{"name": "Launch", "factor": 2.0}],
    "badges": {"streak_weeks": 4, "conversation_comments": 10, "top_n": 3},
}


def test_a_network_left_empty_earns_as_any_network_and_unshown_networks_are_kept() -> None:
    form = rules_form(CURRENT)
    assert form["points_share_default"] == "10" and form["points_share_linkedin"] == "15"
    assert form["points_share_x"] == "" and form["points_click_default"] == "1"
    form |= {"points_share_linkedin": "", "points_share_x": "12", "points_click_default": "2"}
    rules = edited(CURRENT, form)
    assert rules["points"]["share"] == {"default": 10, "x": 12, "mastodon": 7}
    assert rules["points"]["click"] == {"default": 2}
    assert rules["multipliers"] == CURRENT["multipliers"]  # the points form keeps campaigns


def test_a_campaign_from_the_form_and_its_refusals_beside_its_fields() -> None:
    campaign = campaign_of(
        {
            "name": " Spring ",
            "factor": "1,5",
            "starts_at": "2026-12-07T09:00",
            "ends_at": "2026-12-14T09:00",
            "tags": "news, hiring",
            "content_ids": "",
        }
    )
    assert campaign == {
        "name": "Spring",
        "factor": 1.5,
        "starts_at": "2026-12-07T09:00:00Z",
        "ends_at": "2026-12-14T09:00:00Z",
        "tags": ["news", "hiring"],
        "content_ids": [],
    }
    assert campaign_of({"factor": "double"})["factor"] < 0  # the API says why
    body = with_campaigns(CURRENT, [campaign])
    assert body["multipliers"] == [campaign] and body["points"] == CURRENT["points"]
    problem = ApiProblem(
        422,
        "Validation failed",
        "",
        [
            {"field": "body.multipliers.1.factor", "message": "at most 10"},
            {"field": "body.multipliers.1", "message": "name at least one content id or tag"},
        ],
    )
    assert campaign_errors(problem) == {
        "factor": ["at most 10"],
        "_": ["name at least one content id or tag"],
    }


def test_media_rates_from_the_form_and_refusals_beside_their_fields() -> None:
    shown = media_form({"currency": "EUR", "networks": {"linkedin": {"cpm": 30.0, "cpc": 2.5}}})
    assert (shown["currency"], shown["linkedin_cpm"], shown["linkedin_cpc"]) == ("EUR", "30", "2.5")
    assert shown["x_cpm"] == "0"
    body = media_body({**shown, "currency": "eur ", "x_cpc": "1,5", "facebook_cpm": "lots"})
    assert body["currency"] == "EUR"
    assert body["networks"]["x"]["cpc"] == 1.5 and body["networks"]["linkedin"]["cpm"] == 30
    assert body["networks"]["facebook"]["cpm"] < 0  # the API says why, beside the field
    problem = ApiProblem(
        422,
        "Validation failed",
        "",
        [
            {"field": "body.networks.facebook.cpm", "message": "at least 0"},
            {"field": "body.currency", "message": "three capital letters"},
        ],
    )
    assert errors_of(problem) == {
        "facebook_cpm": ["at least 0"],
        "currency": ["three capital letters"],
    }
