"""`chorus-demo`: seed a demo tenant into a running local platform, with some
activity for its dashboard, then print what to try. Every step goes through
the public APIs, and a re-run changes nothing that is already there (items
and shares by Idempotency-Key, accounts once).

    chorus-demo            # waits for the services, seeds tenant "acme", prints the walkthrough
    chorus-demo --quiet    # seeds only
    chorus-demo --check    # then shares once and fails unless it scores within a second
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from pathlib import Path

import httpx

from chorus.demo.activity import SHARERS, seed_activity
from chorus.demo.platform import Endpoints, Platform, StepFailed

TENANT = "acme"
ADMIN, CURATOR, APPROVER = "ada", "carol", "alice"
GROUPS = ("sales", "engineering", "marketing", "support")
ADVOCATES = [f"advocate-{n:02d}" for n in range(1, 21)]
# Everyone signs in to the hub at the local identity provider with this
# password (the local stack only, on loopback; see chorus.demo.realm).
DEMO_PASSWORD = "chorus-demo"
HUB_URL = "http://127.0.0.1:8060"

PROGRAM = {
    "policy_text": (
        "Sharing is voluntary. Share what you like, in your own words if you wish; "
        "never share confidential information. Posts carry the #employee disclosure."
    ),
    "disclosure": "#employee",
    "disclosure_auto_append": True,
    "banned_terms": ["guaranteed returns"],
    "allowed_domains": ["acme.example"],
    "frequency": {"per_day": 5, "per_week": 20, "hard_limit": False},
}

ITEMS = [
    {
        "title": "Our new plant opens",
        "url": "https://acme.example/news/plant",
        "summary": "Three years of work, 400 new jobs.",
        "commentaries": [
            {"network": "linkedin", "text": "Proud of the team behind our new plant!"},
            {"network": "x", "text": "Our new plant is open"},
        ],
        "tags": ["news"],
    },
    {
        "title": "We are hiring engineers",
        "url": "https://acme.example/careers/engineering",
        "summary": "Join the team building what comes next.",
        "commentaries": [{"network": "linkedin", "text": "My team is hiring. Come work with us!"}],
        "tags": ["hiring"],
    },
    {
        "title": "Acme wins the 2026 sustainability award",
        "url": "https://acme.example/news/award",
        "summary": "Recognised for halving our emissions since 2020.",
        "commentaries": [
            {
                "network": "linkedin",
                "text": "Halving emissions since 2020: proud to be part of it.",
            },
            {"network": "x", "text": "We won the 2026 sustainability award"},
        ],
        "tags": ["news", "sustainability"],
    },
]


def advocate_groups(index: int) -> list[str]:
    return [GROUPS[index % len(GROUPS)]]


def declared_audience(index: int) -> dict[str, int]:
    """What some advocates say they reach: every third one their LinkedIn
    connections (the local LinkedIn does not report them), the first two
    their Facebook friends too; the rest declare nothing."""
    declared = {"linkedin": 150 + 97 * index} if index % 3 == 0 else {}
    if index < 2:
        declared["facebook"] = 420 - 90 * index
    return declared


async def seed(platform: Platform) -> list[dict[str, object]]:
    """The program, three approved items and 20 enrolled advocates with a LinkedIn
    account (every other one with X too); returns the items."""
    program = await platform.set_program(ADMIN, PROGRAM)
    items = [
        await platform.approved_item(CURATOR, APPROVER, body, key=f"demo-item-{n}")
        for n, body in enumerate(ITEMS, start=1)
    ]
    for index, advocate in enumerate(ADVOCATES):
        await platform.enroll(
            advocate,
            int(program["policy_version"]),
            advocate_groups(index),
            declared_audience(index),
        )
        networks = ["linkedin", "x"] if index % 2 == 0 else ["linkedin"]
        healthy = {
            account["network"]
            for account in await platform.accounts(advocate)
            if account["health"] in ("active", "expiring")
        }
        for network in networks:
            if network not in healthy:
                await platform.connect(advocate, network)
    return items


def walkthrough(endpoints: Endpoints, items: list[dict[str, object]]) -> str:
    bin_dir = Path(sys.executable).parent
    grpc_ports = {
        "content": 50510,
        "distribution": 50520,
        "engagement": 50530,
        "gamification": 50540,
    }
    rows = [("", "REST (OpenAPI at /docs)", "gRPC (reflection on)")]
    rows += [
        (name, f"{url}/docs", f"127.0.0.1:{grpc_ports[name]}")
        for name, url in endpoints.services().items()
    ]
    rows.append(("insights", f"{endpoints.insights}/docs", "127.0.0.1:50550"))
    rows.append(("hub", HUB_URL, "the web front end: sign in at the local Keycloak"))
    rows.append(
        ("simulator", f"{endpoints.simulator}/docs", "LinkedIn and X; posts at /_sim/posts")
    )
    services = "\n".join(f"  {a:<14}{b:<36}{c}" for a, b, c in rows)
    first = items[0]["id"]
    advocate = ADVOCATES[0]
    token = f"{bin_dir}/chorus token --tenant {TENANT} --sub {advocate} --role advocate"
    share = json.dumps(
        {"content_id": first, "targets": [{"network": "linkedin"}, {"network": "facebook"}]}
    )
    return f"""
Open the hub, {HUB_URL}, and sign in as any of them with the password
"{DEMO_PASSWORD}": {ADVOCATES[0]} … {ADVOCATES[-1]} (advocates), {CURATOR}, {APPROVER}, {ADMIN}.

Demo tenant "{TENANT}" is ready: a program with a policy, curator "{CURATOR}",
approver "{APPROVER}", admin "{ADMIN}", {len(ADVOCATES)} enrolled advocates
({ADVOCATES[0]} … {ADVOCATES[-1]}) with simulator accounts, {len(items)} live items,
and some activity: {SHARERS} of the advocates shared, a few of them most.

{services}

A token for {advocate} (add --role curator/approver/admin or another --sub as you need):
  TOKEN=$({token})

Try it in four steps:
  1. Read the feed:
     curl -s -H "Authorization: Bearer $TOKEN" {endpoints.content}/v1/feed
  2. Share the first item to LinkedIn (posted for you) and Facebook (an intent link):
     curl -s -X POST -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \\
       -H "Idempotency-Key: try-1" {endpoints.distribution}/v1/shares \\
       -d '{share}'
     then see the post at {endpoints.simulator}/_sim/posts and open its tracked link
     ({endpoints.engagement}/r/<code>) in a browser.
  3. Watch the points and badges arrive:
     curl -s -H "Authorization: Bearer $TOKEN" {endpoints.gamification}/v1/leaderboards/week
  4. See the programme's figures for this week as its admin (participation,
     engagement, potential reach, concentration, earned media value), or as
     CSV:
     ADMIN=$({bin_dir}/chorus token --tenant {TENANT} --sub {ADMIN} --role admin)
     curl -s -H "Authorization: Bearer $ADMIN" \\
       "{endpoints.insights}/v1/insights/programme?period=week&of=$(date -u +%G-W%V)"
     curl -s -H "Authorization: Bearer $ADMIN" \\
       "{endpoints.insights}/v1/insights/programme/advocates.csv?period=week&of=$(date -u +%G-W%V)"
"""


# A share on LinkedIn is scored within this long of the request (make run's
# promise, kept after `make test` or `make bench` too: they leave no backlog).
SCORED_WITHIN_SECONDS = 1.0


async def seconds_to_score(platform: Platform, item_id: str) -> float:
    """From a new LinkedIn share's request until its points show in the
    advocate's standing (posted, announced, scored and served)."""
    advocate = ADVOCATES[-1]
    before = int((await platform.standing(advocate))["lifetime_points"])
    started = time.monotonic()
    await platform.share(advocate, item_id, ["linkedin"], key=f"check-{uuid.uuid4().hex}")
    while time.monotonic() - started < 30:
        if int((await platform.standing(advocate))["lifetime_points"]) > before:
            return time.monotonic() - started
        await asyncio.sleep(0.02)
    raise StepFailed("the share was not scored within 30 s")


async def run(endpoints: Endpoints, quiet: bool, check: bool) -> int:
    async with httpx.AsyncClient(timeout=30) as http:
        platform = Platform(http, endpoints, TENANT)
        try:
            await platform.wait_ready()
            items = await seed(platform)
            await seed_activity(platform, ADMIN, ADVOCATES, [str(item["id"]) for item in items])
            if not quiet:
                print(walkthrough(endpoints, items), flush=True)
            if check:
                took = await seconds_to_score(platform, str(items[0]["id"]))
                print(f"demo: a share was scored {took:.2f} s after its request", flush=True)
                if took > SCORED_WITHIN_SECONDS:
                    print(f"demo: slower than {SCORED_WITHIN_SECONDS:.0f} s", file=sys.stderr)
                    return 1
        except (StepFailed, httpx.HTTPError) as exc:
            print(f"demo: {'check' if check else 'seeding'} failed: {exc}", file=sys.stderr)
            return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quiet", action="store_true", help="seed without printing the walkthrough"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help=f"share once and fail unless it is scored within {SCORED_WITHIN_SECONDS:.0f} s",
    )
    args = parser.parse_args(argv)
    return asyncio.run(run(Endpoints(), args.quiet, args.check))


if __name__ == "__main__":
    raise SystemExit(main())
