"""Rollups: what the unfiltered dashboard of a week, a month or a quarter reads
instead of the day buckets, so that a quarter of a big programme is a few
thousand small documents, not hundreds of thousands of buckets to group.

They live in one collection, `rollups`, keyed so that a period's documents
are one range of `_id` (no secondary index to maintain on the ingest path):

- `<tenant>|Q|<quarter>|a|<advocate>`: an advocate's quarter, the quarter's
  counters under `q`, each month's under `m.<month>`, and the shares per
  network under `on` (who shared where, for potential reach);
- `<tenant>|W|<week>|a|<advocate>`: an advocate's ISO week, under `w`, the
  same way. Weeks have documents of their own, not fields in the quarter's:
  thirteen more sets of counters in every quarter document made a quarter's
  read a fifth slower, and a week may span two quarters;
- `<tenant>|Q|<quarter>|c|<shard>|<item>` and `<tenant>|W|<week>|c|<shard>|<item>`:
  an item's quarter and week, the same way;
- `<tenant>|D|<day>|<shard>`: a day's counters per network under
  `n.<network>`, and the points awarded that day.

Who shared where in a week, month or quarter is also marked on the advocate's
own document (`shared.<week, month or quarter>.<network>`), beside their audiences, so
that potential reach is one pass over the tenant's advocates, with the
audiences as they are now (the same as the day buckets' path reads them).

Items and days are summed over every advocate, so two replicas would keep
colliding on them (a write conflict aborts a transaction). Each is split into
shards, the shard being the partition the advocate's events are keyed to: one
replica owns a partition, so one replica writes a shard. A report sums the
shards. The rollups are written in the ingest's count-once transaction, with
the day buckets; an erasure subtracts the advocate's buckets from the item and
day rollups and deletes their own (see InsightsStore.forget)."""

from __future__ import annotations

import collections
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from pymongo import UpdateOne

from chorus.insights.domain.activity import COUNTERS, Awarded, Counted
from chorus.insights.domain.figures import Engagement
from chorus.insights.domain.periods import Period, PeriodKind, month_name, quarter_name, week_name
from chorus.insights.domain.reach import AudienceSums
from chorus.kit.mongo import Document
from chorus.kit.networks import Network
from chorus.kit.producer import partition_of
from chorus.kit.topics import ADVOCATE_PARTITIONS, advocate_key

ROLLED_UP = (PeriodKind.WEEK, PeriodKind.MONTH, PeriodKind.QUARTER)
# The character after the separator "|": the end of a range of ids by prefix.
_PAST_SEPARATOR = chr(ord("|") + 1)


def shard_of(tenant: str, advocate: str) -> int:
    """The partition the advocate's activity is keyed to."""
    return partition_of(advocate_key(tenant, advocate), ADVOCATE_PARTITIONS)


def advocate_rollup_id(tenant: str, home: str, advocate: str) -> str:
    """`home`: the period the document holds, "Q|<quarter>" or "W|<week>"."""
    return f"{tenant}|{home}|a|{advocate}"


def _item_id(tenant: str, home: str, shard: int, content_id: str) -> str:
    return f"{tenant}|{home}|c|{shard}|{content_id}"


def _day_id(tenant: str, day: str, shard: int) -> str:
    return f"{tenant}|D|{day}|{shard:02d}"


def rollup_updates(counted: Iterable[Counted], *, per_advocate: bool = True) -> list[UpdateOne]:
    """What counted activity adds to the rollups (negated by an erasure, which
    deletes the advocate's own rollups instead: per_advocate=False)."""
    return _upserts(rollup_increments(counted, per_advocate=per_advocate))


def rolled_up_scopes(day: date) -> list[tuple[str, str]]:
    """Where a day's activity is counted: (the document's period, the field in
    it) for its quarter, its month and its ISO week."""
    quarter = f"Q|{quarter_name(day)}"
    return [(quarter, "q"), (quarter, f"m.{month_name(day)}"), (f"W|{week_name(day)}", "w")]


def rollup_homes(day: date) -> set[str]:
    """The periods whose advocate documents a day's activity is in."""
    return {home for home, _ in rolled_up_scopes(day)}


def rollup_increments(
    counted: Iterable[Counted], *, per_advocate: bool = True
) -> dict[str, collections.Counter[str]]:
    """The `$inc` of each rollup the activity touches, by `_id`."""
    increments: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for c in counted:
        counters = c.counters()
        shard = shard_of(c.tenant, c.advocate)
        for home, scope in rolled_up_scopes(c.day):
            item = increments[_item_id(c.tenant, home, shard, c.content_id)]
            advocate = increments[advocate_rollup_id(c.tenant, home, c.advocate)]
            for name, value in counters.items():
                item[f"{scope}.{name}"] += value
                if per_advocate:
                    advocate[f"{scope}.{name}"] += value
            if per_advocate and c.shares:
                advocate[f"{scope}.on.{c.network}"] += c.shares
        day = increments[_day_id(c.tenant, c.day.isoformat(), shard)]
        for name, value in counters.items():
            day[f"n.{c.network}.{name}"] += value
    return increments


def shared_marks(counted: Iterable[Counted]) -> list[UpdateOne]:
    """Marks, on each advocate's document, the networks they shared to in the
    share's week, month and quarter."""
    marks: dict[tuple[str, str], dict[str, bool]] = collections.defaultdict(dict)
    for c in counted:
        if c.shares > 0:
            for name in (quarter_name(c.day), month_name(c.day), week_name(c.day)):
                marks[c.tenant, c.advocate][f"shared.{name}.{c.network}"] = True
    return [
        UpdateOne(
            {"_id": advocate_key(tenant, advocate)},
            {"$set": flags, "$setOnInsert": {"tenant": tenant, "advocate": advocate}},
            upsert=True,
        )
        for (tenant, advocate), flags in marks.items()
    ]


def reach_by_source(tenant: str, period: Period) -> list[Document]:
    """The pipeline over the advocates' documents that sums, per network, the
    audiences of those who shared in the week, month or quarter by the source
    potential_reach would take (the platform's, else the declared), and counts
    those with neither."""
    name = period_name(period)
    sums: Document = {"_id": None}
    for network in Network:
        shared = {"$eq": [{"$type": f"$shared.{name}.{network}"}, "bool"]}
        platform, declared = f"$platform_audience.{network}", f"$declared_audience.{network}"
        has_platform = {"$ne": [{"$type": platform}, "missing"]}
        has_declared = {"$ne": [{"$type": declared}, "missing"]}
        sums[f"{network}|from_platform"] = _sum_if([shared, has_platform], platform)
        sums[f"{network}|declared"] = _sum_if(
            [shared, {"$not": [has_platform]}, has_declared], declared
        )
        sums[f"{network}|unknown"] = _sum_if(
            [shared, {"$not": [has_platform]}, {"$not": [has_declared]}], 1
        )
    return [
        {"$match": {"tenant": tenant, f"shared.{name}": {"$exists": True}}},
        {"$group": sums},
    ]


def period_name(period: Period) -> str:
    """A rolled-up period's name, e.g. "2026-W49", "2026-12", "2026-Q4"."""
    if period.kind is PeriodKind.QUARTER:
        return quarter_name(period.start)
    if period.kind is PeriodKind.WEEK:
        return week_name(period.start)
    return month_name(period.start)


def _sum_if(conditions: list[Document], value: Any) -> Document:
    return {"$sum": {"$cond": [{"$and": conditions}, value, 0]}}


def audience_sums(found: Document | None) -> dict[str, AudienceSums]:
    """reach_by_source's answer, by network."""
    sums: dict[str, AudienceSums] = {}
    for key, value in (found or {}).items():
        if key != "_id" and value:
            network, source = key.split("|")
            setattr(sums.setdefault(network, AudienceSums()), source, int(value))
    return sums


def points_rollup_updates(awarded: Iterable[Awarded]) -> list[UpdateOne]:
    increments: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for a in awarded:
        day = _day_id(a.tenant, a.day.isoformat(), shard_of(a.tenant, a.advocate))
        increments[day]["points"] += a.points
    return _upserts(increments)


def _upserts(increments: Mapping[str, collections.Counter[str]]) -> list[UpdateOne]:
    return [
        UpdateOne({"_id": key}, {"$inc": dict(counters)}, upsert=True)
        for key, counters in increments.items()
        if counters
    ]


def _prefixed(prefix: str) -> Document:
    """The ids that start with `prefix` (which ends with the separator)."""
    return {"$gte": prefix, "$lt": prefix[:-1] + _PAST_SEPARATOR}


@dataclass(frozen=True)
class RollupScope:
    """A week's, a month's or a quarter's rollups of advocates (kind "a") or
    items ("c"): one range of ids (a month's are its quarter's documents)."""

    tenant: str
    period: Period
    kind: str

    @property
    def home(self) -> str:
        if self.period.kind is PeriodKind.WEEK:
            return f"W|{week_name(self.period.start)}"
        return f"Q|{quarter_name(self.period.start)}"

    @property
    def _prefix(self) -> str:
        return f"{self.tenant}|{self.home}|{self.kind}|"

    @property
    def field(self) -> str:
        """Where their counters for the period are."""
        if self.period.kind is PeriodKind.MONTH:
            return f"m.{month_name(self.period.start)}"
        return "w" if self.period.kind is PeriodKind.WEEK else "q"

    @property
    def query(self) -> Document:
        query: Document = {"_id": _prefixed(self._prefix)}
        if self.field.startswith("m."):
            query[self.field] = {"$exists": True}
        return query

    def rollup_id(self, advocate: str) -> str:
        return advocate_rollup_id(self.tenant, self.home, advocate)

    def subject(self, rollup_id: str) -> str:
        """The advocate or the item a rollup is of."""
        rest = rollup_id.removeprefix(self._prefix)
        return rest.split("|", 1)[1] if self.kind == "c" else rest


def days_scope(tenant: str, period: Period) -> Document:
    """The filter of the day rollups of a period (days sort as ISO strings)."""
    return {
        "_id": {
            "$gte": f"{tenant}|D|{period.start.isoformat()}|",
            "$lt": f"{tenant}|D|{period.end.isoformat()}|",
        }
    }


def scoped(doc: Document, field: str) -> Any:
    for name in field.split("."):
        doc = doc.get(name, {})
    return doc


def sums(counters: Mapping[str, Any]) -> tuple[int, Engagement]:
    counted = {name: int(counters.get(name, 0)) for name in COUNTERS}
    return counted.pop("shares"), Engagement(**counted)


def anything(shares: int, engagement: Engagement) -> bool:
    """False for a rollup an erasure has taken back to nothing (the day
    buckets of such an item or network are gone: it is not shown either)."""
    return bool(shares) or engagement != Engagement()


@dataclass
class Totals:
    """Counters summed by key over a period's rollups."""

    rows: dict[str, tuple[int, Engagement]]

    @classmethod
    def of(cls, pairs: Iterable[tuple[str, Mapping[str, Any]]]) -> Totals:
        found: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
        for key, counters in pairs:
            found[key].update({k: v for k, v in counters.items() if k in COUNTERS})
        rows = {key: sums(counters) for key, counters in found.items()}
        return cls({key: row for key, row in rows.items() if anything(*row)})
