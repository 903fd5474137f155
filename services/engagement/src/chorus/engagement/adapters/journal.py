"""The click journal: an append-only local file, fsync'd before a redirect is
answered (group commit: concurrent clicks share one fsync), read back by the
relay that publishes it to Kafka.

Why a journal and not a database write per click: the redirect must answer
fast and never wait on Kafka, yet never lose an answered click. An fsync'd
append costs about a millisecond and is shared by every click that arrives
meanwhile; a database insert adds a network hop and a dependency to every
redirect (a MongoDB outage would then stop the links answering).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class JournalRecord:
    offset: int  # byte offset of the line after this record
    data: dict[str, Any]


class ClickJournal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._pending: list[tuple[bytes, asyncio.Future[None]]] = []
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._fd: int | None = None
        self.appended = asyncio.Event()  # set after each flush, for the relay

    async def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            # One process per journal: two would relay the same clicks under
            # one transactional id and fence each other off.
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RuntimeError(
                f"the click journal {self.path} is in use by another process: "
                "give each replica its own CHORUS_INSTANCE_ID (or journal volume)"
            ) from None
        self._fd = fd
        self._writer = asyncio.create_task(self._write_loop(), name="click-journal")

    async def stop(self) -> None:
        if self._writer:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
        self._flush_pending()  # nothing answered is left unwritten
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    async def append(self, record: dict[str, Any]) -> None:
        """Return once the record is on disk."""
        line = json.dumps(record, separators=(",", ":")).encode() + b"\n"
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((line, done))
        self._wake.set()
        await done

    async def _write_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._pending = self._pending, []
            if not batch:
                continue
            try:
                await loop.run_in_executor(None, self._write, b"".join(line for line, _ in batch))
            except Exception as exc:
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                continue
            for _, done in batch:
                if not done.done():
                    done.set_result(None)
            self.appended.set()

    def _write(self, data: bytes) -> None:
        assert self._fd is not None
        os.write(self._fd, data)
        os.fsync(self._fd)

    def _flush_pending(self) -> None:
        if self._pending and self._fd is not None:
            self._write(b"".join(line for line, _ in self._pending))
            for _, done in self._pending:
                if not done.done():
                    done.set_result(None)
            self._pending = []

    def read_from(self, offset: int, max_records: int = 500) -> list[JournalRecord]:
        """Complete records after byte `offset` (a torn last line is left for later)."""
        if not self.path.exists():
            return []
        records: list[JournalRecord] = []
        with self.path.open("rb") as handle:
            handle.seek(offset)
            position = offset
            for line in handle:
                if not line.endswith(b"\n"):
                    break
                position += len(line)
                with contextlib.suppress(json.JSONDecodeError):
                    records.append(JournalRecord(position, json.loads(line)))
                if len(records) >= max_records:
                    break
        return records
