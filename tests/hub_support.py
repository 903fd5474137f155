"""The hub in a real browser: Debian's chromium driven by Playwright (no
browser download), signing in at the local stack's Keycloak, and axe-core
checking each page for WCAG 2.1 AA violations."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page, async_playwright

from chorus.demo.seed import DEMO_PASSWORD

# Where a failing browser test leaves a screenshot of the page it was on.
ARTIFACTS = Path(os.environ.get("CHORUS_TEST_ARTIFACTS", ".local/test-artifacts"))
SERIOUS = {"serious", "critical"}
# Set (make screenshots), the browser tests save the pages docs/hub.md shows.
SCREENSHOTS = os.environ.get("CHORUS_SCREENSHOTS", "")


@contextlib.asynccontextmanager
async def browser(executable: str) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        # --no-sandbox: CI runs as root, where chromium's sandbox cannot start.
        launched = await playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox"]
        )
        try:
            yield launched
        finally:
            await launched.close()


@contextlib.asynccontextmanager
async def screenshot_on_failure(page: Page, name: str) -> AsyncIterator[None]:
    try:
        yield
    except BaseException:
        with contextlib.suppress(Exception):  # Playwright makes the folder
            await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        raise


async def sign_in(page: Page, hub_url: str, username: str) -> None:
    """Through the hub's sign-in link, at the provider's own login form."""
    await page.goto(hub_url)
    assert await serious_violations(page) == []  # the welcome page
    await page.get_by_role("link", name="Sign in").click()
    await page.fill("#username", username)
    await page.fill("#password", DEMO_PASSWORD)
    await page.click("#kc-login")
    await page.wait_for_url(f"{hub_url}/**")


async def serious_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical WCAG 2.1 A/AA violations on the page."""
    results = await Axe().run(
        page,
        options={
            "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
            "resultTypes": ["violations"],
        },
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]]}
        for v in results.response["violations"]
        if v.get("impact") in SERIOUS
    ]


async def shown(page: Page, name: str) -> None:
    """A screenshot of the page for the documentation, when asked for."""
    if SCREENSHOTS:
        await page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"))


async def violations_on(page: Page, hub_url: str, paths: list[str]) -> dict[str, Any]:
    """axe-core's serious and critical violations on each of the hub's pages
    (only the pages that have some)."""
    found: dict[str, Any] = {}
    for path in paths:
        await page.goto(f"{hub_url}{path}")
        if violations := await serious_violations(page):
            found[path] = violations
    return found
