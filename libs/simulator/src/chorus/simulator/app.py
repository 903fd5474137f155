"""The simulator's HTTP API: the LinkedIn and X endpoints Chorus calls, as the
platforms answer them, plus /_sim/* endpoints that tests use to set it up,
inject faults and count what it received.

LinkedIn: POST /rest/posts, DELETE /rest/posts/{urn}, GET /rest/socialActions/{urn},
          GET /v2/userinfo, GET /v2/connections/{urn} (connections size),
          POST /oauth/v2/accessToken, GET /oauth/v2/authorization (consent page)
X:        POST /2/tweets, DELETE /2/tweets/{id}, GET /2/tweets/{id},
          GET /2/users/me (user.fields=public_metrics), POST /2/oauth2/token,
          GET /i/oauth2/authorize (consent page)
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlencode

import uvicorn
from fastapi import FastAPI, Form, Header, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from chorus.simulator.state import Fault, Post, SimulatorState, Token

LINKEDIN_VERSION_FORMAT = "YYYYMM"


def _error(
    status: int, message: str, network: str, headers: dict[str, str] | None = None
) -> Response:
    if network == "x":
        body: dict[str, Any] = {"title": message, "detail": message, "status": status}
    else:
        body = {"status": status, "message": message, "serviceErrorCode": status}
    return JSONResponse(body, status_code=status, headers=headers)


def _consent_page(network: str, request: Request) -> Response:
    """A platform's consent page, reduced to what a test or a demo needs: the
    member signs in by typing their id and allows the app (or cancels)."""
    query = request.query_params
    if query.get("response_type") != "code" or not query.get("redirect_uri"):
        return HTMLResponse("<p>response_type=code and redirect_uri are required</p>", 400)
    name = {"linkedin": "LinkedIn", "x": "X"}[network]
    hidden = "".join(
        f'<input type="hidden" name="{field}" value="{escape(query.get(field, ""))}">'
        for field in ("redirect_uri", "state", "scope")
    )
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{name} (simulated): allow access</title></head><body><main>
<h1>{name} (simulated)</h1>
<p>An app asks to post on your behalf ({escape(query.get("scope", ""))}).</p>
<form method="post" action="/_sim/consent">
<input type="hidden" name="network" value="{network}">{hidden}
<label for="member">Your member id</label>
<input id="member" name="member" required value="{network}-member-{secrets.token_hex(3)}">
<button name="decision" value="allow">Allow</button>
<button name="decision" value="cancel" formnovalidate>Cancel</button>
</form></main></body></html>"""
    return HTMLResponse(page)


def create_app(state: SimulatorState | None = None, state_file: Path | None = None) -> FastAPI:
    sim = state or (SimulatorState.load(state_file) if state_file else SimulatorState())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if state_file is not None:
            sim.save(state_file)

    app = FastAPI(title="Chorus platform simulator", description=__doc__, lifespan=lifespan)
    app.state.sim = sim

    def authorize(network: str, authorization: str | None, scope: str) -> Token | Response:
        token_value = (authorization or "").removeprefix("Bearer ").strip()
        token = sim.tokens.get(token_value)
        if token is None or token.network != network or token.revoked:
            return _error(401, "Invalid access token", network)
        if token.expires_at <= time.time():
            return _error(401, "The token used in the request has expired", network)
        if scope not in token.scopes:
            return _error(403, f"Not enough permissions: needs {scope}", network)
        return token

    async def faults(network: str) -> Response | None:
        fault = sim.take_fault(network, ("429", "500", "slow"))
        if fault is None:
            return None
        if fault.kind == "429":
            reset = int(time.time() + fault.seconds)
            return _error(
                429,
                "Too Many Requests",
                network,
                {
                    "retry-after": str(int(fault.seconds)),
                    "x-rate-limit-reset": str(reset),
                    "x-rate-limit-remaining": "0",
                },
            )
        if fault.kind == "500":
            return _error(503, "Service Unavailable", network)
        await asyncio.sleep(fault.seconds)
        return None

    def rate_limited(network: str, token: Token) -> tuple[Response | None, dict[str, str]]:
        allowed, limit, remaining, reset_at = sim.check_rate(network, token.user_id, time.time())
        headers = {
            "x-rate-limit-limit": str(limit),
            "x-rate-limit-remaining": str(remaining),
            "x-rate-limit-reset": str(int(reset_at) + 1),
        }
        if not allowed:
            headers["retry-after"] = str(max(1, int(reset_at - time.time()) + 1))
            return _error(429, "Too Many Requests", network, headers), headers
        return None, headers

    async def accept(post: Post) -> None:
        """Record the post; maybe drop the answer after accepting it (an ambiguous outcome)."""
        sim.posts[post.post_id] = post
        sim.posts_received += 1
        fault = sim.take_fault(post.network, ("drop_after_accept",))
        if fault is not None:
            await asyncio.sleep(fault.seconds)

    # LinkedIn ------------------------------------------------------------------
    @app.post("/rest/posts", status_code=201)
    async def linkedin_post(
        request: Request,
        authorization: str | None = Header(None),
        linkedin_version: str | None = Header(None),
        x_restli_protocol_version: str | None = Header(None),
    ) -> Response:
        token = authorize("linkedin", authorization, "w_member_social")
        if isinstance(token, Response):
            return token
        if not linkedin_version or len(linkedin_version) != 6 or not linkedin_version.isdigit():
            return _error(
                400, f"LinkedIn-Version header must be {LINKEDIN_VERSION_FORMAT}", "linkedin"
            )
        if x_restli_protocol_version != "2.0.0":
            return _error(400, "X-Restli-Protocol-Version must be 2.0.0", "linkedin")
        if fault := await faults("linkedin"):
            return fault
        limited, headers = rate_limited("linkedin", token)
        if limited:
            return limited
        body = await request.json()
        if body.get("author") != f"urn:li:person:{token.user_id}":
            return _error(403, "author does not match the token's member", "linkedin")
        article = body.get("content", {}).get("article", {})
        problems = [
            name for name in ("commentary", "visibility", "lifecycleState") if not body.get(name)
        ]
        if not article.get("source"):
            problems.append("content.article.source")
        if problems:
            return _error(422, f"missing fields: {', '.join(problems)}", "linkedin")
        post = Post(
            "linkedin",
            f"urn:li:share:{sim.next_id()}",
            token.user_id,
            body["commentary"],
            article["source"],
            body,
            time.time(),
        )
        await accept(post)
        return Response(status_code=201, headers={**headers, "x-restli-id": post.post_id})

    @app.delete("/rest/posts/{urn:path}", status_code=204)
    async def linkedin_delete(urn: str, authorization: str | None = Header(None)) -> Response:
        token = authorize("linkedin", authorization, "w_member_social")
        if isinstance(token, Response):
            return token
        post = sim.posts.get(unquote(urn))
        if post is None or post.network != "linkedin":
            return _error(404, "Not found", "linkedin")
        if post.user_id != token.user_id:
            return _error(403, "Not the author", "linkedin")
        post.deleted = True
        return Response(status_code=204)

    @app.get("/rest/socialActions/{urn:path}")
    async def linkedin_social_actions(
        urn: str, authorization: str | None = Header(None)
    ) -> Response:
        token = authorize("linkedin", authorization, "w_member_social")
        if isinstance(token, Response):
            return token
        if fault := await faults("linkedin"):
            return fault
        post = sim.posts.get(unquote(urn))
        if post is None or post.deleted:
            return _error(404, "Not found", "linkedin")
        m = post.metrics
        return JSONResponse(
            {
                "likesSummary": {"totalLikes": m.get("reaction", 0)},
                "commentsSummary": {"aggregatedTotalComments": m.get("comment", 0)},
            }
        )

    # X -------------------------------------------------------------------------
    @app.post("/2/tweets", status_code=201)
    async def x_post(request: Request, authorization: str | None = Header(None)) -> Response:
        token = authorize("x", authorization, "tweet.write")
        if isinstance(token, Response):
            return token
        if fault := await faults("x"):
            return fault
        limited, headers = rate_limited("x", token)
        if limited:
            return limited
        body = await request.json()
        text = body.get("text")
        if not isinstance(text, str) or not text:
            return _error(400, "text is required", "x")
        if len(text) > 280 + 200:  # links are counted as 23; real texts stay near 280
            return _error(403, "text is too long", "x")
        link = next((word for word in text.split() if word.startswith("http")), "")
        post = Post("x", sim.next_id(), token.user_id, text, link, body, time.time())
        await accept(post)
        return JSONResponse(
            {"data": {"id": post.post_id, "text": text}}, status_code=201, headers=headers
        )

    @app.delete("/2/tweets/{tweet_id}")
    async def x_delete(tweet_id: str, authorization: str | None = Header(None)) -> Response:
        token = authorize("x", authorization, "tweet.write")
        if isinstance(token, Response):
            return token
        post = sim.posts.get(tweet_id)
        if post is None or post.network != "x" or post.user_id != token.user_id:
            return _error(404, "Not found", "x")
        post.deleted = True
        return JSONResponse({"data": {"deleted": True}})

    @app.get("/2/tweets/{tweet_id}")
    async def x_get(tweet_id: str, authorization: str | None = Header(None)) -> Response:
        token = authorize("x", authorization, "tweet.read")
        if isinstance(token, Response):
            return token
        if fault := await faults("x"):
            return fault
        post = sim.posts.get(tweet_id)
        if post is None or post.deleted:
            return _error(404, "Not found", "x")
        m = post.metrics
        return JSONResponse(
            {
                "data": {
                    "id": post.post_id,
                    "text": post.text,
                    "public_metrics": {
                        "like_count": m.get("reaction", 0),
                        "reply_count": m.get("comment", 0),
                        "retweet_count": m.get("reshare", 0),
                        "quote_count": 0,
                        "impression_count": m.get("impression", 0),
                    },
                }
            }
        )

    # Who the token belongs to, and a member's recent posts (for reconciling) -------
    @app.get("/v2/userinfo")
    async def linkedin_userinfo(authorization: str | None = Header(None)) -> Response:
        token = authorize("linkedin", authorization, "w_member_social")
        if isinstance(token, Response):
            return token
        return JSONResponse({"sub": token.user_id})

    @app.get("/rest/posts")
    async def linkedin_posts_by_author(
        author: str, authorization: str | None = Header(None)
    ) -> Response:
        token = authorize("linkedin", authorization, "w_member_social")
        if isinstance(token, Response):
            return token
        mine = [p for p in sim.live_posts("linkedin") if f"urn:li:person:{p.user_id}" == author]
        return JSONResponse({"elements": [{**p.body, "id": p.post_id} for p in mine[-50:]]})

    @app.get("/v2/connections/{urn:path}")
    async def linkedin_connections_size(
        urn: str, authorization: str | None = Header(None)
    ) -> Response:
        token = authorize("linkedin", authorization, "r_1st_connections_size")
        if isinstance(token, Response):
            return token
        if urn != f"urn:li:person:{token.user_id}":
            return _error(403, "Only the authenticated member's connections size", "linkedin")
        return JSONResponse({"firstDegreeSize": sim.audience("linkedin", token.user_id)})

    @app.get("/2/users/me")
    async def x_me(
        authorization: str | None = Header(None), user_fields: str = Query("", alias="user.fields")
    ) -> Response:
        token = authorize("x", authorization, "users.read")
        if isinstance(token, Response):
            return token
        user: dict[str, Any] = {"id": token.user_id, "username": token.user_id}
        if "public_metrics" in user_fields.split(","):
            user["public_metrics"] = {
                "followers_count": sim.audience("x", token.user_id),
                "following_count": 0,
                "tweet_count": sum(1 for p in sim.live_posts("x") if p.user_id == token.user_id),
                "listed_count": 0,
            }
        return JSONResponse({"data": user})

    @app.get("/2/users/{user_id}/tweets")
    async def x_user_tweets(user_id: str, authorization: str | None = Header(None)) -> Response:
        token = authorize("x", authorization, "tweet.read")
        if isinstance(token, Response):
            return token
        mine = [p for p in sim.live_posts("x") if p.user_id == user_id]
        return JSONResponse({"data": [{"id": p.post_id, "text": p.text} for p in mine[-100:]]})

    # OAuth consent pages: where an advocate connecting an account is sent -------
    @app.get("/oauth/v2/authorization", response_class=HTMLResponse)
    async def linkedin_consent(request: Request) -> Response:
        return _consent_page("linkedin", request)

    @app.get("/i/oauth2/authorize", response_class=HTMLResponse)
    async def x_consent(request: Request) -> Response:
        return _consent_page("x", request)

    @app.post("/_sim/consent")
    async def consent(
        network: str = Form(...),
        redirect_uri: str = Form(...),
        state: str = Form(""),
        scope: str = Form(""),
        member: str = Form(""),
        decision: str = Form("allow"),
    ) -> Response:
        """The member's answer: a code for them, or a refusal, sent back to the app."""
        if decision != "allow" or not member.strip():
            answer = {"error": "user_cancelled_authorize", "state": state}
        else:
            code = secrets.token_urlsafe(18)
            sim.codes[code] = (network, member.strip(), frozenset(scope.split()))
            answer = {"code": code, "state": state}
        separator = "&" if "?" in redirect_uri else "?"
        return RedirectResponse(redirect_uri + separator + urlencode(answer), status_code=303)

    # OAuth token endpoints (authorization-code exchange and refresh) ------------
    def issue(network: str, user_id: str, scopes: frozenset[str], seconds: int) -> dict[str, Any]:
        access = secrets.token_urlsafe(24)
        sim.tokens[access] = Token(network, user_id, scopes, time.time() + seconds)
        refresh = secrets.token_urlsafe(24)
        sim.refresh_tokens[refresh] = (network, user_id, scopes)
        return {
            "access_token": access,
            "expires_in": seconds,
            "refresh_token": refresh,
            "scope": " ".join(sorted(scopes)),
            "token_type": "bearer",
        }

    @app.post("/oauth/v2/accessToken")
    async def linkedin_token(
        grant_type: str = Form(...), code: str = Form(""), refresh_token: str = Form("")
    ) -> Response:
        return exchange("linkedin", grant_type, code, refresh_token, 60 * 24 * 3600)

    @app.post("/2/oauth2/token")
    async def x_token(
        grant_type: str = Form(...), code: str = Form(""), refresh_token: str = Form("")
    ) -> Response:
        return exchange("x", grant_type, code, refresh_token, 2 * 3600)

    def exchange(network: str, grant: str, code: str, refresh: str, seconds: int) -> Response:
        if grant == "authorization_code" and code in sim.codes:
            code_network, user_id, scopes = sim.codes.pop(code)
            if code_network == network:
                return JSONResponse(issue(network, user_id, scopes, seconds))
        if grant == "refresh_token" and refresh in sim.refresh_tokens:
            ref_network, user_id, scopes = sim.refresh_tokens.pop(refresh)
            if ref_network == network:
                return JSONResponse(issue(network, user_id, scopes, seconds))
        return JSONResponse({"error": "invalid_grant"}, status_code=400)

    # Test control ----------------------------------------------------------------
    @app.post("/_sim/tokens", status_code=201)
    async def add_token(body: dict[str, Any]) -> dict[str, Any]:
        """Register an access token (or an authorization code) for a member."""
        scopes = frozenset(
            body.get("scopes")
            or (
                ["w_member_social"]
                if body["network"] == "linkedin"
                else ["tweet.read", "tweet.write", "users.read", "offline.access"]
            )
        )
        if body.get("code"):
            sim.codes[body["code"]] = (body["network"], body["user_id"], scopes)
            return {"code": body["code"]}
        token = body.get("token") or secrets.token_urlsafe(24)
        sim.tokens[token] = Token(
            body["network"],
            body["user_id"],
            scopes,
            time.time() + float(body.get("expires_in", 3600)),
        )
        return {"token": token}

    @app.post("/_sim/audiences", status_code=201)
    async def set_audience(body: dict[str, Any]) -> dict[str, Any]:
        """Set a member's followers (X) or connections (LinkedIn)."""
        sim.audiences[f"{body['network']}:{body['user_id']}"] = int(body["size"])
        return body

    @app.post("/_sim/tokens/bulk", status_code=201)
    async def add_tokens(body: list[dict[str, Any]]) -> dict[str, int]:
        for entry in body:
            await add_token(entry)
        return {"added": len(body)}

    @app.get("/_sim/stats")
    async def stats() -> dict[str, Any]:
        """Posts received and how many distinct members they came from, per network,
        with the first and last acceptance times (for throughput)."""
        result: dict[str, Any] = {}
        for network in ("linkedin", "x"):
            posts = [p for p in sim.posts.values() if p.network == network]
            result[network] = {
                "posts": len(posts),
                "members": len({p.user_id for p in posts}),
                "first_at": min((p.created_at for p in posts), default=None),
                "last_at": max((p.created_at for p in posts), default=None),
            }
        return result

    @app.post("/_sim/tokens/{token}/revoke")
    async def revoke(token: str) -> dict[str, bool]:
        found = sim.tokens.get(token)
        if found:
            found.revoked = True
        return {"revoked": found is not None}

    @app.post("/_sim/members/{user_id}/revoke")
    async def revoke_member(user_id: str) -> dict[str, int]:
        """The member withdrew the app's access: every token of theirs stops working."""
        mine = [t for t in sim.tokens.values() if t.user_id == user_id]
        for token in mine:
            token.revoked = True
        sim.refresh_tokens = {k: v for k, v in sim.refresh_tokens.items() if v[1] != user_id}
        return {"revoked": len(mine)}

    @app.post("/_sim/faults", status_code=201)
    async def add_fault(body: dict[str, Any]) -> dict[str, int]:
        sim.faults.append(
            Fault(
                body["network"],
                str(body["kind"]),
                int(body.get("count", 1)),
                float(body.get("ratio", 0.0)),
                float(body.get("seconds", 30.0)),
            )
        )
        return {"faults": len(sim.faults)}

    @app.post("/_sim/reset-faults")
    async def reset_faults() -> dict[str, str]:
        sim.faults.clear()
        return {"status": "no faults"}

    @app.post("/_sim/limits")
    async def set_limit(body: dict[str, Any]) -> dict[str, str]:
        sim.limits[(body["network"], body["scope"])] = (int(body["limit"]), float(body["seconds"]))
        return {"status": "ok"}

    @app.post("/_sim/posts/{post_id:path}/metrics")
    async def set_metrics(post_id: str, body: dict[str, int]) -> dict[str, Any]:
        post = sim.posts.get(unquote(post_id))
        if post is None:
            return {"found": False}
        post.metrics.update(body)
        return {"found": True, "metrics": post.metrics}

    @app.get("/_sim/posts")
    async def list_posts(network: str | None = None) -> dict[str, Any]:
        posts = [p for p in sim.posts.values() if network in (None, p.network)]
        return {
            "received": sim.posts_received,
            "posts": [
                {
                    "network": p.network,
                    "id": p.post_id,
                    "user_id": p.user_id,
                    "text": p.text,
                    "link": p.link,
                    "deleted": p.deleted,
                }
                for p in posts
            ],
        }

    @app.post("/_sim/reset")
    async def reset() -> dict[str, str]:
        fresh = SimulatorState()
        for name in vars(fresh):
            setattr(sim, name, getattr(fresh, name))
        return {"status": "reset"}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument(
        "--state-file", type=Path, help="keep tokens and posts here across restarts (JSON)"
    )
    args = parser.parse_args()
    uvicorn.run(
        create_app(state_file=args.state_file),
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
