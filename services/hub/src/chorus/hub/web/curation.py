"""Curators write items (per-network commentaries, audience, schedule,
expiry), see the compliance violations beside the fields they concern, and
submit; approvers work the review queue (approve, or reject with a reason;
never their own item: four eyes); curators retract with a reason. Advocates
suggest a work moment of their own through the same form: the content API
makes it a suggestion for review."""

from __future__ import annotations

import re
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request, Response

from chorus.hub.adapters.api import ApiProblem
from chorus.hub.web.context import Page, signed_in
from chorus.hub.web.forms import listed, local, moment, posted

SignedIn = Annotated[Page, Depends(signed_in)]
Csrf = Annotated[str, Form(max_length=200)]
ItemId = Annotated[str, Path(max_length=100, pattern=r"^[A-Za-z0-9_-]+$")]
NETWORKS = ("linkedin", "x", "facebook")
STATES = ("in_review", "draft", "rejected", "live", "approved", "retracted", "expired")
EDITABLE = frozenset({"draft", "rejected"})
RETRACTABLE = frozenset({"approved", "live"})
STAFF = ("curator", "approver", "admin")
_COMMENTARY = re.compile(r"^commentaries\[(\d+)\]")
TEXT_FIELDS = ("title", "url", "summary", "tags", "groups", "publish_at", "expires_at")


def item_body(form: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    """The content API's item from the form's fields, and the network of
    each commentary sent (violations name commentaries by position)."""
    sent = [n for n in NETWORKS if form.get(f"commentary_{n}", "").strip()]
    body = {
        "title": form.get("title", ""),
        "url": form.get("url", ""),
        "summary": form.get("summary", ""),
        "commentaries": [{"network": n, "text": form[f"commentary_{n}"].strip()} for n in sent],
        "tags": listed(form.get("tags", "")),
        "audience": {"groups": listed(form.get("groups", ""))},
        "publish_at": moment(form.get("publish_at", "")),
        "expires_at": moment(form.get("expires_at", "")),
        "priority": int(form.get("priority") or 0),
    }
    return body, sent


def form_of(item: dict[str, Any]) -> dict[str, str]:
    """An item's fields as the form shows them."""
    texts = {c["network"]: c["text"] for c in item.get("commentaries", [])}
    return {
        "title": item.get("title", ""),
        "url": item.get("url", ""),
        "summary": item.get("summary", ""),
        "tags": ", ".join(item.get("tags", [])),
        "groups": ", ".join(item.get("audience", {}).get("groups", [])),
        "publish_at": local(item.get("publish_at")),
        "expires_at": local(item.get("expires_at")),
        "priority": str(item.get("priority", 0)),
        **{f"commentary_{n}": texts.get(n, "") for n in NETWORKS},
    }


def violations_by_field(problem: ApiProblem, sent: list[str]) -> dict[str, list[str]]:
    """Each violation under the form field it concerns ("_" for the rest)."""
    found: dict[str, list[str]] = {}
    for violation in problem.violations:
        name = str(violation.get("field", "")).removeprefix("body.")
        if (match := _COMMENTARY.match(name)) and int(match[1]) < len(sent):
            name = f"commentary_{sent[int(match[1])]}"
        elif name.startswith("audience"):
            name = "groups"
        elif name not in TEXT_FIELDS and name != "priority":
            name = "_"
        found.setdefault(name, []).append(str(violation.get("message", "")))
    return found


def router() -> APIRouter:
    r = APIRouter()

    @r.get("/items", include_in_schema=False)
    async def items(
        page: SignedIn, state: Annotated[str, Query(pattern="^[a-z_]+$")] = "in_review"
    ) -> Response:
        found = await page.get("content", "/v1/items", state=state, limit=50)
        return await page.render("items.html", items=found["items"], state=state, states=STATES)

    @r.get("/items/new", include_in_schema=False)
    async def new_item(page: SignedIn) -> Response:
        return await page.render(
            "item_form.html", form={}, errors={}, key=secrets.token_urlsafe(16)
        )

    @r.post("/items/new", include_in_schema=False)
    async def create(page: SignedIn, request: Request, csrf: Csrf) -> Response:
        await page.check_csrf(csrf)
        form = await posted(request)
        body, sent = item_body(form)
        headers = {"Idempotency-Key": form.get("key", "")[:100]} if form.get("key") else {}
        created, problem = await page.attempt(
            "POST", "content", "/v1/items", json=body, headers=headers
        )
        if problem is not None:
            errors = violations_by_field(problem, sent)
            key = form.get("key", "")
            return await page.render(
                "item_form.html", 422, form=form, errors=errors, key=key, problem=problem
            )
        await page.flash("success", page.t("items.saved"))
        return page.redirect(f"/items/{created['id']}")

    @r.get("/items/{item_id}", include_in_schema=False)
    async def item_page(page: SignedIn, item_id: ItemId) -> Response:
        item = await page.get("content", f"/v1/items/{item_id}")
        return await page.render("item.html", item=item, **_actions(page, item))

    @r.get("/items/{item_id}/edit", include_in_schema=False)
    async def edit_page(page: SignedIn, item_id: ItemId) -> Response:
        item = await page.get("content", f"/v1/items/{item_id}")
        return await page.render("item_form.html", form=form_of(item), errors={}, item=item)

    @r.post("/items/{item_id}/edit", include_in_schema=False)
    async def edit(page: SignedIn, request: Request, csrf: Csrf, item_id: ItemId) -> Response:
        await page.check_csrf(csrf)
        form = await posted(request)
        body, sent = item_body(form)
        _, problem = await page.attempt(
            "PUT",
            "content",
            f"/v1/items/{item_id}",
            json=body,
            headers={"If-Match": f'"{form.get("version", "")}"'},
        )
        if problem is not None:
            item = await page.get("content", f"/v1/items/{item_id}")
            errors = violations_by_field(problem, sent)
            return await page.render(
                "item_form.html", 422, form=form, errors=errors, item=item, problem=problem
            )
        await page.flash("success", page.t("items.saved"))
        return page.redirect(f"/items/{item_id}")

    @r.post("/items/{item_id}/{action}", include_in_schema=False)
    async def act(
        page: SignedIn,
        csrf: Csrf,
        item_id: ItemId,
        action: Annotated[str, Path(pattern="^(submit|approve|reject|revise|retract)$")],
        version: Annotated[int, Form(ge=0)],
        reason: Annotated[str, Form(max_length=2000)] = "",
    ) -> Response:
        await page.check_csrf(csrf)
        body = {"reason": reason} if action in ("reject", "retract") else None
        _, problem = await page.attempt(
            "POST",
            "content",
            f"/v1/items/{item_id}/{action}",
            json=body,
            headers={"If-Match": f'"{version}"'},
        )
        if problem is not None:
            item = await page.get("content", f"/v1/items/{item_id}")
            errors = violations_by_field(problem, [c["network"] for c in item["commentaries"]])
            return await page.render(
                "item.html", 422, item=item, problem=problem, errors=errors, **_actions(page, item)
            )
        await page.flash("success", page.t(f"items.done_{action}"))
        return page.redirect(f"/items/{item_id}")

    return r


def _actions(page: Page, item: dict[str, Any]) -> dict[str, Any]:
    """What this person may do with the item now (the API decides in the end)."""
    state, mine = item["state"], item["author"] == page.subject
    reviewer = page.has_role("approver", "admin")
    return {
        "can_edit": state in EDITABLE and (mine or page.has_role("curator")),
        "can_submit": state == "draft" and (mine or page.has_role("curator")),
        "can_review": state == "in_review" and reviewer and not mine,
        "own_in_review": state == "in_review" and reviewer and mine,
        "can_retract": state in RETRACTABLE and page.has_role("curator", "admin"),
    }
