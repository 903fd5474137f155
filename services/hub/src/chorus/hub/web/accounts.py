"""Connecting LinkedIn and X (OAuth at the platform, the code handed to
distribution, which keeps the tokens encrypted) and each account's health,
with a prompt to reconnect before a token expires."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query, Response
from fastapi.responses import RedirectResponse

from chorus.hub.adapters.api import ApiProblem
from chorus.hub.web.context import Page, signed_in

SignedIn = Annotated[Page, Depends(signed_in)]
Csrf = Annotated[str, Form(max_length=200)]
CONNECTABLE = ("linkedin", "x")  # Facebook: no posting API, the share dialog only
Connectable = Annotated[str, Path(pattern="^(linkedin|x)$")]
LAPSED = frozenset({"expired", "revoked"})


def needs_reconnect(account: dict[str, Any]) -> bool:
    """Whether the advocate must reconnect: access has ended, or ends soon
    and distribution cannot renew it (a LinkedIn token has no refresh; X's
    two-hour tokens are renewed with their refresh token, unseen)."""
    health = account["health"]
    return health in LAPSED or (health == "expiring" and not account.get("refreshable"))


def shown(account: dict[str, Any]) -> dict[str, Any]:
    """The account as its page shows it: an access that renews itself works."""
    renews = account["health"] == "expiring" and account.get("refreshable")
    return {
        **account,
        "health": "active" if renews else account["health"],
        "reconnect": needs_reconnect(account),
    }


async def accounts_of(page: Page) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = await page.get("distribution", "/v1/accounts")
    return found


def router() -> APIRouter:
    r = APIRouter()

    @r.get("/accounts", include_in_schema=False)
    async def accounts_page(page: SignedIn) -> Response:
        accounts = await accounts_of(page)
        connected = {account["network"] for account in accounts}
        return await page.render(
            "accounts.html",
            accounts=[shown(account) for account in accounts],
            unconnected=[n for n in CONNECTABLE if n not in connected],
        )

    @r.post("/accounts/{network}/connect", include_in_schema=False)
    async def connect(page: SignedIn, csrf: Csrf, network: Connectable) -> Response:
        await page.check_csrf(csrf)
        started = await page.call(
            "POST",
            "distribution",
            f"/v1/accounts/{network}/connect",
            json={"redirect_uri": page.hub.url(f"/accounts/{network}/callback")},
        )
        # To the platform's consent page (the CSP's form-action allows it).
        return RedirectResponse(str(started["authorization_url"]), status_code=303)

    @r.get("/accounts/{network}/callback", include_in_schema=False)
    async def callback(
        page: SignedIn,
        network: Connectable,
        code: Annotated[str | None, Query(max_length=2000)] = None,
        state: Annotated[str | None, Query(max_length=200)] = None,
    ) -> Response:
        if not code or not state:  # refused or cancelled at the platform
            await page.flash("error", page.t("accounts.cancelled"))
            return page.redirect("/accounts")
        try:
            body = {"code": code, "state": state}
            await page.call("POST", "distribution", f"/v1/accounts/{network}/callback", json=body)
        except ApiProblem as problem:
            if problem.unavailable or problem.unauthenticated:
                raise
            await page.flash("error", page.t("accounts.failed", reason=problem.detail))
            return page.redirect("/accounts")
        await page.flash(
            "success", page.t("accounts.connected", network=page.t(f"network.{network}"))
        )
        return page.redirect("/accounts")

    return r
