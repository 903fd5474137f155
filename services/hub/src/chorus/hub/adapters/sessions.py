"""Server-side sessions in MongoDB. The browser holds only a random session id
in an HttpOnly cookie; the provider's tokens stay here, encrypted (AES-GCM,
bound to their session's document, so a ciphertext copied into another
session does not open). Documents are keyed by the id's SHA-256, so a copy of
the database opens no session, and expire by a TTL index (idle and absolute
limits, checked on every read as well, since the TTL monitor runs only once a
minute).

A sign-in in progress (state, nonce, PKCE verifier) is kept the same way for
ten minutes, bound to a cookie of its own so that a callback from another
browser is refused.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from chorus.hub.adapters.oidc import Identity, Tokens
from chorus.kit.crypto import TokenCipher
from chorus.kit.mongo import Document

SIGN_IN_SECONDS = 600


def _key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


@dataclass(frozen=True)
class PendingSignIn:
    state: str
    nonce: str
    code_verifier: str
    return_to: str


@dataclass(frozen=True)
class Session:
    identity: Identity
    tokens: Tokens
    csrf: str
    locale: str
    created_at: float
    expires_at: float
    flash: list[dict[str, str]] = field(default_factory=list)


class SessionStore:
    def __init__(
        self,
        db: AsyncDatabase[Document],
        cipher: TokenCipher,
        idle_seconds: float,
        max_seconds: float,
    ):
        self._sessions = db["sessions"]
        self._cipher = cipher
        self._sign_ins = db["sign_ins"]
        self._idle = idle_seconds
        self._max = max_seconds

    async def ensure_indexes(self) -> None:
        for collection in (self._sessions, self._sign_ins):
            await collection.create_index([("expires", ASCENDING)], expireAfterSeconds=0)

    # Sign-ins in progress ---------------------------------------------------------
    async def begin_sign_in(self, pending: PendingSignIn) -> str:
        """Keeps `pending`; returns the secret for the browser's sign-in cookie."""
        secret = secrets.token_urlsafe(32)
        await self._sign_ins.insert_one(
            {
                "_id": _key(secret),
                **asdict(pending),
                "expires": _at(time.time() + SIGN_IN_SECONDS),
            }
        )
        return secret

    async def take_sign_in(self, secret: str) -> PendingSignIn | None:
        """The sign-in this browser began, once (a replayed callback finds nothing)."""
        found = await self._sign_ins.find_one_and_delete({"_id": _key(secret)})
        if found is None or found["expires"].replace(tzinfo=UTC) < datetime.now(UTC):
            return None
        return PendingSignIn(
            found["state"], found["nonce"], found["code_verifier"], found["return_to"]
        )

    # Sessions ---------------------------------------------------------------------
    async def create(self, identity: Identity, tokens: Tokens, locale: str) -> tuple[str, Session]:
        secret = secrets.token_urlsafe(32)
        now = time.time()
        session = Session(
            identity=identity,
            tokens=tokens,
            csrf=secrets.token_urlsafe(32),
            locale=locale,
            created_at=now,
            expires_at=now + self._idle,
        )
        key = _key(secret)
        await self._sessions.insert_one({"_id": key, **self._fields(key, session)})
        return secret, session

    async def find(self, secret: str) -> Session | None:
        """The live session of this id, its idle deadline moved on."""
        now = time.time()
        found = await self._sessions.find_one({"_id": _key(secret)})
        if found is None:
            return None
        session = self._session(found)
        if session is None or session.expires_at <= now or session.created_at + self._max <= now:
            await self.delete(secret)
            return None
        session = replace(session, expires_at=min(now + self._idle, session.created_at + self._max))
        await self._sessions.update_one(
            {"_id": _key(secret)},
            {"$set": {"expires_at": session.expires_at, "expires": _at(session.expires_at)}},
        )
        return session

    async def save(self, secret: str, session: Session) -> None:
        key = _key(secret)
        await self._sessions.update_one({"_id": key}, {"$set": self._fields(key, session)})

    async def delete(self, secret: str) -> None:
        await self._sessions.delete_one({"_id": _key(secret)})

    async def delete_for(self, tenant: str, subject: str) -> int:
        """Every session of one person (after an erasure)."""
        result = await self._sessions.delete_many(
            {"identity.tenant": tenant, "identity.subject": subject}
        )
        return result.deleted_count

    def _fields(self, key: str, session: Session) -> dict[str, Any]:
        fields = asdict(session)
        tokens = json.dumps(fields.pop("tokens"))
        fields["sealed_tokens"] = self._cipher.encrypt(tokens, context=key)
        fields["expires"] = _at(session.expires_at)
        return fields

    def _session(self, document: Document) -> Session | None:
        """The session a document holds; None for one whose tokens cannot be
        opened (written before they were sealed, or under a key since retired):
        its person signs in again."""
        try:
            sealed = document["sealed_tokens"]
            tokens = Tokens(**json.loads(self._cipher.decrypt(sealed, context=document["_id"])))
        except (KeyError, ValueError):  # TokenUnreadable is a ValueError
            return None
        identity = dict(document["identity"])
        identity["roles"] = tuple(identity["roles"])
        identity["groups"] = tuple(identity["groups"])
        return Session(
            identity=Identity(**identity),
            tokens=tokens,
            csrf=document["csrf"],
            locale=document["locale"],
            created_at=document["created_at"],
            expires_at=document["expires_at"],
            flash=list(document.get("flash", [])),
        )
