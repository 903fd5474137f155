"""gRPC entry points of insights, calling the same use cases as REST, with
requests checked by the same rules (periods, filters, bounds)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

from pydantic import BaseModel, Field

from chorus.contracts.insights.v1 import insights_service_pb2 as pb
from chorus.contracts.insights.v1 import insights_service_pb2_grpc as pb_grpc
from chorus.insights.api.rest import EVERY_ROW, Report, csv_report, requested_period, shown
from chorus.insights.app.reports import Filters, Interval, ProgrammeReport, Reports, Row
from chorus.insights.domain.figures import Concentration, EarnedMedia, Engagement
from chorus.insights.domain.periods import Period, PeriodKind
from chorus.insights.domain.reach import REFERENCE_AUDIENCE, Reach
from chorus.kit.auth import Principal, TokenVerifier
from chorus.kit.grpc_server import GrpcContext as Context
from chorus.kit.grpc_server import Registration, principal_from
from chorus.kit.networks import Network, network_name
from chorus.kit.validation import validated


class PeriodArgs(BaseModel):
    kind: PeriodKind
    of: str | None = Field(None, max_length=20)
    start: str | None = Field(None, max_length=10)
    end: str | None = Field(None, max_length=10)


class QueryArgs(BaseModel):
    period: PeriodArgs
    network: Network | None = None
    content_id: str | None = Field(None, max_length=200)
    group: str | None = Field(None, max_length=200)
    tag: str | None = Field(None, max_length=100)
    interval: Interval = Interval.DAY
    limit: int = Field(10, ge=1, le=100)
    report: Report | None = None


def _query(
    period: pb.PeriodSelector,
    filters: pb.Filters | None = None,
    **extra: Any,
) -> QueryArgs:
    """A request's parts as the REST edge would take them ("" and 0: unset)."""
    data: dict[str, Any] = {
        "period": {
            "kind": period.kind,
            "of": period.of or None,
            "start": period.first_day or None,
            "end": period.last_day or None,
        },
        **{k: v for k, v in extra.items() if v},
    }
    if filters is not None:
        data |= {
            # 0 is unset; any other number must name a network (pydantic refuses
            # "unspecified", as REST refuses an unknown name).
            "network": network_name(filters.network) if filters.network else None,
            "content_id": filters.content_id or None,
            "group": filters.group or None,
            "tag": filters.tag or None,
        }
    return validated(QueryArgs, data)


def _period(args: QueryArgs) -> Period:
    p = args.period
    return requested_period(p.kind, p.of, p.start, p.end)


def _filters(args: QueryArgs) -> Filters:
    return Filters(args.network, args.content_id, args.group, args.tag)


def engagement_pb(e: Engagement) -> pb.Engagement:
    return pb.Engagement(**shown(e))


def row_pb(row: Row) -> pb.Row:
    return pb.Row(
        key=row.key,
        label=row.label,
        shares=row.shares,
        engagement=engagement_pb(row.engagement),
        withdrawn=row.withdrawn,
    )


def concentration_pb(c: Concentration) -> pb.Concentration:
    return pb.Concentration(
        contributors=c.contributors,
        total=c.total,
        tops=[pb.TopShare(top=t.top, contributors=t.contributors, share=t.share) for t in c.tops],
        gini=c.gini,
        lorenz=[pb.LorenzPoint(contributors=x, engagement=y) for x, y in c.lorenz],
    )


def earned_media_pb(m: EarnedMedia) -> pb.EarnedMedia:
    return pb.EarnedMedia(
        currency=m.currency,
        total=m.total,
        networks=[
            pb.MediaValue(
                network=v.network,
                value=v.value,
                rates=pb.MediaRates(**vars(v.rates)),
                engagement=engagement_pb(v.engagement),
            )
            for v in m.networks
        ],
    )


def reach_pb(r: Reach) -> pb.Reach:
    message = pb.Reach(
        total=r.total,
        from_platform=r.from_platform,
        declared=r.declared,
        estimated=r.estimated,
        unmeasured=r.unmeasured,
        reference=REFERENCE_AUDIENCE,
    )
    if r.estimated_share is not None:
        message.estimated_share = r.estimated_share
    return message


# A chunk of an export holds whole lines, about this many bytes.
CHUNK_BYTES = 64 * 1024


def chunks(lines: Iterable[str]) -> Iterator[bytes]:
    pending: list[bytes] = []
    size = 0
    for line in lines:
        pending.append(line.encode())
        size += len(pending[-1])
        if size >= CHUNK_BYTES:
            yield b"".join(pending)
            pending, size = [], 0
    if pending:
        yield b"".join(pending)


def report_pb(r: ProgrammeReport) -> pb.ProgrammeReport:
    message = pb.ProgrammeReport(
        start=r.period.start.isoformat(), end=r.period.end.isoformat(), suppressed=r.suppressed
    )
    if r.suppressed:
        return message
    message.shares, message.enrolled, message.active = r.shares, r.enrolled, r.active
    if r.opt_outs is not None:
        message.opt_outs = r.opt_outs
    if r.participation is not None:
        message.participation = r.participation
    if r.engagement_per_share is not None:
        message.engagement_per_share = r.engagement_per_share
    message.engagement.CopyFrom(engagement_pb(r.engagement))
    if r.points is not None:
        message.points = r.points
    if r.reach is not None:
        message.reach.CopyFrom(reach_pb(r.reach))
    if r.earned_media is not None:
        message.earned_media.CopyFrom(earned_media_pb(r.earned_media))
    if r.advocates is not None:
        message.advocate_concentration.CopyFrom(concentration_pb(r.advocates))
    if r.content is not None:
        message.content_concentration.CopyFrom(concentration_pb(r.content))
    message.top_advocates.extend(row_pb(row) for row in r.top_advocates)
    message.top_content.extend(row_pb(row) for row in r.top_content)
    message.series.extend(row_pb(row) for row in r.series)
    return message


class InsightsServicer(pb_grpc.InsightsServiceServicer):
    def __init__(self, reports: Reports, verifier: TokenVerifier) -> None:
        self._reports = reports
        self._verifier = verifier

    async def _who(self, context: Context) -> Principal:
        return await principal_from(context, self._verifier)

    async def GetProgrammeReport(
        self, request: pb.GetProgrammeReportRequest, context: Context
    ) -> Any:
        who = await self._who(context)
        args = _query(
            request.period, request.filters, interval=request.interval, limit=request.limit
        )
        found = await self._reports.programme(
            who, _period(args), _filters(args), interval=args.interval, limit=args.limit
        )
        return pb.GetProgrammeReportResponse(report=report_pb(found))

    async def GetMyReport(self, request: pb.GetMyReportRequest, context: Context) -> Any:
        who = await self._who(context)
        args = _query(request.period, interval=request.interval)
        found = await self._reports.mine(who, _period(args), interval=args.interval)
        return pb.GetMyReportResponse(
            start=found.period.start.isoformat(),
            end=found.period.end.isoformat(),
            advocate=found.advocate,
            shares=found.shares,
            engagement=engagement_pb(found.engagement),
            by_network=[row_pb(row) for row in found.by_network],
            series=[row_pb(row) for row in found.series],
            reach=reach_pb(found.reach),
            points=found.points,
        )

    async def ExportReport(
        self, request: pb.ExportReportRequest, context: Context
    ) -> AsyncIterator[pb.ExportReportResponse]:
        who = await self._who(context)
        args = _query(
            request.period, request.filters, interval=request.interval, report=request.report
        )
        found = await self._reports.programme(
            who, _period(args), _filters(args), interval=args.interval, limit=EVERY_ROW
        )
        report = args.report or Report.DAILY
        lines, filename = csv_report(report, found)
        for number, chunk in enumerate(chunks(lines)):
            if number == 0:
                yield pb.ExportReportResponse(
                    content_type="text/csv; charset=utf-8", filename=filename, csv=chunk
                )
            else:
                yield pb.ExportReportResponse(csv=chunk)


def registration(servicer: InsightsServicer) -> Registration:
    name = pb.DESCRIPTOR.services_by_name["InsightsService"].full_name
    return (servicer, pb_grpc.add_InsightsServiceServicer_to_server, name)
