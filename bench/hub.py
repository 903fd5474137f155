"""How fast the hub renders its pages under the demo's data: the platform
(the services, the simulator and the hub, each its own process, in a topic
namespace and databases of their own) seeded with `make run`'s demo tenant
through the public APIs, then each page loaded by signed-in people, 4 at a
time for --seconds: an advocate's feed, shares, points, accounts and programme pages,
and the admin's dashboard (a week) and review queue. Beside each page, the
service API call that dominates it, in the same run (the page's own cost is
the difference: templates, the session, the other calls).

Sign-in is not measured: the sessions are written into the hub's database
as a sign-in would write them, with tokens of the development key.

    python bench/hub.py [--seconds 5]

Prints one JSON line. Goal: every page p95 <= 300 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))

from _load import free_port, load, python, stack_arguments, start_process, stop_process, wait_http
from _namespace import topic_namespace

from chorus.demo.activity import seed_activity
from chorus.demo.platform import Endpoints, Platform
from chorus.demo.seed import ADMIN, ADVOCATES, advocate_groups, seed
from chorus.hub.adapters.oidc import Identity, Tokens
from chorus.hub.adapters.sessions import SessionStore
from chorus.hub.web.security import SESSION_COOKIE
from chorus.kit.auth import dev_authorization
from chorus.kit.crypto import DEV_TOKEN_KEYS, TokenCipher
from chorus.kit.mongo import mongo_client
from chorus.kit.settings import ServiceSettings

GOAL_P95_MS = 300.0
SERVICES = ("content", "distribution", "engagement", "gamification", "insights")
CONCURRENCY = 4


def start_platform(
    prefix: str, mongo: str, simulator: str, run: str
) -> tuple[dict[str, Any], Endpoints, str, str]:
    """The five services and the hub, as `make run` starts them."""
    http = {name: free_port() for name in (*SERVICES, "hub")}
    grpc = {name: free_port() for name in SERVICES}
    endpoints = Endpoints(
        **{name: f"http://127.0.0.1:{http[name]}" for name in SERVICES}, simulator=simulator
    )
    common = {
        "CHORUS_TOPIC_PREFIX": prefix,
        "CHORUS_MONGO_URL": mongo,
        "CHORUS_LOG_LEVEL": "WARNING",
        "CHORUS_LINKEDIN_API_BASE_URL": simulator,
        "CHORUS_X_API_BASE_URL": simulator,
    }
    extra = {
        "distribution": {"CHORUS_ENGAGEMENT_GRPC_TARGET": f"127.0.0.1:{grpc['engagement']}"},
        "engagement": {
            "CHORUS_PUBLIC_BASE_URL": endpoints.engagement,
            "CHORUS_JOURNAL_DIR": f"/tmp/bench-hub-{run}/journal",
            "CHORUS_INSTANCE_ID": f"bench-hub-{run}",
        },
        "gamification": {"CHORUS_ENGINE_APP_ID": f"bench-hub-{run}"},
    }
    processes: dict[str, Any] = {}
    for name in SERVICES:
        processes[name] = start_process(
            [str(Path(python()).with_name(f"chorus-{name}"))],
            {
                **common,
                **extra.get(name, {}),
                "CHORUS_MONGO_DATABASE": f"bench_hub_{run}_{name}",
                "CHORUS_HTTP_PORT": str(http[name]),
                "CHORUS_GRPC_PORT": str(grpc[name]),
            },
        )
    hub_url = f"http://127.0.0.1:{http['hub']}"
    hub_database = f"bench_hub_{run}_hub"
    processes["hub"] = start_process(
        [str(Path(python()).with_name("chorus-hub"))],
        {
            **common,
            "CHORUS_MONGO_DATABASE": hub_database,
            "CHORUS_HTTP_PORT": str(http["hub"]),
            "CHORUS_PUBLIC_BASE_URL": hub_url,
            **{f"CHORUS_{name.upper()}_URL": getattr(endpoints, name) for name in SERVICES},
        },
    )
    return processes, endpoints, hub_url, hub_database


async def session_cookie(
    store: SessionStore, tenant: str, person: str, role: str, groups: list[str]
) -> dict[str, str]:
    """A session as a sign-in leaves it: the person, their access token (the
    development key's, which the services trust in development) for an hour."""
    token = dev_authorization(tenant, person, [role], groups)
    access = token["Authorization"].removeprefix("Bearer ")
    identity = Identity(person, tenant, (role,), tuple(groups), person, "en")
    tokens = Tokens(access, "", "", time.time() + 3600)
    secret, _ = await store.create(identity, tokens, "en")
    return {"Cookie": f"{SESSION_COOKIE}={secret}"}


async def measure(url: str, headers: dict[str, str], seconds: float) -> dict[str, float]:
    await load(url, seconds=1, concurrency=CONCURRENCY, headers=headers)  # warm-up
    result = await load(url, seconds=seconds, concurrency=CONCURRENCY, headers=headers)
    if result.errors or not result.requests:
        raise RuntimeError(f"{url}: {result.errors} errors of {result.requests}")
    return {"p50_ms": round(result.p50_ms, 1), "p95_ms": round(result.p95_ms, 1)}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5)
    stack_arguments(parser)
    args = parser.parse_args()
    run = uuid.uuid4().hex[:6]
    tenant = f"bench-{run}"
    simulator_port = free_port()
    simulator = start_process(
        [str(Path(python()).with_name("chorus-simulator")), "--port", str(simulator_port)]
    )
    simulator_url = f"http://127.0.0.1:{simulator_port}"
    async with topic_namespace(args.bootstrap, "hub") as prefix:
        processes, endpoints, hub_url, hub_database = start_platform(
            prefix, args.mongo, simulator_url, run
        )
        mongo = mongo_client(ServiceSettings(mongo_url=args.mongo))
        try:
            await wait_http(f"{hub_url}/livez")
            async with httpx.AsyncClient(timeout=30) as http:
                platform = Platform(http, endpoints, tenant)
                await platform.wait_ready()
                items = await seed(platform)
                await seed_activity(platform, ADMIN, ADVOCATES, [str(i["id"]) for i in items])
            cipher = TokenCipher.from_setting(DEV_TOKEN_KEYS)  # the hub's own, outside production
            store = SessionStore(mongo[hub_database], cipher, 3600, 3600)
            advocate = await session_cookie(
                store, tenant, ADVOCATES[0], "advocate", advocate_groups(0)
            )
            admin = await session_cookie(store, tenant, ADMIN, "admin", [])
            week = f"{date.today().isocalendar()[0]}-W{date.today().isocalendar()[1]:02d}"
            api_advocate = dev_authorization(tenant, ADVOCATES[0], ["advocate"], advocate_groups(0))
            api_admin = dev_authorization(tenant, ADMIN, ["admin"], [])
            pages = {
                "feed": (
                    f"{hub_url}/feed",
                    advocate,
                    f"{endpoints.content}/v1/feed?limit=20",
                    api_advocate,
                ),
                "shares": (
                    f"{hub_url}/shares",
                    advocate,
                    f"{endpoints.distribution}/v1/shares?limit=20",
                    api_advocate,
                ),
                "points": (
                    f"{hub_url}/standing",
                    advocate,
                    f"{endpoints.gamification}/v1/me/standing",
                    api_advocate,
                ),
                "accounts": (
                    f"{hub_url}/accounts",
                    advocate,
                    f"{endpoints.distribution}/v1/accounts",
                    api_advocate,
                ),
                "programme": (
                    f"{hub_url}/join",
                    advocate,
                    f"{endpoints.content}/v1/program",
                    api_advocate,
                ),
                "dashboard": (
                    f"{hub_url}/dashboard?period=week&of={week}",
                    admin,
                    f"{endpoints.insights}/v1/insights/programme?period=week&of={week}&interval=day",
                    api_admin,
                ),
                "review_queue": (
                    f"{hub_url}/items?state=in_review",
                    admin,
                    f"{endpoints.content}/v1/items?state=in_review&limit=50",
                    api_admin,
                ),
            }
            result: dict[str, Any] = {"benchmark": "hub", "date": date.today().isoformat()}
            for name, (page, cookie, api, token) in pages.items():
                result[name] = await measure(page, cookie, args.seconds)
                result[f"{name}_api"] = await measure(api, token, args.seconds)
            worst = max(result[name]["p95_ms"] for name in pages)
            result |= {"worst_page_p95_ms": worst, "goal_p95_ms": GOAL_P95_MS}
            result["goal_met"] = worst <= GOAL_P95_MS
            print(json.dumps(result))
        finally:
            for process in processes.values():
                stop_process(process)
            stop_process(simulator)
            for name in (*SERVICES, "hub"):
                await mongo.drop_database(f"bench_hub_{run}_{name}")
            await mongo.close()


if __name__ == "__main__":
    asyncio.run(main())
