"""Example answers for the OpenAPI document: a small programme's week, on the
scale of the hand-reckoned test scenario, so that an integrator sees every
field filled in as it will be (a unit test checks they fit the models)."""

from __future__ import annotations

from typing import Any


def _engagement(clicks: int, unique: int, reactions: int, comments: int, reshares: int) -> Any:
    return {
        "clicks": clicks,
        "unique_clicks": unique,
        "reactions": reactions,
        "comments": comments,
        "reshares": reshares,
        "impressions": 40 * clicks,
        "total": clicks + reactions + comments + reshares,
    }


def _row(key: str, shares: int, engagement: Any, label: str = "") -> Any:
    return {
        "key": key,
        "label": label,
        "shares": shares,
        "engagement": engagement,
        "withdrawn": False,
    }


_REACH = {
    "total": 931,
    "from_platform": 370,
    "declared": 500,
    "estimated": 61,
    "estimated_share": 0.0655,
    "unmeasured": 1,
    "reference": {"facebook": 200, "x": 61},
}

_CONCENTRATION = {
    "contributors": 4,
    "total": 96,
    "tops": [
        {"top": 0.02, "contributors": 1, "share": 0.78125},
        {"top": 0.1, "contributors": 1, "share": 0.78125},
        {"top": 0.2, "contributors": 1, "share": 0.78125},
    ],
    "gini": 0.557292,
    "lorenz": [[0.0, 0.0], [0.25, 0.052083], [0.5, 0.114583], [0.75, 0.21875], [1.0, 1.0]],
}

PROGRAMME = {
    "period": {"start": "2026-11-02", "end": "2026-11-09"},
    "suppressed": False,
    "shares": 5,
    "enrolled": 6,
    "active": 4,
    "participation": 0.6667,
    "opt_outs": 1,
    "engagement": _engagement(68, 30, 22, 1, 5),
    "engagement_per_share": 19.2,
    "points": 53,
    "reach": _REACH,
    "earned_media": {
        "currency": "EUR",
        "total": 150.0,
        "networks": [
            {
                "network": "linkedin",
                "value": 150.0,
                "rates": {
                    "cpm": 30,
                    "cpc": 2.5,
                    "per_reaction": 0,
                    "per_comment": 0,
                    "per_reshare": 0,
                },
                "engagement": _engagement(52, 30, 22, 1, 0),
            }
        ],
        "note": "an estimate of what the same attention would cost as paid media; not revenue",
    },
    "advocate_concentration": _CONCENTRATION,
    "content_concentration": _CONCENTRATION | {"contributors": 2},
    "top_advocates": [_row("ann", 2, _engagement(50, 30, 20, 0, 5))],
    "top_content": [_row("c1", 3, _engagement(54, 30, 22, 0, 0), "Our new plant opens")],
    "series": [_row("2026-11-02", 2, _engagement(48, 30, 2, 0, 0))],
}

ADVOCATE = {
    "period": {"start": "2026-11-02", "end": "2026-11-09"},
    "advocate": "ann",
    "shares": 2,
    "engagement": _engagement(50, 30, 20, 0, 5),
    "points": 30,
    "reach": _REACH
    | {"total": 620, "from_platform": 120, "estimated": 0, "unmeasured": 0}
    | {"estimated_share": 0.0},
    "by_network": [
        _row("linkedin", 1, _engagement(40, 30, 20, 0, 0)),
        _row("x", 1, _engagement(10, 0, 0, 0, 5)),
    ],
    "series": [_row("2026-11-02", 1, _engagement(40, 30, 0, 0, 0))],
}
