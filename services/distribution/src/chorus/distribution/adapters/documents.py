"""Mapping between distribution's values and MongoDB documents."""

from __future__ import annotations

from dataclasses import asdict, fields

from chorus.distribution.domain.model import Member, Mode, NetworkShare, PostingRules, Share
from chorus.distribution.domain.sharing import Status
from chorus.kit.mongo import Document
from chorus.kit.networks import Network

SHARE_FIELDS = (
    "tenant",
    "advocate",
    "content_id",
    "created_at",
    "scheduled_at",
    "scheduled",
    "auto",
)


def network_share_to_doc(entry: NetworkShare) -> Document:
    doc = asdict(entry)
    doc["mode"], doc["status"] = entry.mode.value, entry.status.value
    return doc


def share_to_doc(share: Share) -> Document:
    doc: Document = {"_id": share.id, **{name: getattr(share, name) for name in SHARE_FIELDS}}
    doc["networks"] = {
        network.value: network_share_to_doc(entry) for network, entry in share.networks.items()
    }
    return doc


def doc_to_network_share(doc: Document) -> NetworkShare:
    return NetworkShare(
        mode=Mode(doc["mode"]),
        status=Status(doc["status"]),
        commentary=doc["commentary"],
        tracked_url=doc.get("tracked_url", ""),
        intent_url=doc.get("intent_url", ""),
        post_ref=doc.get("post_ref", ""),
        failure=doc.get("failure", ""),
        attempted=doc.get("attempted", False),
        attempts=doc.get("attempts", 0),
        not_before=doc.get("not_before"),
        performed_at=doc.get("performed_at"),
    )


def doc_to_share(doc: Document) -> Share:
    return Share(
        id=doc["_id"],
        networks={
            Network(network): doc_to_network_share(entry)
            for network, entry in doc["networks"].items()
        },
        **{name: doc[name] for name in SHARE_FIELDS},
    )


def member_to_doc(member: Member) -> Document:
    doc = asdict(member)
    doc["groups"], doc["languages"] = list(member.groups), list(member.languages)
    return doc


def doc_to_member(doc: Document) -> Member:
    return Member(
        enrolled=doc.get("enrolled", False),
        policy_version=doc.get("policy_version", 0),
        auto_share=doc.get("auto_share", False),
        groups=tuple(doc.get("groups", ())),
        department=doc.get("department", ""),
        location=doc.get("location", ""),
        languages=tuple(doc.get("languages", ())),
    )


def rules_to_doc(rules: PostingRules) -> Document:
    return asdict(rules)


def doc_to_rules(doc: Document | None) -> PostingRules:
    """The stored rules; a tenant content never announced has the defaults."""
    known = {f.name for f in fields(PostingRules)}
    return PostingRules(**{k: v for k, v in (doc or {}).items() if k in known})
