"""The feed, sharing with an edited commentary, and a share's progress
(including the platform dialog of an intent share and its confirmation)."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query, Response

from chorus.hub.adapters.api import ApiProblem
from chorus.hub.domain.commentary import LIMITS, remaining
from chorus.hub.web.accounts import needs_reconnect
from chorus.hub.web.context import Page, signed_in

SignedIn = Annotated[Page, Depends(signed_in)]
Csrf = Annotated[str, Form(max_length=200)]
NETWORKS = ("linkedin", "x", "facebook")
Network = Annotated[str, Path(pattern="^(linkedin|x|facebook)$")]
Cursor = Annotated[str | None, Query(max_length=500)]
PAGE = 20
ShareId = Annotated[str, Path(max_length=100, pattern=r"^[A-Za-z0-9_-]+$")]


def suggested(item: dict[str, Any], network: str) -> str:
    texts = {c["network"]: c["text"] for c in item.get("commentaries", [])}
    return str(texts.get(network) or texts.get("linkedin") or item.get("summary") or "")


def composer(item: dict[str, Any], program: dict[str, Any]) -> list[dict[str, Any]]:
    """Per network: the suggested commentary, its limit and what is left of it
    once the disclosure and the tracked link are added."""
    disclosure = program.get("disclosure", "") if program.get("disclosure_auto_append") else ""
    extra = f" {disclosure}" if disclosure else ""
    rows = []
    for network in NETWORKS:
        text = suggested(item, network)
        rows.append(
            {
                "network": network,
                "text": text,
                "limit": LIMITS[network],
                "extra": len(extra),
                "remaining": remaining(network, text + extra),
                "key": secrets.token_urlsafe(16),
            }
        )
    return rows


def router() -> APIRouter:
    r = APIRouter()

    @r.get("/feed", include_in_schema=False)
    async def feed(page: SignedIn) -> Response:
        feed = await page.get("content", "/v1/feed", limit=20)
        if not feed.get("enrolled") or not feed.get("policy_acknowledged"):
            return page.redirect("/join")
        program, accounts = await page.get_all(
            ("content", "/v1/program", {}), ("distribution", "/v1/accounts", {})
        )
        reconnect = [account for account in accounts if needs_reconnect(account)]
        entries = [
            {**entry, "composer": composer(entry["item"], program)} for entry in feed["items"]
        ]
        return await page.render(
            "feed.html",
            entries=entries,
            program=program,
            frequency=feed["frequency"],
            reconnect=reconnect,
        )

    @r.post("/share", include_in_schema=False)
    async def share(
        page: SignedIn,
        csrf: Csrf,
        item_id: Annotated[str, Form(max_length=100)],
        network: Annotated[str, Form(pattern="^(linkedin|x|facebook)$")],
        commentary: Annotated[str, Form(max_length=3000)],
        key: Annotated[str, Form(max_length=100)],
    ) -> Response:
        await page.check_csrf(csrf)
        body = {"content_id": item_id, "targets": [{"network": network, "commentary": commentary}]}
        try:
            # The form's own key: a double click or a resent form shares once.
            shared = await page.call(
                "POST", "distribution", "/v1/shares", json=body, headers={"Idempotency-Key": key}
            )
        except ApiProblem as problem:
            if problem.unavailable or problem.unauthenticated:
                raise
            reason = problem.detail or problem.title
            await page.flash("error", page.t("share.refused", reason=reason))
            return page.redirect(f"/feed#item-{item_id}")
        return page.redirect(f"/shares/{shared['id']}")

    @r.get("/shares", include_in_schema=False)
    async def my_shares(page: SignedIn, cursor: Cursor = None) -> Response:
        found = await page.get("distribution", "/v1/shares", cursor=cursor, limit=PAGE)
        shares = found["shares"]
        engagement: dict[str, Any] = {}
        if shares:
            ids = [share["id"] for share in shares]
            engagement = await page.get("engagement", "/v1/engagement/shares", share_id=ids)
        return await page.render(
            "shares.html",
            shares=shares,
            engagement=engagement,
            next_cursor=found["next_cursor"],
            first_page=cursor is None,
        )

    @r.get("/shares/{share_id}", include_in_schema=False)
    async def share_page(page: SignedIn, share_id: ShareId) -> Response:
        found = await page.get("distribution", f"/v1/shares/{share_id}")
        engagement = await page.get("engagement", f"/v1/shares/{share_id}/engagement")
        return await page.render("share.html", share=found, engagement=engagement)

    @r.post("/shares/{share_id}/networks/{network}/confirm", include_in_schema=False)
    async def confirm(page: SignedIn, csrf: Csrf, share_id: ShareId, network: Network) -> Response:
        await page.check_csrf(csrf)
        path = f"/v1/shares/{share_id}/networks/{network}/confirm"
        await page.call("POST", "distribution", path)
        await page.flash("success", page.t("share.confirmed"))
        return page.redirect(f"/shares/{share_id}")

    return r
