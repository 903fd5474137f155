"""REST entry points of insights: translate, call one use case, translate back."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import asdict
from datetime import date
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from chorus.insights.api import examples
from chorus.insights.app.reports import (
    AdvocateReport,
    Filters,
    Interval,
    ProgrammeReport,
    Reports,
    Row,
)
from chorus.insights.domain.activity import COUNTERS
from chorus.insights.domain.figures import Concentration, EarnedMedia, Engagement, MediaRates
from chorus.insights.domain.periods import (
    InvalidPeriod,
    Period,
    PeriodKind,
    day_range,
    period_named,
)
from chorus.insights.domain.reach import REFERENCE_AUDIENCE, Reach
from chorus.kit.errors import ErrorCode, ProblemError, Violation
from chorus.kit.fields import QueryId
from chorus.kit.http import PROBLEM_RESPONSES, Authenticated, links_to
from chorus.kit.networks import Network

DayText = Annotated[str | None, Query(max_length=10, description="YYYY-MM-DD")]


def requested_period(
    period: Annotated[
        PeriodKind, Query(description="day, week, month, quarter or range", examples=["week"])
    ],
    of: Annotated[
        str | None,
        Query(
            max_length=20,
            description='the period: "2026-12-02", "2026-W49", "2026-12", "2026-Q4"',
            examples=["2026-W49"],
        ),
    ] = None,
    start: Annotated[DayText, Query(alias="from")] = None,
    end: Annotated[DayText, Query(alias="to", description="the last day, included")] = None,
) -> Period:
    try:
        if period is PeriodKind.RANGE:
            if start is None or end is None:
                raise InvalidPeriod("a range needs from and to (YYYY-MM-DD)")
            return day_range(start, end)
        if of is None:
            raise InvalidPeriod(f"name the {period} in of")
        return period_named(period, of)
    except InvalidPeriod as error:
        where = "from" if period is PeriodKind.RANGE else "of"
        raise ProblemError(
            ErrorCode.VALIDATION_FAILED, str(error), [Violation(where, str(error))]
        ) from None


def requested_filters(
    network: Network | None = None,
    content_id: QueryId = None,
    group: Annotated[str | None, Query(max_length=200, min_length=1)] = None,
    tag: Annotated[str | None, Query(max_length=100, min_length=1)] = None,
) -> Filters:
    return Filters(network, content_id, group, tag)


# A CSV export holds every row, not a ranking's top.
EVERY_ROW = 1_000_000
PeriodIn = Annotated[Period, Depends(requested_period)]
FiltersIn = Annotated[Filters, Depends(requested_filters)]
Limit = Annotated[int, Query(ge=1, le=100, description="rows in each ranking")]


def shown(e: Engagement) -> dict[str, int]:
    """What both APIs show of counted engagement."""
    return {**asdict(e), "total": e.total}


class EngagementOut(BaseModel):
    clicks: int
    unique_clicks: int
    reactions: int
    comments: int
    reshares: int
    impressions: int = Field(description="where the platforms report them")
    total: int = Field(description="clicks + reactions + comments + reshares")

    @classmethod
    def of(cls, e: Engagement) -> EngagementOut:
        return cls(**shown(e))


class RowOut(BaseModel):
    key: str = Field(description="the advocate, the item, the network or the first day")
    label: str = ""
    shares: int
    engagement: EngagementOut
    withdrawn: bool = Field(False, description="an item retracted since it was shared")

    @classmethod
    def of(cls, row: Row) -> RowOut:
        return cls(
            key=row.key,
            label=row.label,
            shares=row.shares,
            engagement=EngagementOut.of(row.engagement),
            withdrawn=row.withdrawn,
        )


class TopShareOut(BaseModel):
    top: float
    contributors: int
    share: float


class ConcentrationOut(BaseModel):
    contributors: int
    total: int
    tops: list[TopShareOut]
    gini: float
    lorenz: list[tuple[float, float]]

    @classmethod
    def of(cls, c: Concentration) -> ConcentrationOut:
        return cls(
            contributors=c.contributors,
            total=c.total,
            tops=[
                TopShareOut(top=t.top, contributors=t.contributors, share=t.share) for t in c.tops
            ],
            gini=c.gini,
            lorenz=list(c.lorenz),
        )


class RatesIn(BaseModel):
    cpm: float = Field(0, ge=0, le=1_000_000, description="per 1,000 impressions")
    cpc: float = Field(0, ge=0, le=1_000_000, description="per click")
    per_reaction: float = Field(0, ge=0, le=1_000_000)
    per_comment: float = Field(0, ge=0, le=1_000_000)
    per_reshare: float = Field(0, ge=0, le=1_000_000)


class MediaValueOut(BaseModel):
    network: str
    value: float
    rates: RatesIn
    engagement: EngagementOut


class EarnedMediaOut(BaseModel):
    currency: str
    total: float
    networks: list[MediaValueOut]
    note: str = "an estimate of what the same attention would cost as paid media; not revenue"

    @classmethod
    def of(cls, m: EarnedMedia) -> EarnedMediaOut:
        return cls(
            currency=m.currency,
            total=m.total,
            networks=[
                MediaValueOut(
                    network=v.network,
                    value=v.value,
                    rates=RatesIn(**vars(v.rates)),
                    engagement=EngagementOut.of(v.engagement),
                )
                for v in m.networks
            ],
        )


class ReachOut(BaseModel):
    total: int = Field(description="people the shares could have reached")
    from_platform: int = Field(description="of the total, audiences the platforms reported")
    declared: int = Field(description="of the total, audiences the advocates declared")
    estimated: int = Field(description="of the total, the reference averages (an estimate)")
    estimated_share: float | None = Field(description="estimated ÷ total; null when 0")
    unmeasured: int = Field(
        description="(advocate, network) pairs that shared with no audience known (LinkedIn "
        "has no reference average): left out of the total"
    )
    reference: dict[str, int] = Field(
        dict(REFERENCE_AUDIENCE), description="the averages an estimate uses, per network"
    )

    @classmethod
    def of(cls, r: Reach) -> ReachOut:
        return cls(
            total=r.total,
            from_platform=r.from_platform,
            declared=r.declared,
            estimated=r.estimated,
            estimated_share=r.estimated_share,
            unmeasured=r.unmeasured,
        )


class PeriodOut(BaseModel):
    start: date
    end: date = Field(description="exclusive")


class ProgrammeOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.PROGRAMME]})

    period: PeriodOut
    suppressed: bool = Field(description="the group is smaller than k: no figure is shown")
    shares: int | None
    enrolled: int | None
    active: int | None = Field(description="advocates with at least one share in the period")
    participation: float | None = Field(description="active ÷ enrolled")
    opt_outs: int | None = Field(description="null with a group filter (opt-outs keep no group)")
    engagement: EngagementOut | None
    engagement_per_share: float | None
    points: int | None = Field(
        description="points awarded in the period; null under a network, item or tag filter"
    )
    reach: ReachOut | None
    earned_media: EarnedMediaOut | None
    advocate_concentration: ConcentrationOut | None
    content_concentration: ConcentrationOut | None
    top_advocates: list[RowOut]
    top_content: list[RowOut]
    series: list[RowOut]

    @classmethod
    def of(cls, r: ProgrammeReport) -> ProgrammeOut:
        period = PeriodOut(start=r.period.start, end=r.period.end)
        if r.suppressed:
            return cls(
                period=period,
                suppressed=True,
                shares=None,
                enrolled=None,
                active=None,
                participation=None,
                opt_outs=None,
                engagement=None,
                engagement_per_share=None,
                points=None,
                reach=None,
                earned_media=None,
                advocate_concentration=None,
                content_concentration=None,
                top_advocates=[],
                top_content=[],
                series=[],
            )
        return cls(
            period=period,
            suppressed=False,
            shares=r.shares,
            enrolled=r.enrolled,
            active=r.active,
            participation=r.participation,
            opt_outs=r.opt_outs,
            engagement=EngagementOut.of(r.engagement),
            engagement_per_share=r.engagement_per_share,
            points=r.points,
            reach=ReachOut.of(r.reach) if r.reach else None,
            earned_media=EarnedMediaOut.of(r.earned_media) if r.earned_media else None,
            advocate_concentration=ConcentrationOut.of(r.advocates) if r.advocates else None,
            content_concentration=ConcentrationOut.of(r.content) if r.content else None,
            top_advocates=[RowOut.of(row) for row in r.top_advocates],
            top_content=[RowOut.of(row) for row in r.top_content],
            series=[RowOut.of(row) for row in r.series],
        )


class AdvocateOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.ADVOCATE]})

    period: PeriodOut
    advocate: str
    shares: int
    engagement: EngagementOut
    points: int = Field(description="points awarded in the period")
    reach: ReachOut
    by_network: list[RowOut]
    series: list[RowOut]

    @classmethod
    def of(cls, r: AdvocateReport) -> AdvocateOut:
        return cls(
            period=PeriodOut(start=r.period.start, end=r.period.end),
            advocate=r.advocate,
            shares=r.shares,
            engagement=EngagementOut.of(r.engagement),
            points=r.points,
            reach=ReachOut.of(r.reach),
            by_network=[RowOut.of(row) for row in r.by_network],
            series=[RowOut.of(row) for row in r.series],
        )


class MediaRatesBody(BaseModel):
    """The tenant's paid-media rates, as an admin sets them and as they are read."""

    model_config = {
        "json_schema_extra": {
            "examples": [{"currency": "EUR", "networks": {"linkedin": {"cpm": 30, "cpc": 2.5}}}]
        }
    }
    currency: str = Field(pattern="^[A-Z]{3}$", max_length=3, description="ISO 4217, e.g. EUR")
    networks: dict[Network, RatesIn] = Field(max_length=3)


class Report(StrEnum):
    DAILY = "daily"
    ADVOCATES = "advocates"
    CONTENT = "content"


def csv_lines(first_column: str, rows: list[Row], of_items: bool) -> Iterator[str]:
    """RFC 4180: a header row, CRLF line ends, fields quoted where needed."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    header = [first_column, *(["title"] if of_items else []), *COUNTERS]
    header += ["withdrawn"] if of_items else []
    for values in [header] + [
        [
            row.key,
            *([row.label] if of_items else []),
            row.shares,
            *asdict(row.engagement).values(),
            *([str(row.withdrawn).lower()] if of_items else []),
        ]
        for row in rows
    ]:
        writer.writerow(values)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def csv_report(report: Report, found: ProgrammeReport) -> tuple[Iterator[str], str]:
    """The report's CSV lines and a file name for it; a suppressed group has none."""
    if found.suppressed:
        raise ProblemError(
            ErrorCode.FORBIDDEN,
            "the group is too small to report on",
            extra={"reason": "suppressed"},
        )
    lines = {
        Report.DAILY: csv_lines("period_start", list(found.series), False),
        Report.ADVOCATES: csv_lines("advocate", list(found.top_advocates), False),
        Report.CONTENT: csv_lines("content_id", list(found.top_content), True),
    }[report]
    return lines, f"{report.value}-{found.period.start.isoformat()}.csv"


def router(reports: Reports) -> APIRouter:
    api = APIRouter(prefix="/v1/insights", responses=PROBLEM_RESPONSES, tags=["insights"])

    # From the figures to the best item's own figures and its CSV (what a
    # manager does next; and how the stateful fuzzer chains calls).
    best_item = {"content_id": "$response.body#/top_content/0/key"}

    @api.get(
        "/programme",
        summary="The programme's figures for a period (admins, curators)",
        responses=links_to(
            200,
            {
                "programme_v1_insights_programme_get": best_item,
                "programme_csv_v1_insights_programme__report__csv_get": best_item,
            },
        ),
    )
    async def programme(
        period: PeriodIn,
        filters: FiltersIn,
        principal: Authenticated,
        interval: Interval = Interval.DAY,
        limit: Limit = 10,
    ) -> ProgrammeOut:
        found = await reports.programme(principal, period, filters, interval=interval, limit=limit)
        return ProgrammeOut.of(found)

    @api.get(
        "/programme/{report}.csv",
        summary="A report as CSV: the series, every advocate or every item (admins, curators)",
        response_class=StreamingResponse,
        responses={200: {"content": {"text/csv": {}}, "description": "RFC 4180, a header row"}},
    )
    async def programme_csv(
        report: Report,
        period: PeriodIn,
        filters: FiltersIn,
        principal: Authenticated,
        interval: Interval = Interval.DAY,
    ) -> Response:
        found = await reports.programme(
            principal, period, filters, interval=interval, limit=EVERY_ROW
        )
        lines, filename = csv_report(report, found)
        return StreamingResponse(
            lines,
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": f'attachment; filename="{filename}"'},
        )

    @api.get("/me", summary="The caller's own figures for a period (advocates)")
    async def mine(
        period: PeriodIn, principal: Authenticated, interval: Interval = Interval.DAY
    ) -> AdvocateOut:
        return AdvocateOut.of(await reports.mine(principal, period, interval=interval))

    @api.get("/media-rates", summary="The paid-media rates in force (admins, curators)")
    async def media_rates(principal: Authenticated) -> MediaRatesBody:
        currency, rates = await reports.media_rates(principal)
        networks = {Network(n): RatesIn(**vars(r)) for n, r in rates.items()}
        return MediaRatesBody(currency=currency, networks=networks)

    @api.put(
        "/media-rates",
        status_code=204,
        summary="The paid-media rates earned media value uses (admin)",
    )
    async def set_media_rates(body: MediaRatesBody, principal: Authenticated) -> Response:
        rates = {network: MediaRates(**r.model_dump()) for network, r in body.networks.items()}
        await reports.set_media_rates(principal, body.currency, rates)
        return Response(status_code=204)

    return api
