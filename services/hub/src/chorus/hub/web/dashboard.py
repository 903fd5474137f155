"""The programme's dashboard for admins and curators: participation,
engagement, potential reach, concentration (a Lorenz curve), earned media
value and the trend, for a week, a month, a quarter or a custom range, and
each report as CSV, all from the insights API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from chorus.hub.domain import charts
from chorus.hub.web.context import Page, signed_in

SignedIn = Annotated[Page, Depends(signed_in)]
KINDS = ("week", "month", "quarter")
Kind = Annotated[str, Query(pattern="^(week|month|quarter)$")]
Named = Annotated[str, Query(max_length=20, pattern=r"^[0-9]{4}-(W[0-9]{2}|Q[1-4]|[0-9]{2})$")]


def current(kind: str) -> str:
    """This week's, month's or quarter's name on the UTC calendar."""
    today = datetime.now(UTC).date()
    if kind == "week":
        year, week, _ = today.isocalendar()
        return f"{year}-W{week:02d}"
    if kind == "month":
        return f"{today.year}-{today.month:02d}"
    return f"{today.year}-Q{(today.month - 1) // 3 + 1}"


def router() -> APIRouter:
    r = APIRouter()

    @r.get("/dashboard", include_in_schema=False)
    async def dashboard(page: SignedIn, period: Kind = "week", of: Named | None = None) -> Response:
        named = of or current(period)
        interval = "day" if period == "week" or period == "month" else "week"
        report = await page.get(
            "insights", "/v1/insights/programme", period=period, of=named, interval=interval
        )
        series = [(row["key"], int(row["shares"])) for row in report["series"]]
        engaged = [(row["key"], int(row["engagement"]["total"])) for row in report["series"]]
        lorenz = report["advocate_concentration"]["lorenz"]
        return await page.render(
            "dashboard.html",
            report=report,
            period=period,
            of=named,
            kinds=KINDS,
            lorenz=charts.lorenz_points(lorenz),
            equality=charts.equality_line(),
            shares_bars=charts.bars(series),
            engagement_bars=charts.bars(engaged),
            chart=charts,
        )

    @r.get("/dashboard/{report}.csv", include_in_schema=False)
    async def export(
        page: SignedIn,
        report: Annotated[str, Path(pattern="^(daily|advocates|content)$")],
        period: Kind = "week",
        of: Named | None = None,
    ) -> Response:
        found = await page.hub.api.response(
            "GET",
            "insights",
            f"/v1/insights/programme/{report}.csv",
            await page.token(),
            params={"period": period, "of": of or current(period)},
        )
        headers = {"Content-Disposition": found.headers.get("content-disposition", "attachment")}
        return Response(found.content, media_type="text/csv; charset=utf-8", headers=headers)

    return r
