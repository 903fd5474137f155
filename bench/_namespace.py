"""A topic namespace per benchmark run (CHORUS_TOPIC_PREFIX): every topic is
created under a fresh prefix and deleted at the end, so a benchmark leaves no
backlog for `make run`'s consumer groups."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator

from chorus.kit.admin import delete_namespace, ensure_topics, topic_specs


@contextlib.asynccontextmanager
async def topic_namespace(bootstrap: str, benchmark: str) -> AsyncIterator[str]:
    """Yields the prefix; the services of the run get it as CHORUS_TOPIC_PREFIX."""
    prefix = f"bench-{benchmark}-{uuid.uuid4().hex[:6]}."
    await ensure_topics(bootstrap, topic_specs(prefix))
    try:
        yield prefix
    finally:
        await delete_namespace(bootstrap, prefix)
