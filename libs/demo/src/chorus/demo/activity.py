"""The demo's activity, so that the dashboard has figures to read, spread as
real programmes are: a few advocates do most of the sharing, the first shares
earn most of the engagement, and eight of the twenty advocates share nothing.

Shares go through distribution (posted at the simulator, or intents
confirmed), clicks follow the tracked links, and reactions, comments,
reshares and impressions arrive as an integrator would relay them: signed
webhooks (engagement's own polling of the platforms starts an hour after a
post, too late for a demo). Seeded once: each share has its own
Idempotency-Key, each webhook its own event id, and a share the service
already had (a re-run) gets no more clicks.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chorus.demo.platform import Platform, StepFailed

# The demo tenant's webhook secret (development only, like the dev signing key).
WEBHOOK_SECRET = "demo-webhook-secret-for-local-use-only"
# Of the 20 advocates, these many share: participation 60%.
SHARERS = 12
ITEM_APPEAL = (1.0, 0.4, 0.2)  # the first item draws the most engagement


@dataclass(frozen=True)
class PlannedShare:
    advocate: str
    item: int  # index into the seeded items
    networks: tuple[str, ...]
    clicks: int  # on each network's tracked link
    reactions: int


def plan(advocates: list[str], items: int) -> list[PlannedShare]:
    """Advocate r (0-based rank) shares 3, 2 or 1 items; engagement falls off
    as a power of the rank, so the top few advocates earn most of it."""
    planned = []
    for rank, advocate in enumerate(advocates[:SHARERS]):
        on_x = rank % 2 == 0  # the seed connects X for every other advocate
        networks: tuple[str, ...] = ("linkedin", "x") if on_x else ("linkedin",)
        if rank < 3:
            networks += ("facebook",)  # by intent, confirmed
        count = 3 if rank < 2 else 2 if rank < 5 else 1
        for n in range(min(count, items)):
            item = (rank + n) % items
            weight = ITEM_APPEAL[item % len(ITEM_APPEAL)] / (rank + 1) ** 1.3
            planned.append(
                PlannedShare(
                    advocate, item, networks, max(1, round(40 * weight)), round(25 * weight)
                )
            )
    return planned


async def posted(platform: Platform, advocate: str, share_id: str) -> dict[str, Any]:
    """The share once every API network has an answer from the platform."""
    for _ in range(300):
        share = await platform.share_status(advocate, share_id)
        pending = [
            n
            for n in share["networks"]
            if n["mode"] == "api" and n["status"] not in ("posted", "failed")
        ]
        if not pending:
            return share
        await asyncio.sleep(0.1)
    raise StepFailed(f"share {share_id} was not posted within 30 s")


async def follow(platform: Platform, tracked: str, agent: str) -> None:
    """One visitor's click. Every demo visitor comes from this machine's
    address, which the redirect limits (burst, then a rate): wait as told."""
    for _ in range(20):
        followed = await platform.http.get(tracked, headers={"user-agent": agent})
        if followed.status_code == 302:
            return
        if followed.status_code != 429:
            raise StepFailed(f"{tracked} answered {followed.status_code}, not a redirect")
        await asyncio.sleep(float(followed.headers.get("retry-after", "1")))
    raise StepFailed(f"{tracked} kept answering 429")


async def click(platform: Platform, planned: PlannedShare, share: dict[str, Any]) -> None:
    """Clicks on each posted network's tracked link, about two in three from
    new visitors."""
    for network in share["networks"]:
        if network["status"] != "posted":
            continue
        for n in range(planned.clicks):
            visitor = n if n % 3 else max(0, n - 1)
            agent = f"Mozilla/5.0 (demo visitor {planned.advocate} {visitor}) Firefox/132.0"
            await follow(platform, network["tracked_url"], agent)


async def relay(platform: Platform, planned: PlannedShare, share: dict[str, Any]) -> None:
    """What each platform counted of the share, by webhook (idempotent by
    event id, so sent again on a re-run)."""
    counted = {
        "reaction": planned.reactions,
        "comment": planned.reactions // 5,
        "reshare": planned.reactions // 8,
        "impression": 40 * (planned.clicks + planned.reactions),
    }
    for network in share["networks"]:
        if network["status"] != "posted":
            continue
        for kind, delta in counted.items():
            if delta > 0:
                observation = {
                    "event_id": f"demo-{share['id']}-{network['network']}-{kind}",
                    "share_id": share["id"],
                    "network": network["network"],
                    "kind": kind,
                    "delta": delta,
                }
                await platform.send_engagement(WEBHOOK_SECRET, observation)


async def seed_activity(
    platform: Platform, admin: str, advocates: list[str], items: list[str]
) -> int:
    """Shares the plan's items (ids in seeding order); returns how many shares are new."""
    started = datetime.now(UTC)
    await platform.set_webhook_secret(admin, WEBHOOK_SECRET)
    new = 0
    for planned in plan(advocates, len(items)):
        key = f"demo-share-{planned.advocate}-{planned.item}"
        share = await platform.share(
            planned.advocate, items[planned.item], list(planned.networks), key
        )
        created = datetime.fromisoformat(share["created_at"])
        if created.replace(tzinfo=created.tzinfo or UTC) >= started:
            new += 1
            for network in share["networks"]:
                if network["mode"] == "intent":
                    await platform.confirm_intent(planned.advocate, share["id"], network["network"])
            share = await posted(platform, planned.advocate, share["id"])
            await click(platform, planned, share)
        # A share an earlier run made was clicked then; its webhooks go again,
        # each recorded once.
        await relay(platform, planned, share)
    return new
