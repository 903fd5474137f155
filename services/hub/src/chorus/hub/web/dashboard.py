"""The programme's dashboard for admins and curators: participation,
engagement, potential reach, concentration (a Lorenz curve), earned media
value and the trend, for a week, a month, a quarter or a range of days,
optionally for one group, network or tag, and each report as CSV, all from
the insights API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Query, Response

from chorus.hub.domain import charts
from chorus.hub.web.context import Page, signed_in

SignedIn = Annotated[Page, Depends(signed_in)]
KINDS = ("week", "month", "quarter", "range")
NETWORKS = ("linkedin", "x", "facebook")
# A range longer than this is drawn per week, not per day.
DAILY_UP_TO_DAYS = 62
DEFAULT_RANGE_DAYS = 30


def current(kind: str) -> str:
    """This week's, month's or quarter's name on the UTC calendar."""
    today = datetime.now(UTC).date()
    if kind == "week":
        year, week, _ = today.isocalendar()
        return f"{year}-W{week:02d}"
    if kind == "month":
        return f"{today.year}-{today.month:02d}"
    return f"{today.year}-Q{(today.month - 1) // 3 + 1}"


def _days(start: str, end: str) -> int | None:
    try:
        return (date.fromisoformat(end) - date.fromisoformat(start)).days + 1
    except ValueError:
        return None  # insights says what is wrong with it


@dataclass(frozen=True)
class Asked:
    """What the dashboard's form asks insights for."""

    period: str = "week"
    of: str = ""
    start: str = ""
    end: str = ""
    group: str = ""
    network: str = ""
    tag: str = ""

    @classmethod
    def of_query(
        cls,
        period: Annotated[str, Query(pattern="^(week|month|quarter|range)$")] = "week",
        of: Annotated[str, Query(max_length=20)] = "",
        start: Annotated[str, Query(alias="from", max_length=10)] = "",
        end: Annotated[str, Query(alias="to", max_length=10)] = "",
        group: Annotated[str, Query(max_length=200)] = "",
        network: Annotated[str, Query(pattern="^(|linkedin|x|facebook)$")] = "",
        tag: Annotated[str, Query(max_length=100)] = "",
    ) -> Asked:
        if period == "range":
            today = datetime.now(UTC).date()
            start = start or (today - timedelta(days=DEFAULT_RANGE_DAYS - 1)).isoformat()
            end = end or today.isoformat()
            of = ""
        else:
            of, start, end = of or current(period), "", ""
        return cls(period, of, start, end, group.strip(), network, tag.strip())

    @property
    def interval(self) -> str:
        if self.period == "quarter":
            return "week"
        if self.period == "range":
            days = _days(self.start, self.end)
            return "week" if days is not None and days > DAILY_UP_TO_DAYS else "day"
        return "day"

    def params(self) -> dict[str, str]:
        """The insights API's query: only what has a value."""
        named = {"of": self.of} if self.period != "range" else {"from": self.start, "to": self.end}
        chosen = {"group": self.group, "network": self.network, "tag": self.tag}
        return {"period": self.period, **named, **{k: v for k, v in chosen.items() if v}}

    def query(self) -> str:
        """The same question as the hub's own query string (CSV links)."""
        return urlencode(self.params())

    @property
    def filtered(self) -> bool:
        return bool(self.group or self.network or self.tag)


Question = Annotated[Asked, Depends(Asked.of_query)]


def figures(report: dict[str, Any]) -> dict[str, Any]:
    """The charts of a report that has figures."""
    series = [(row["key"], int(row["shares"])) for row in report["series"]]
    engaged = [(row["key"], int(row["engagement"]["total"])) for row in report["series"]]
    return {
        "lorenz": charts.lorenz_points(report["advocate_concentration"]["lorenz"]),
        "equality": charts.equality_line(),
        "shares_bars": charts.bars(series),
        "engagement_bars": charts.bars(engaged),
    }


def router() -> APIRouter:
    r = APIRouter()

    @r.get("/dashboard", include_in_schema=False)
    async def dashboard(page: SignedIn, asked: Question) -> Response:
        report, problem = await page.attempt(
            "GET",
            "insights",
            "/v1/insights/programme",
            params={**asked.params(), "interval": asked.interval},
        )
        shown = report is not None and not report["suppressed"]
        return await page.render(
            "dashboard.html",
            200 if problem is None else 422,
            report=report,
            problem=problem,
            asked=asked,
            kinds=KINDS,
            networks=NETWORKS,
            chart=charts,
            **(figures(report) if shown else {}),
        )

    @r.get("/dashboard/{report}.csv", include_in_schema=False)
    async def export(
        page: SignedIn,
        report: Annotated[str, Path(pattern="^(daily|advocates|content)$")],
        asked: Question,
    ) -> Response:
        found = await page.hub.api.response(
            "GET",
            "insights",
            f"/v1/insights/programme/{report}.csv",
            await page.token(),
            params={**asked.params(), "interval": asked.interval},
        )
        headers = {"Content-Disposition": found.headers.get("content-disposition", "attachment")}
        return Response(found.content, media_type="text/csv; charset=utf-8", headers=headers)

    return r
