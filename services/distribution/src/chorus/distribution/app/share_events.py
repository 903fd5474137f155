"""The events a share's life announces, as outbox entries written with the
change that causes them (one write: never one without the other)."""

from __future__ import annotations

from datetime import datetime

from chorus.contracts.common.v1.common_pb2 import SHARE_MODE_API, SHARE_MODE_INTENT
from chorus.contracts.distribution.v1.events_pb2 import ShareFailed, SharePerformed, ShareRequested
from chorus.distribution.domain.model import Mode, Share
from chorus.kit.envelope import timestamp
from chorus.kit.mongo import Document
from chorus.kit.networks import Network, network_pb
from chorus.kit.outbox import outbox_entry
from chorus.kit.topics import SHARE_FAILED, SHARE_PERFORMED, SHARE_REQUESTED, advocate_key

MODES = {Mode.API: SHARE_MODE_API, Mode.INTENT: SHARE_MODE_INTENT}


def requested(share: Share, network: Network) -> Document:
    """Work for the posting worker: post this share on this network."""
    return outbox_entry(
        SHARE_REQUESTED,
        advocate_key(share.tenant, share.advocate),
        ShareRequested(
            tenant=share.tenant,
            advocate=share.advocate,
            share_id=share.id,
            network=network_pb(network),
        ),
    )


def performed(
    share: Share, network: Network, post_ref: str, tracked_url: str, at: datetime
) -> Document:
    return outbox_entry(
        SHARE_PERFORMED,
        advocate_key(share.tenant, share.advocate),
        SharePerformed(
            tenant=share.tenant,
            advocate=share.advocate,
            share_id=share.id,
            content_id=share.content_id,
            network=network_pb(network),
            mode=MODES[share.networks[network].mode],
            post_ref=post_ref,
            tracked_link_code=tracked_url.rsplit("/", 1)[-1],
            requested_at=timestamp(share.created_at),
            performed_at=timestamp(at),
        ),
    )


def failed(share: Share, network: Network, reason_code: str, reason: str, at: datetime) -> Document:
    return outbox_entry(
        SHARE_FAILED,
        advocate_key(share.tenant, share.advocate),
        ShareFailed(
            tenant=share.tenant,
            advocate=share.advocate,
            share_id=share.id,
            content_id=share.content_id,
            network=network_pb(network),
            reason_code=reason_code,
            reason=reason,
            failed_at=timestamp(at),
        ),
    )
