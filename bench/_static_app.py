"""The bare baseline: a FastAPI app answering one fixed response from memory.

python bench/_static_app.py PORT json FILE      GET /any -> 200 with FILE's JSON
python bench/_static_app.py PORT redirect URL   GET /any -> 302 to URL
"""

from __future__ import annotations

import json
import sys

import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse, RedirectResponse, Response


def make_app(kind: str, argument: str) -> FastAPI:
    app = FastAPI()
    if kind == "json":
        with open(argument) as handle:
            body = json.load(handle)

        @app.get("/{path:path}")
        async def static_json(path: str) -> Response:
            return JSONResponse(body)
    else:

        @app.get("/{path:path}")
        async def static_redirect(path: str) -> Response:
            return RedirectResponse(argument, status_code=302)

    return app


if __name__ == "__main__":
    port, kind, argument = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    uvicorn.run(
        make_app(kind, argument), host="127.0.0.1", port=port, log_level="warning", access_log=False
    )
