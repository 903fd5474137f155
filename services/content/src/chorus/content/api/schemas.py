"""REST request and response bodies, and their mapping to the domain."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from chorus.content.app.content import (
    Feed,
    ItemFields,
    ItemView,
    Page,
    ProgramChange,
)
from chorus.content.domain.model import (
    Audience,
    Commentary,
    Enrollment,
    Network,
    PostingFrequency,
    Profile,
    Program,
    State,
)

Text = Annotated[str, Field(max_length=100_000)]
AudienceSize = Annotated[int, Field(ge=0, le=1_000_000_000)]
ShortList = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=200)]], Field(max_length=200)
]


class FrequencyBody(BaseModel):
    per_day: int = Field(3, ge=1, le=100)
    per_week: int = Field(10, ge=1, le=500)
    hard_limit: bool = Field(False, description="true: sharing beyond it is refused")


class ProgramIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "policy_text": "Share what you like; never share confidential information.",
                    "disclosure": "#employee",
                    "disclosure_auto_append": True,
                    "banned_terms": ["guaranteed returns"],
                    "allowed_domains": ["acme.example"],
                    "frequency": {"per_day": 3, "per_week": 10, "hard_limit": False},
                }
            ]
        }
    )
    policy_text: Text = Field(min_length=1)
    disclosure: str = Field("#employee", max_length=100)
    disclosure_auto_append: bool = True
    banned_terms: ShortList = []
    allowed_domains: ShortList = []
    frequency: FrequencyBody = Field(default_factory=FrequencyBody)

    def to_change(self) -> ProgramChange:
        return ProgramChange(
            policy_text=self.policy_text,
            disclosure=self.disclosure,
            disclosure_auto_append=self.disclosure_auto_append,
            banned_terms=tuple(self.banned_terms),
            allowed_domains=tuple(self.allowed_domains),
            frequency=PostingFrequency(**self.frequency.model_dump()),
        )


class ProgramOut(ProgramIn):
    tenant: str
    policy_version: int
    version: int

    @classmethod
    def of(cls, program: Program) -> ProgramOut:
        return cls(
            tenant=program.tenant,
            policy_text=program.policy_text or "-",
            policy_version=program.policy_version,
            disclosure=program.disclosure,
            disclosure_auto_append=program.disclosure_auto_append,
            banned_terms=list(program.banned_terms),
            allowed_domains=list(program.allowed_domains),
            frequency=FrequencyBody(
                per_day=program.frequency.per_day,
                per_week=program.frequency.per_week,
                hard_limit=program.frequency.hard_limit,
            ),
            version=program.version,
        )


class EnrollIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "policy_version": 1,
                    "groups": ["sales"],
                    "department": "Sales",
                    "location": "Berlin",
                    "languages": ["en", "de"],
                    "auto_share": False,
                    "audience": {"linkedin": 850, "x": 120},
                }
            ]
        }
    )
    policy_version: int = Field(ge=1, description="the policy version the advocate acknowledges")
    groups: ShortList = []
    department: str = Field("", max_length=200)
    location: str = Field("", max_length=200)
    languages: ShortList = []
    auto_share: bool = Field(False, description="queue targeted items automatically")
    audience: dict[Network, AudienceSize] = Field(
        {},
        max_length=len(Network),
        description="followers or connections per network, as the advocate counts them: "
        "potential reach uses them where the platform does not report a size",
    )

    def profile(self) -> Profile:
        return Profile(tuple(self.groups), self.department, self.location, tuple(self.languages))


class EnrollmentOut(BaseModel):
    tenant: str
    advocate: str
    status: str
    acknowledged_policy_version: int
    groups: list[str]
    department: str
    location: str
    languages: list[str]
    auto_share: bool
    audience: dict[Network, int]

    @classmethod
    def of(cls, e: Enrollment) -> EnrollmentOut:
        return cls(
            tenant=e.tenant,
            advocate=e.advocate,
            status=e.status.value,
            acknowledged_policy_version=e.acknowledged_policy_version,
            groups=list(e.profile.groups),
            department=e.profile.department,
            location=e.profile.location,
            languages=list(e.profile.languages),
            auto_share=e.auto_share,
            audience=e.declared_audience,
        )


class CommentaryBody(BaseModel):
    network: Network
    text: str = Field(min_length=1, max_length=70_000)


class AudienceBody(BaseModel):
    groups: ShortList = []
    departments: ShortList = []
    locations: ShortList = []
    languages: ShortList = []


class ItemIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "title": "Our new plant opens",
                    "url": "https://acme.example/news/plant",
                    "summary": "Three years of work.",
                    "commentaries": [
                        {"network": "linkedin", "text": "Proud of the team behind our new plant!"},
                        {
                            "network": "x",
                            "text": "Our new plant is open https://acme.example/news/plant",
                        },
                    ],
                    "tags": ["news"],
                    "audience": {"groups": ["sales"]},
                    "language": "en",
                    "publish_at": "2026-12-01T08:00:00Z",
                    "expires_at": "2026-12-31T00:00:00Z",
                }
            ]
        }
    )
    title: str = Field(min_length=1, max_length=300)
    url: str = Field(min_length=1, max_length=2000)
    summary: str = Field("", max_length=5000)
    commentaries: list[CommentaryBody] = Field([], max_length=30)
    media_refs: ShortList = []
    tags: ShortList = []
    audience: AudienceBody = Field(default_factory=AudienceBody)
    language: str = Field("en", min_length=2, max_length=20)
    publish_at: datetime | None = None
    expires_at: datetime | None = None
    priority: int = Field(0, ge=0, le=100)

    def fields(self) -> ItemFields:
        return ItemFields(
            title=self.title,
            url=self.url,
            summary=self.summary,
            commentaries=tuple(Commentary(c.network, c.text) for c in self.commentaries),
            media_refs=tuple(self.media_refs),
            tags=tuple(self.tags),
            audience=Audience(**{k: tuple(v) for k, v in self.audience.model_dump().items()}),
            language=self.language,
            publish_at=self.publish_at,
            expires_at=self.expires_at,
            priority=self.priority,
        )


class ItemOut(ItemIn):
    id: str
    tenant: str
    author: str
    kind: str
    state: str
    version: int
    rejection_reason: str
    retraction_reason: str
    approved_by: str
    approved_at: datetime | None
    created_at: datetime | None

    @classmethod
    def of(cls, view: ItemView) -> ItemOut:
        i = view.item
        return cls(
            id=i.id,
            tenant=i.tenant,
            author=i.author,
            kind=i.kind.value,
            state=view.state.value,
            version=i.version,
            title=i.title,
            url=i.url,
            summary=i.summary,
            commentaries=[CommentaryBody(network=c.network, text=c.text) for c in i.commentaries],
            media_refs=list(i.media_refs),
            tags=list(i.tags),
            audience=AudienceBody(
                groups=list(i.audience.groups),
                departments=list(i.audience.departments),
                locations=list(i.audience.locations),
                languages=list(i.audience.languages),
            ),
            language=i.language,
            publish_at=i.publish_at,
            expires_at=i.expires_at,
            priority=i.priority,
            rejection_reason=i.rejection_reason,
            retraction_reason=i.retraction_reason,
            approved_by=i.approved_by,
            approved_at=i.approved_at,
            created_at=i.created_at,
        )


class ReasonIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class ItemPage(BaseModel):
    items: list[ItemOut]
    next_cursor: str | None

    @classmethod
    def of(cls, page: Page) -> ItemPage:
        return cls(items=[ItemOut.of(v) for v in page.items], next_cursor=page.next_cursor)


class FeedEntryOut(BaseModel):
    item: ItemOut
    shared_on: list[str] = Field(description="networks the advocate already shared it on")


class FrequencyOut(BaseModel):
    shares_today: int
    shares_this_week: int
    per_day: int
    per_week: int
    hard_limit: bool
    reached: bool


class FeedOut(BaseModel):
    items: list[FeedEntryOut]
    next_cursor: str | None
    frequency: FrequencyOut
    enrolled: bool
    policy_acknowledged: bool

    @classmethod
    def of(cls, feed: Feed) -> FeedOut:
        f = feed.frequency
        return cls(
            items=[
                FeedEntryOut(item=ItemOut.of(ItemView(e.item, State.LIVE)), shared_on=e.shared_on)
                for e in feed.entries
            ],
            next_cursor=feed.next_cursor,
            frequency=FrequencyOut(
                shares_today=f.shares_today,
                shares_this_week=f.shares_this_week,
                per_day=f.per_day,
                per_week=f.per_week,
                hard_limit=f.hard_limit,
                reached=f.reached,
            ),
            enrolled=feed.enrolled,
            policy_acknowledged=feed.policy_acknowledged,
        )
