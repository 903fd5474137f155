"""Mapping between domain values and MongoDB documents."""

from __future__ import annotations

from dataclasses import asdict

from chorus.content.domain.model import (
    Audience,
    Commentary,
    Enrollment,
    EnrollmentStatus,
    Item,
    ItemKind,
    Network,
    PostingFrequency,
    Profile,
    Program,
    State,
)
from chorus.kit.mongo import Document


def program_to_doc(program: Program) -> Document:
    doc = asdict(program)
    doc["banned_terms"] = list(program.banned_terms)
    doc["allowed_domains"] = list(program.allowed_domains)
    return doc


def doc_to_program(doc: Document) -> Program:
    return Program(
        tenant=doc["tenant"],
        policy_text=doc["policy_text"],
        policy_version=doc["policy_version"],
        disclosure=doc["disclosure"],
        disclosure_auto_append=doc["disclosure_auto_append"],
        banned_terms=tuple(doc["banned_terms"]),
        allowed_domains=tuple(doc["allowed_domains"]),
        frequency=PostingFrequency(**doc["frequency"]),
        version=doc["version"],
    )


def item_to_doc(item: Item) -> Document:
    doc = asdict(item)
    doc["_id"] = item.id
    doc["kind"] = item.kind.value
    doc["state"] = item.state.value
    doc["commentaries"] = [{"network": c.network.value, "text": c.text} for c in item.commentaries]
    doc["audience"] = {k: list(v) for k, v in asdict(item.audience).items()}
    doc["media_refs"] = list(item.media_refs)
    doc["tags"] = list(item.tags)
    return doc


def doc_to_item(doc: Document) -> Item:
    return Item(
        tenant=doc["tenant"],
        id=doc["id"],
        author=doc["author"],
        kind=ItemKind(doc["kind"]),
        title=doc["title"],
        url=doc["url"],
        summary=doc["summary"],
        commentaries=tuple(
            Commentary(Network(c["network"]), c["text"]) for c in doc["commentaries"]
        ),
        media_refs=tuple(doc["media_refs"]),
        tags=tuple(doc["tags"]),
        audience=Audience(**{k: tuple(v) for k, v in doc["audience"].items()}),
        language=doc["language"],
        publish_at=doc["publish_at"],
        expires_at=doc["expires_at"],
        priority=doc["priority"],
        state=State(doc["state"]),
        rejection_reason=doc["rejection_reason"],
        retraction_reason=doc["retraction_reason"],
        approved_by=doc["approved_by"],
        approved_at=doc["approved_at"],
        created_at=doc["created_at"],
        version=doc["version"],
    )


def enrollment_to_doc(enrollment: Enrollment) -> Document:
    doc = asdict(enrollment)
    doc["status"] = enrollment.status.value
    doc["profile"] = {
        "groups": list(enrollment.profile.groups),
        "department": enrollment.profile.department,
        "location": enrollment.profile.location,
        "languages": list(enrollment.profile.languages),
    }
    doc["declared_audience"] = {n.value: size for n, size in enrollment.declared_audience.items()}
    return doc


def doc_to_enrollment(doc: Document) -> Enrollment:
    profile = doc["profile"]
    return Enrollment(
        tenant=doc["tenant"],
        advocate=doc["advocate"],
        status=EnrollmentStatus(doc["status"]),
        acknowledged_policy_version=doc["acknowledged_policy_version"],
        profile=Profile(
            groups=tuple(profile["groups"]),
            department=profile["department"],
            location=profile["location"],
            languages=tuple(profile["languages"]),
        ),
        auto_share=doc["auto_share"],
        declared_audience={
            Network(n): size for n, size in doc.get("declared_audience", {}).items()
        },
    )
