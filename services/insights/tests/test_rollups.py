"""The rollup writes: what a share and its engagement add, split by the
partition each advocate's events are keyed to, and what an erasure takes back."""

from __future__ import annotations

from datetime import date

from chorus.insights.adapters.rollups import rollup_homes, rollup_increments, shard_of
from chorus.insights.domain.activity import Counted
from chorus.insights.domain.figures import Engagement


def writes(counted: list[Counted], *, per_advocate: bool = True) -> dict[str, dict[str, int]]:
    found = rollup_increments(counted, per_advocate=per_advocate)
    return {key: dict(counters) for key, counters in found.items() if counters}


def test_a_share_and_its_clicks_add_to_the_advocate_the_item_and_the_day() -> None:
    day = date(2026, 11, 2)
    share = Counted("e1", "acme", "ann", day, "linkedin", "c1", shares=1)
    clicks = Counted("e2", "acme", "ann", day, "linkedin", "c1", engagement=Engagement(clicks=4))
    shard = shard_of("acme", "ann")
    found = writes([share, clicks])
    assert found["acme|Q|2026-Q4|a|ann"] == {
        "q.shares": 1,
        "m.2026-11.shares": 1,
        "q.on.linkedin": 1,
        "m.2026-11.on.linkedin": 1,
        "q.clicks": 4,
        "m.2026-11.clicks": 4,
    }
    assert found["acme|W|2026-W45|a|ann"] == {"w.shares": 1, "w.on.linkedin": 1, "w.clicks": 4}
    assert found[f"acme|W|2026-W45|c|{shard}|c1"] == {"w.shares": 1, "w.clicks": 4}
    assert found[f"acme|Q|2026-Q4|c|{shard}|c1"]["q.clicks"] == 4
    assert found[f"acme|D|2026-11-02|{shard:02d}"] == {
        "n.linkedin.shares": 1,
        "n.linkedin.clicks": 4,
    }


def test_a_week_that_spans_two_quarters_is_one_document() -> None:
    monday, thursday = date(2026, 9, 28), date(2026, 10, 1)  # 2026-W40: Q3 and Q4
    found = writes(
        [Counted(str(d), "acme", "ann", d, "x", "c1", shares=1) for d in (monday, thursday)]
    )
    assert found["acme|W|2026-W40|a|ann"]["w.shares"] == 2
    assert (
        found["acme|Q|2026-Q3|a|ann"]["q.shares"] == found["acme|Q|2026-Q4|a|ann"]["q.shares"] == 1
    )
    assert rollup_homes(thursday) == {"Q|2026-Q4", "W|2026-W40"}  # what an erasure deletes


def test_advocates_on_other_partitions_write_other_item_documents() -> None:
    day = date(2026, 11, 2)
    advocates = [f"a{n}" for n in range(40)]
    shards = {shard_of("acme", a) for a in advocates}
    assert len(shards) > 1
    found = writes([Counted(a, "acme", a, day, "x", "c1", shares=1) for a in advocates])
    items = [key for key in found if "|Q|" in key and "|c|" in key]
    assert sorted(items) == sorted(f"acme|Q|2026-Q4|c|{s}|c1" for s in shards)
    assert sum(found[key]["q.shares"] for key in items) == 40


def test_an_erasure_takes_back_from_items_and_days_but_writes_no_advocate_rollup() -> None:
    taken_back = Counted("", "acme", "ann", date(2026, 11, 2), "x", "c1", shares=-1)
    found = writes([taken_back], per_advocate=False)
    assert all("|a|" not in key for key in found)
    assert all(value == -1 for counters in found.values() for value in counters.values())
