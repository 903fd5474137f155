"""What every response carries and every form must prove.

- A Content-Security-Policy with no inline script or style: scripts and styles
  come only from /static (no CDN). Forms may lead only to the hub, the
  identity provider (sign-out is a form whose answer redirects there) and the
  platforms' consent pages (connecting an account).
- Cookies are HttpOnly and SameSite=Lax, and Secure outside development.
- Every state-changing request carries the session's CSRF token (a form field,
  or the X-CSRF-Token header htmx sends), and a foreign Origin is refused.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from urllib.parse import urlsplit

from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp

SESSION_COOKIE = "chorus_hub_session"
SIGN_IN_COOKIE = "chorus_hub_sign_in"


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(form_targets: Sequence[str]) -> str:
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "connect-src 'self'",
            f"form-action 'self' {' '.join(form_targets)}",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ]
    )


class SecurityHeaders(BaseHTTPMiddleware):
    def __init__(self, app: ASGIApp, form_targets: Sequence[str]) -> None:
        super().__init__(app)
        self._headers = {
            "Content-Security-Policy": content_security_policy(form_targets),
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "same-origin",
            "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
            "Cross-Origin-Opener-Policy": "same-origin-allow-popups",
        }

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        for name, value in self._headers.items():
            response.headers.setdefault(name, value)
        if "text/html" in response.headers.get("content-type", ""):
            # Pages show one person's data: never kept by a shared cache.
            response.headers.setdefault("Cache-Control", "no-store")
        return response


def csrf_ok(expected: str, sent: str | None, origin: str | None, own_origin: str) -> bool:
    """The token matches, and the request does not come from another site."""
    if origin and origin != "null" and origin != own_origin:
        return False
    return bool(sent) and secrets.compare_digest(expected, sent or "")
