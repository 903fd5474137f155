"""The insights service over the real broker and database, on a scripted
programme whose figures are worked out by hand below: participation,
engagement, potential reach, concentration, earned media value, filters, k-suppression,
erasure, replay equality, tenant isolation, CSV, and bad input."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import grpc
import httpx
import pytest
from pymongo import AsyncMongoClient

from chorus.contracts.common.v1.common_pb2 import AudienceSize
from chorus.contracts.content.v1.events_pb2 import (
    AdvocateLifecycle,
    ContentApproved,
    ContentRetracted,
)
from chorus.contracts.distribution.v1.events_pb2 import AccountHealthChanged, SharePerformed
from chorus.contracts.engagement.v1.events_pb2 import EngagementKind, EngagementObserved
from chorus.contracts.gamification.v1.events_pb2 import PointsAwarded
from chorus.contracts.insights.v1 import insights_service_pb2 as pb
from chorus.contracts.insights.v1 import insights_service_pb2_grpc as pb_grpc
from chorus.insights.adapters.store import InsightsStore
from chorus.insights.app.reports import Filters, Reports
from chorus.insights.domain.periods import PeriodKind, period_named
from chorus.insights.main import InsightsSettings, build
from chorus.kit.admin import delete_namespace, ensure_topics, topic_specs
from chorus.kit.auth import Principal, Role
from chorus.kit.calendar import utc_day
from chorus.kit.envelope import timestamp
from chorus.kit.metrics import Metrics
from chorus.kit.networks import Network, network_pb
from chorus.kit.producer import EventProducer
from chorus.kit.topics import (
    ACCOUNT_HEALTH,
    ADVOCATE_LIFECYCLE,
    CONTENT_APPROVED,
    CONTENT_RETRACTED,
    ENGAGEMENT_OBSERVED,
    POINTS_AWARDED,
    SHARE_PERFORMED,
    Topic,
)
from chorus_testing import (
    bearer,
    drop_database,
    eventually,
    group_caught_up,
    in_process,
    running,
    unique,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

LIFE = AdvocateLifecycle
KIND = EngagementKind
WEEK = {"period": "week", "of": "2026-W45"}  # Monday 2026-11-02 to Sunday 11-08


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


Event = tuple[Topic, str, Any, str]  # topic, key, message, event id


def programme(tenant: str) -> list[Event]:
    """Six advocates (ann, ben, cat in sales; dan, eve in eng; fay, who opts
    out on 11-05), two items, five shares and their engagement, and the
    audiences ann declared and the platforms reported."""
    events: list[Event] = []
    people = [("ann", "sales"), ("ben", "sales"), ("cat", "sales"), ("dan", "eng")]
    people += [("eve", "eng"), ("fay", "ops")]
    declared = {
        "ann": [
            AudienceSize(network=network_pb(Network.LINKEDIN), size=500),
            AudienceSize(network=network_pb(Network.X), size=90),
        ]
    }
    for advocate, group in people:
        change = AdvocateLifecycle(
            tenant=tenant,
            advocate=advocate,
            change=LIFE.CHANGE_ENROLLED,
            groups=[group],
            occurred_at=timestamp(at(1)),
            audience=declared.get(advocate, []),
        )
        events.append((ADVOCATE_LIFECYCLE, f"{tenant}:{advocate}", change, f"enrol-{advocate}"))
    # ann's X account said 100, then 120 on a refresh; cat's LinkedIn 250; dan's
    # LinkedIn did not say.
    measured = [("ann", Network.X, 100), ("ann", Network.X, 120), ("cat", Network.LINKEDIN, 250)]
    measured += [("dan", Network.LINKEDIN, None)]
    for n, (advocate, network, size) in enumerate(measured):
        health = AccountHealthChanged(
            tenant=tenant,
            advocate=advocate,
            network=network_pb(network),
            health=AccountHealthChanged.HEALTH_ACTIVE,
            audience_size=size,
        )
        events.append((ACCOUNT_HEALTH, f"{tenant}:{advocate}", health, f"health-{n}"))
    left = AdvocateLifecycle(
        tenant=tenant, advocate="fay", change=LIFE.CHANGE_OPTED_OUT, occurred_at=timestamp(at(5))
    )
    events.append((ADVOCATE_LIFECYCLE, f"{tenant}:fay", left, "leave-fay"))
    # Points the engine awarded: dan's on 10-30 fall before the week.
    awarded = [("ann", 2, 30), ("ben", 2, 10), ("fay", 3, 5), ("cat", 4, 8), ("dan", -2, 7)]
    for n, (advocate, day, points) in enumerate(awarded):
        when = at(day) if day > 0 else datetime(2026, 10, 30, 12, tzinfo=UTC)
        award = PointsAwarded(
            tenant=tenant, advocate=advocate, points=points, occurred_at=timestamp(when)
        )
        events.append((POINTS_AWARDED, f"{tenant}:{advocate}", award, f"points-{n}"))
    for content_id, tag in (("c1", "launch"), ("c2", "hiring")):
        item = ContentApproved(
            tenant=tenant, content_id=content_id, title=f"Item {content_id}", tags=[tag]
        )
        events.append((CONTENT_APPROVED, f"{tenant}:{content_id}", item, f"approve-{content_id}"))
    shares = [
        ("ann", "c1", Network.LINKEDIN, 2),
        ("ann", "c2", Network.X, 3),
        ("ben", "c1", Network.LINKEDIN, 2),
        ("cat", "c2", Network.LINKEDIN, 4),
        ("fay", "c1", Network.X, 3),
    ]
    for advocate, content_id, network, day in shares:
        share = SharePerformed(
            tenant=tenant,
            advocate=advocate,
            share_id=f"{advocate}-{content_id}",
            content_id=content_id,
            network=network_pb(network),
            performed_at=timestamp(at(day)),
        )
        key = f"{tenant}:{advocate}"
        events.append((SHARE_PERFORMED, key, share, f"share-{advocate}-{content_id}"))
    engagement = [
        ("ann", "c1", Network.LINKEDIN, 2, KIND.ENGAGEMENT_KIND_CLICK, 40),
        ("ann", "c1", Network.LINKEDIN, 2, KIND.ENGAGEMENT_KIND_UNIQUE_CLICK, 30),
        ("ann", "c1", Network.LINKEDIN, 3, KIND.ENGAGEMENT_KIND_REACTION, 20),
        ("ann", "c1", Network.LINKEDIN, 3, KIND.ENGAGEMENT_KIND_IMPRESSION, 5000),
        ("ann", "c2", Network.X, 3, KIND.ENGAGEMENT_KIND_CLICK, 10),
        ("ann", "c2", Network.X, 4, KIND.ENGAGEMENT_KIND_RESHARE, 5),
        ("ann", "c2", Network.X, 4, KIND.ENGAGEMENT_KIND_IMPRESSION, 1000),
        ("ben", "c1", Network.LINKEDIN, 2, KIND.ENGAGEMENT_KIND_CLICK, 8),
        ("ben", "c1", Network.LINKEDIN, 2, KIND.ENGAGEMENT_KIND_REACTION, 2),
        ("cat", "c2", Network.LINKEDIN, 4, KIND.ENGAGEMENT_KIND_CLICK, 4),
        ("cat", "c2", Network.LINKEDIN, 5, KIND.ENGAGEMENT_KIND_COMMENT, 1),
        ("fay", "c1", Network.X, 3, KIND.ENGAGEMENT_KIND_CLICK, 6),
    ]
    for n, (advocate, content_id, network, day, kind, delta) in enumerate(engagement):
        seen = EngagementObserved(
            tenant=tenant,
            advocate=advocate,
            observation_id=f"seen-{n}",
            kind=kind,
            delta=delta,
            share_id=f"{advocate}-{content_id}",
            content_id=content_id,
            network=network_pb(network),
            observed_at=timestamp(at(day, 18)),
        )
        events.append((ENGAGEMENT_OBSERVED, f"{tenant}:{advocate}", seen, f"seen-{n}"))
    return events


async def send(kafka: str, prefix: str, events: list[Event]) -> None:
    producer = EventProducer(
        kafka, source="/test", metrics=Metrics(), client_id="test", topic_prefix=prefix
    )
    await producer.start()
    try:
        for topic, key, message, event_id in events:
            await producer.publish(topic, key, message, event_id=event_id)
    finally:
        await producer.stop()


@dataclass
class Insights:
    http: httpx.AsyncClient
    kafka: str
    mongo_url: str
    prefix: str
    tenant: str
    grpc_port: int = 0


@pytest.fixture(scope="module")
async def insights(kafka_bootstrap: str, mongo_url: str) -> AsyncIterator[Insights]:
    prefix = f"{unique('insights')}."
    await ensure_topics(kafka_bootstrap, topic_specs(prefix))
    settings = InsightsSettings(
        **in_process(kafka_bootstrap, mongo_url, "insights"), topic_prefix=prefix, min_group_size=3
    )
    tenant = unique("acme")
    try:
        async with running(build(settings)) as runtime:
            base = f"http://127.0.0.1:{runtime.bound_http_port}"
            async with httpx.AsyncClient(base_url=base, timeout=30) as http:
                await send(kafka_bootstrap, prefix, programme(tenant))
                assert runtime.grpc.port is not None
                service = Insights(
                    http, kafka_bootstrap, mongo_url, prefix, tenant, runtime.grpc.port
                )
                await settled(service, shares=5)
                yield service
    finally:
        await drop_database(mongo_url, settings.mongo_database)
        await delete_namespace(kafka_bootstrap, prefix)


def admin(tenant: str) -> dict[str, str]:
    return bearer(tenant, "pat", "admin")


async def report(service: Insights, tenant: str | None = None, **params: str) -> dict[str, Any]:
    response = await service.http.get(
        "/v1/insights/programme",
        params={**WEEK, **params},
        headers=admin(tenant or service.tenant),
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def settled(service: Insights, *, shares: int, engagement: int = 96) -> dict[str, Any]:
    async def arrived() -> dict[str, Any] | None:
        found = await report(service)
        done = found["shares"] == shares and found["engagement"]["total"] == engagement
        # account.health and points.awarded read too
        measured = found["reach"]["from_platform"] == 370 and found["points"] == 53
        return found if done and measured and found["enrolled"] == 6 else None

    return await eventually(arrived, timeout=30, interval=0.3)


async def test_the_programme_figures_are_exactly_the_hand_reckoned_ones(insights: Insights) -> None:
    found = await report(insights)
    # Enrolled during the week: all six (fay left on 11-05, inside it).
    # Active (shared in the week): ann, ben, cat, fay.
    assert (found["shares"], found["enrolled"], found["active"]) == (5, 6, 4)
    assert found["participation"] == pytest.approx(4 / 6)
    assert found["opt_outs"] == 1
    # Points in the week: ann 30, ben 10, fay 5, cat 8 (dan's came before it).
    assert found["points"] == 53
    # clicks 40 + 10 + 8 + 4 + 6; reactions 20 + 2; engagement = clicks,
    # reactions, comments and reshares: 68 + 22 + 1 + 5 = 96 over 5 shares.
    assert {k: found["engagement"][k] for k in ("clicks", "unique_clicks", "total")} == {
        "clicks": 68,
        "unique_clicks": 30,
        "total": 96,
    }
    assert (found["engagement"]["impressions"], found["engagement_per_share"]) == (6000, 19.2)
    # Per advocate ann 75, ben 10, fay 6, cat 5: the top one of four holds 75/96.
    # Gini over 5, 6, 10, 75: 2 * (5 + 12 + 30 + 300) / (4 * 96) - 5/4.
    advocates = found["advocate_concentration"]
    assert advocates["contributors"] == 4
    assert [(t["contributors"], t["share"]) for t in advocates["tops"]] == [(1, 75 / 96)] * 3
    assert advocates["gini"] == pytest.approx(2 * 347 / 384 - 5 / 4, abs=1e-6)
    # Per item c1 76, c2 20: Gini 2 * (20 + 152) / (2 * 96) - 3/2.
    content = found["content_concentration"]
    assert content["gini"] == pytest.approx(2 * 172 / 192 - 3 / 2, abs=1e-6)
    # fay opted out: she is in the figures, never named.
    assert [(r["key"], r["engagement"]["total"]) for r in found["top_advocates"]] == [
        ("ann", 75),
        ("ben", 10),
        ("cat", 5),
    ]
    assert [(r["key"], r["label"], r["shares"]) for r in found["top_content"]] == [
        ("c1", "Item c1", 3),
        ("c2", "Item c2", 2),
    ]
    days = [(r["key"], r["shares"]) for r in found["series"]]
    assert days == [
        ("2026-11-02", 2),
        ("2026-11-03", 2),
        ("2026-11-04", 1),
        ("2026-11-05", 0),
        ("2026-11-06", 0),
        ("2026-11-07", 0),
        ("2026-11-08", 0),
    ]


async def test_potential_reach_takes_the_platform_then_the_declared_size_then_an_estimate(
    insights: Insights,
) -> None:
    # Who shared where in the week: ann on LinkedIn (declared 500) and X (the
    # platform's latest 120, over her declared 90), ben on LinkedIn (nothing
    # known, and LinkedIn has no reference average: unmeasured), cat on
    # LinkedIn (the platform's 250), fay on X (the reference 61, an estimate).
    reach = (await report(insights))["reach"]
    assert reach == {
        "total": 500 + 120 + 250 + 61,
        "from_platform": 120 + 250,
        "declared": 500,
        "estimated": 61,
        "estimated_share": pytest.approx(61 / 931),
        "unmeasured": 1,
        "reference": {"facebook": 200, "x": 61},
    }
    on_x = (await report(insights, network="x"))["reach"]
    assert (on_x["total"], on_x["estimated"], on_x["unmeasured"]) == (181, 61, 0)
    ann = bearer(insights.tenant, "ann", "advocate")
    mine = (await insights.http.get("/v1/insights/me", params=WEEK, headers=ann)).json()
    assert (mine["reach"]["total"], mine["reach"]["estimated_share"]) == (620, 0.0)
    quiet = (await report(insights, period="week", of="2026-W43"))["reach"]
    assert (quiet["total"], quiet["estimated_share"]) == (0, None)


async def test_enrolled_counts_whoever_was_enrolled_at_some_moment_of_the_period(
    insights: Insights,
) -> None:
    # Everyone enrolled on 11-01 (a Sunday, in W44); fay left on 11-05 (W45).
    assert (await report(insights, period="week", of="2026-W43"))["enrolled"] == 0
    assert (await report(insights, period="week", of="2026-W44"))["enrolled"] == 6
    assert (await report(insights, period="week", of="2026-W46"))["enrolled"] == 5


async def test_earned_media_value_uses_the_tenants_rates_and_shows_its_inputs(
    insights: Insights,
) -> None:
    rates = {
        "currency": "EUR",
        "networks": {
            "linkedin": {"cpm": 30, "cpc": 2, "per_reaction": 0.5},
            "x": {"cpm": 10, "cpc": 1},
        },
    }
    response = await insights.http.put(
        "/v1/insights/media-rates", json=rates, headers=admin(insights.tenant)
    )
    assert response.status_code == 204, response.text
    value = (await report(insights))["earned_media"]
    # LinkedIn: 30 * 5000/1000 + 2 * (40 + 8 + 4) + 0.5 * 22 = 150 + 104 + 11.
    # X: 10 * 1000/1000 + 1 * (10 + 6) = 26.
    assert [(n["network"], n["value"]) for n in value["networks"]] == [
        ("linkedin", 265.0),
        ("x", 26.0),
    ]
    assert (value["currency"], value["total"]) == ("EUR", 291.0)
    assert value["networks"][0]["engagement"]["impressions"] == 5000
    assert "not revenue" in value["note"]
    refused = await insights.http.put(
        "/v1/insights/media-rates", json=rates, headers=bearer(insights.tenant, "cy", "curator")
    )
    assert refused.status_code == 403
    read = await insights.http.get(
        "/v1/insights/media-rates", headers=bearer(insights.tenant, "cy", "curator")
    )
    zero = {"cpm": 0, "cpc": 0, "per_reaction": 0, "per_comment": 0, "per_reshare": 0}
    assert read.json() == {
        "currency": "EUR",
        "networks": {
            "linkedin": {**zero, "cpm": 30, "cpc": 2, "per_reaction": 0.5},
            "x": {**zero, "cpm": 10, "cpc": 1},
            "facebook": zero,  # never set: worth nothing
        },
    }


async def test_filters_by_network_tag_and_group_and_small_groups_are_suppressed(
    insights: Insights,
) -> None:
    on_x = await report(insights, network="x")  # ann's c2 and fay's c1
    assert (on_x["shares"], on_x["engagement"]["total"]) == (2, 21)
    launch = await report(insights, tag="launch")  # c1: ann, ben, fay
    assert (launch["shares"], launch["engagement"]["total"]) == (3, 76)
    sales = await report(insights, group="sales")  # ann, ben, cat: all shared
    assert (sales["enrolled"], sales["active"], sales["participation"]) == (3, 3, 1.0)
    assert (sales["shares"], sales["engagement"]["total"]) == (4, 90)
    assert (sales["points"], on_x["points"], launch["points"]) == (48, None, None)
    eng = await report(insights, group="eng")  # dan and eve: fewer than k = 3
    assert eng["suppressed"] is True
    assert (eng["shares"], eng["participation"], eng["top_advocates"]) == (None, None, [])
    csv_refused = await insights.http.get(
        "/v1/insights/programme/advocates.csv",
        params={**WEEK, "group": "eng"},
        headers=admin(insights.tenant),
    )
    assert csv_refused.status_code == 403


async def test_an_advocate_sees_their_own_figures_and_never_the_programmes(
    insights: Insights,
) -> None:
    ann = bearer(insights.tenant, "ann", "advocate")
    mine = await insights.http.get("/v1/insights/me", params=WEEK, headers=ann)
    assert mine.status_code == 200, mine.text
    body = mine.json()
    assert (body["advocate"], body["shares"], body["engagement"]["total"]) == ("ann", 2, 75)
    assert body["points"] == 30
    assert [(r["key"], r["shares"]) for r in body["by_network"]] == [("linkedin", 1), ("x", 1)]
    refused = await insights.http.get("/v1/insights/programme", params=WEEK, headers=ann)
    assert refused.status_code == 403
    curator = await insights.http.get(
        "/v1/insights/programme", params=WEEK, headers=bearer(insights.tenant, "cy", "curator")
    )
    assert curator.status_code == 200


async def test_another_tenant_sees_none_of_it(insights: Insights) -> None:
    other = await report(insights, tenant=unique("globex"))
    assert (other["shares"], other["enrolled"], other["top_advocates"]) == (0, 0, [])
    assert other["participation"] is None  # nobody enrolled: unknown, not 0
    mine = await insights.http.get(
        "/v1/insights/me", params=WEEK, headers=bearer(unique("globex"), "ann", "advocate")
    )
    assert mine.json()["shares"] == 0


async def test_the_advocates_report_is_rfc_4180_csv(insights: Insights) -> None:
    response = await insights.http.get(
        "/v1/insights/programme/advocates.csv", params=WEEK, headers=admin(insights.tenant)
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    lines = response.text.split("\r\n")
    header = "advocate,shares,clicks,unique_clicks,reactions,comments,reshares,impressions"
    assert lines[0] == header
    assert lines[1] == "ann,2,50,30,20,0,5,6000"
    rows = list(csv.reader(io.StringIO(response.text)))
    assert [row[0] for row in rows[1:]] == ["ann", "ben", "cat"]
    content = await insights.http.get(
        "/v1/insights/programme/content.csv", params=WEEK, headers=admin(insights.tenant)
    )
    assert content.text.split("\r\n")[1] == "c1,Item c1,3,54,30,22,0,0,5000,false"


async def test_grpc_answers_what_rest_answers(insights: Insights) -> None:
    rest = await report(insights)
    week = pb.PeriodSelector(kind="week", of="2026-W45")
    as_admin = [("authorization", admin(insights.tenant)["Authorization"])]
    async with grpc.aio.insecure_channel(f"127.0.0.1:{insights.grpc_port}") as channel:
        stub = pb_grpc.InsightsServiceStub(channel)
        reply = await stub.GetProgrammeReport(
            pb.GetProgrammeReportRequest(period=week), metadata=as_admin
        )
        found = reply.report
        assert (found.start, found.end) == ("2026-11-02", "2026-11-09")
        assert (found.shares, found.enrolled, found.active, found.engagement.total) == (5, 6, 4, 96)
        assert found.participation == pytest.approx(rest["participation"])
        assert found.advocate_concentration.gini == pytest.approx(
            rest["advocate_concentration"]["gini"]
        )
        assert [row.key for row in found.top_advocates] == ["ann", "ben", "cat"]
        assert found.earned_media.total == rest["earned_media"]["total"]
        assert (found.reach.total, found.reach.unmeasured, found.points) == (931, 1, 53)
        assert found.reach.estimated_share == pytest.approx(61 / 931)
        assert dict(found.reach.reference) == {"facebook": 200, "x": 61}
        chunks = [
            chunk
            async for chunk in stub.ExportReport(
                pb.ExportReportRequest(report="advocates", period=week), metadata=as_admin
            )
        ]
        csv_over_rest = await insights.http.get(
            "/v1/insights/programme/advocates.csv", params=WEEK, headers=admin(insights.tenant)
        )
        assert b"".join(chunk.csv for chunk in chunks).decode() == csv_over_rest.text
        assert chunks[0].filename == "advocates-2026-11-02.csv"
        as_ann = [("authorization", bearer(insights.tenant, "ann", "advocate")["Authorization"])]
        mine = await stub.GetMyReport(pb.GetMyReportRequest(period=week), metadata=as_ann)
        assert (mine.advocate, mine.shares, mine.engagement.total) == ("ann", 2, 75)
        assert (mine.reach.total, mine.reach.declared, mine.points) == (620, 500, 30)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.GetProgrammeReport(
                pb.GetProgrammeReportRequest(period=week), metadata=as_ann
            )
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
        bad = pb.PeriodSelector(kind="week", of="2026-W99")
        with pytest.raises(grpc.aio.AioRpcError) as invalid:
            await stub.GetProgrammeReport(
                pb.GetProgrammeReportRequest(period=bad), metadata=as_admin
            )
        assert invalid.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "2026-W99" in (invalid.value.details() or "")
        unknown_network = pb.Filters(network=99)  # type: ignore[arg-type]
        with pytest.raises(grpc.aio.AioRpcError) as unfiltered:
            await stub.GetProgrammeReport(
                pb.GetProgrammeReportRequest(period=week, filters=unknown_network),
                metadata=as_admin,
            )
        assert unfiltered.value.code() == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize(
    ("params", "where"),
    [
        ({"period": "week", "of": "2026-W99"}, "of"),
        ({"period": "month", "of": "2026-13"}, "of"),
        ({"period": "range", "from": "2026-11-09", "to": "2026-11-02"}, "from"),
        ({"period": "range", "from": "2026-11-02"}, "from"),
        ({"period": "fortnight", "of": "2026-W45"}, "period"),
        ({**WEEK, "group": "nobody-is-in-this"}, "group"),
        ({**WEEK, "network": "myspace"}, "network"),
        ({"period": "quarter", "of": "9999-Q4"}, "of"),
        ({"period": "range", "from": "9999-12-30", "to": "9999-12-31"}, "from"),
    ],
)
async def test_bad_periods_and_filters_are_refused_with_a_problem(
    insights: Insights, params: dict[str, str], where: str
) -> None:
    response = await insights.http.get(
        "/v1/insights/programme", params=params, headers=admin(insights.tenant)
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert where in response.text


MONTH = {"period": "month", "of": "2026-11"}
QUARTER = {"period": "quarter", "of": "2026-Q4"}


async def rollups_agree_with_the_days(service: Insights) -> dict[str, Any]:
    """Weeks, a month and a quarter without filters are read from the rollups;
    the same days asked as a range, from the day buckets: the figures must agree."""
    for named, first, last in (
        (WEEK, "2026-11-02", "2026-11-08"),
        ({"period": "week", "of": "2026-W44"}, "2026-10-26", "2026-11-01"),  # two months
        (MONTH, "2026-11-01", "2026-11-30"),
        (QUARTER, "2026-10-01", "2026-12-31"),
    ):
        rolled_up = await report(service, **named)
        assert rolled_up == await report(service, period="range", **{"from": first, "to": last})
    return rolled_up


async def test_weeks_a_month_and_a_quarter_read_from_rollups_agree_with_their_days(
    insights: Insights,
) -> None:
    quarter = await rollups_agree_with_the_days(insights)
    # The week's hand-reckoned figures, and dan's 7 points of 10-30 besides.
    assert (quarter["shares"], quarter["active"], quarter["engagement"]["total"]) == (5, 4, 96)
    assert (quarter["points"], quarter["reach"]["total"], quarter["reach"]["unmeasured"]) == (
        60,
        931,
        1,
    )
    assert [r["key"] for r in quarter["top_advocates"]] == ["ann", "ben", "cat"]
    assert (await report(insights, **MONTH))["points"] == 53


async def test_a_replay_from_offset_0_into_an_empty_database_gives_the_same_figures(
    insights: Insights,
) -> None:
    before = await report(insights)
    quarter_before = await report(insights, **QUARTER)
    # Every event again (a redelivery): nothing changes.
    await send(insights.kafka, insights.prefix, programme(insights.tenant))
    await caught_up(insights, "insights")
    # A second service, its own group and an empty database, reads every topic
    # from the start.
    replay = InsightsSettings(
        **in_process(insights.kafka, insights.mongo_url, "insights_replay"),
        topic_prefix=insights.prefix,
        service_name="insights-replay",
        min_group_size=3,
    )
    try:
        async with running(build(replay)) as runtime:
            base = f"http://127.0.0.1:{runtime.bound_http_port}"
            async with httpx.AsyncClient(base_url=base, timeout=30) as http:
                again = Insights(http, insights.kafka, insights.mongo_url, "", insights.tenant)
                await caught_up(insights, "insights-replay")
                replayed = await settled(again, shares=5)
                quarter_replayed = await rollups_agree_with_the_days(again)
    finally:
        await drop_database(insights.mongo_url, replay.mongo_database)
    assert (await report(insights)) == before
    assert (await report(insights, **QUARTER)) == quarter_before
    # The rates were set through the API, not an event: leave them out.
    for again_found, first in ((replayed, before), (quarter_replayed, quarter_before)):
        assert {k: v for k, v in again_found.items() if k != "earned_media"} == {
            k: v for k, v in first.items() if k != "earned_media"
        }


async def test_a_retracted_item_is_marked_withdrawn_in_the_rankings(insights: Insights) -> None:
    retracted = ContentRetracted(tenant=insights.tenant, content_id="c2", reason="outdated")
    key = f"{insights.tenant}:c2"
    await send(insights.kafka, insights.prefix, [(CONTENT_RETRACTED, key, retracted, "pull-c2")])

    async def marked() -> dict[str, bool] | None:
        rows = {row["key"]: row["withdrawn"] for row in (await report(insights))["top_content"]}
        return rows if rows.get("c2") else None

    assert await eventually(marked, timeout=30, interval=0.3) == {"c1": False, "c2": True}


async def test_erasure_removes_the_advocate_from_every_figure_that_names_them(
    insights: Insights,
) -> None:
    erased = AdvocateLifecycle(
        tenant=insights.tenant,
        advocate="cat",
        change=LIFE.CHANGE_ERASED,
        occurred_at=timestamp(at(6)),
    )
    await send(
        insights.kafka,
        insights.prefix,
        [(ADVOCATE_LIFECYCLE, f"{insights.tenant}:cat", erased, "erase-cat")],
    )
    # cat's share (1) and engagement (5) go with her; so does her enrolment.
    found = await eventually(
        lambda: _when(report(insights), lambda r: (r["shares"], r["points"]) == (4, 45)),
        timeout=30,
        interval=0.3,
    )
    assert (found["enrolled"], found["active"], found["engagement"]["total"]) == (5, 3, 91)
    assert "cat" not in [r["key"] for r in found["top_advocates"]]
    # Her LinkedIn audience (250, from the platform) goes too, and her 8 points.
    assert (found["reach"]["total"], found["reach"]["from_platform"]) == (681, 120)
    # The month and the quarter lose her from their rollups too.
    quarter = await rollups_agree_with_the_days(insights)
    assert (quarter["shares"], quarter["engagement"]["total"], quarter["points"]) == (4, 91, 52)
    assert quarter["reach"]["total"] == 681
    # An event of hers that comes again later (a redelivery) is dropped.
    late = [e for e in programme(insights.tenant) if e[3] == "share-cat-c2"]
    await send(insights.kafka, insights.prefix, [(*late[0][:3], "share-cat-again")])
    await caught_up(insights, "insights")
    cat = bearer(insights.tenant, "cat", "advocate")
    mine = await insights.http.get("/v1/insights/me", params=WEEK, headers=cat)
    assert mine.json()["shares"] == 0
    assert (await report(insights))["shares"] == 4


async def caught_up(service: Insights, group: str) -> None:
    """The service's groups have handled every record: activity in `group`,
    lifecycle in its control group."""
    topics = (
        (group, SHARE_PERFORMED),
        (group, ENGAGEMENT_OBSERVED),
        (group, ACCOUNT_HEALTH),
        (group, POINTS_AWARDED),
        (f"{group}-control", ADVOCATE_LIFECYCLE),
    )

    async def done() -> bool:
        for name, topic in topics:
            prefixed = service.prefix + topic.name
            if not await group_caught_up(service.kafka, service.prefix + name, prefixed):
                return False
        return True

    await eventually(done, timeout=60, interval=0.3)


async def _when(pending: Any, ready: Any) -> dict[str, Any] | None:
    found = await pending
    return found if ready(found) else None


async def test_an_upgraded_database_reads_its_months_from_the_buckets_until_the_rollups_hold_them(
    mongo_url: str,
) -> None:
    """Buckets counted before the rollups existed are in no rollup: a database
    that has buckets at the first start reads from them the months and
    quarters that begin before the day after it."""
    today = utc_day(datetime.now(UTC))
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url, tz_aware=True)
    upgraded, new = unique("insights_upgraded"), unique("insights_new")
    try:
        store = InsightsStore(client[upgraded])
        bucket = {"tenant": "t", "day": today.isoformat(), "advocate": "ann", "network": "x"}
        await store.daily.insert_one({"_id": "old", **bucket, "content_id": "c1", "shares": 2})
        await store.start_rollups()
        await store.start_rollups()  # a second replica, or a restart: unchanged
        assert await store.rollups_since() == today + timedelta(days=1)
        assert await store.rollups_since(PeriodKind.WEEK) == today + timedelta(days=1)
        month = period_named(PeriodKind.MONTH, f"{today:%Y-%m}")
        pat = Principal("pat", "t", frozenset({Role.ADMIN}))
        found = await Reports(store, min_group_size=1).programme(pat, month, Filters())
        assert (found.shares, found.active) == (2, 1)
        fresh = InsightsStore(client[new])
        await fresh.start_rollups()
        assert await fresh.rollups_since() == date.min
        assert await fresh.rollups_since(PeriodKind.WEEK) == date.min
        # A database whose months were rolled up before weeks were: its weeks
        # are read from the buckets until the day after the first start with weeks.
        await fresh.meta.delete_one({"_id": "week_rollups"})
        await fresh.daily.insert_one({"_id": "old", **bucket, "content_id": "c1", "shares": 1})
        weeks_later = InsightsStore(client[new])
        await weeks_later.start_rollups()
        assert await weeks_later.rollups_since() == date.min
        assert await weeks_later.rollups_since(PeriodKind.WEEK) == today + timedelta(days=1)
    finally:
        for name in (upgraded, new):
            await client.drop_database(name)
        await client.close()
