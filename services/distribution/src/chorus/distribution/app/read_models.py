"""What distribution keeps of content's advocates and programme, from its events."""

from __future__ import annotations

from collections.abc import Sequence

from chorus.contracts.content.v1.events_pb2 import AdvocateLifecycle, ProgramChanged
from chorus.distribution.adapters.store import DistributionStore
from chorus.distribution.domain.model import Member, PostingRules
from chorus.kit.envelope import Envelope, messages


class ReadModels:
    def __init__(self, store: DistributionStore) -> None:
        self._store = store

    async def on_lifecycle(self, events: Sequence[Envelope]) -> None:
        """The advocates' read model. A chunk holds each advocate's changes in
        order: erase whoever was erased in it, then keep each advocate's last
        change after that — two bulk writes, whatever the chunk's size."""
        erased: set[tuple[str, str]] = set()
        latest: dict[tuple[str, str], AdvocateLifecycle] = {}
        for change in messages(events, AdvocateLifecycle):
            who = (change.tenant, change.advocate)
            if change.change == AdvocateLifecycle.CHANGE_ERASED:
                erased.add(who)
                latest.pop(who, None)
            else:
                latest[who] = change
        await self._store.erase_advocates(sorted(erased))
        await self._store.save_advocates({who: _member(change) for who, change in latest.items()})

    async def on_program_changed(self, program: ProgramChanged, event: Envelope) -> None:
        await self._store.save_program(
            program.tenant,
            PostingRules(
                policy_version=program.policy_version,
                disclosure=program.disclosure,
                auto_append=program.disclosure_auto_append,
                per_day=program.shares_per_day,
                per_week=program.shares_per_week,
                hard_limit=program.frequency_hard_limit,
            ),
        )


def _member(change: AdvocateLifecycle) -> Member:
    return Member(
        enrolled=change.change == AdvocateLifecycle.CHANGE_ENROLLED,
        policy_version=change.policy_version,
        auto_share=change.auto_share,
        groups=tuple(change.groups),
        department=change.department,
        location=change.location,
        languages=tuple(change.languages),
    )
