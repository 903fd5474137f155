"""The events the content service emits, built from domain values."""

from __future__ import annotations

from datetime import datetime

from chorus.content.domain.compliance import with_disclosure
from chorus.content.domain.model import Enrollment, Item, Program
from chorus.contracts.common.v1 import common_pb2
from chorus.contracts.content.v1 import events_pb2
from chorus.kit.envelope import optional_timestamp as timestamp
from chorus.kit.networks import network_pb


def content_approved(item: Item, program: Program) -> events_pb2.ContentApproved:
    """Everything distribution needs; commentaries already carry the disclosure
    where the program appends it automatically."""
    return events_pb2.ContentApproved(
        tenant=item.tenant,
        content_id=item.id,
        title=item.title,
        url=item.url,
        summary=item.summary,
        commentaries=[
            common_pb2.Commentary(
                network=network_pb(c.network.value), text=with_disclosure(c.text, program)
            )
            for c in item.commentaries
        ],
        media_refs=item.media_refs,
        tags=item.tags,
        audience=common_pb2.Audience(
            groups=item.audience.groups,
            departments=item.audience.departments,
            locations=item.audience.locations,
            languages=item.audience.languages,
        ),
        language=item.language,
        publish_at=timestamp(item.publish_at or item.approved_at),
        expires_at=timestamp(item.expires_at),
        disclosure=program.disclosure,
        disclosure_auto_append=program.disclosure_auto_append,
        approved_by=item.approved_by,
        approved_at=timestamp(item.approved_at),
        priority=item.priority,
    )


def content_retracted(item: Item, by: str, now: datetime) -> events_pb2.ContentRetracted:
    return events_pb2.ContentRetracted(
        tenant=item.tenant,
        content_id=item.id,
        reason=item.retraction_reason,
        retracted_by=by,
        retracted_at=timestamp(now),
    )


Change = events_pb2.AdvocateLifecycle.Change


def advocate_lifecycle(
    enrollment: Enrollment, change: Change.ValueType, now: datetime
) -> events_pb2.AdvocateLifecycle:
    erased = change == events_pb2.AdvocateLifecycle.CHANGE_ERASED
    profile = enrollment.profile
    return events_pb2.AdvocateLifecycle(
        tenant=enrollment.tenant,
        advocate=enrollment.advocate,
        change=change,
        policy_version=enrollment.acknowledged_policy_version,
        # An erasure event carries no personal data beyond the id to erase.
        groups=() if erased else profile.groups,
        department="" if erased else profile.department,
        location="" if erased else profile.location,
        languages=() if erased else profile.languages,
        auto_share=False if erased else enrollment.auto_share,
        occurred_at=timestamp(now),
        audience=()
        if erased
        else [
            common_pb2.AudienceSize(network=network_pb(network), size=size)
            for network, size in enrollment.declared_audience.items()
        ],
    )


def program_changed(program: Program) -> events_pb2.ProgramChanged:
    f = program.frequency
    return events_pb2.ProgramChanged(
        tenant=program.tenant,
        policy_version=program.policy_version,
        disclosure=program.disclosure,
        disclosure_auto_append=program.disclosure_auto_append,
        shares_per_day=f.per_day,
        shares_per_week=f.per_week,
        frequency_hard_limit=f.hard_limit,
        version=program.version,
    )
