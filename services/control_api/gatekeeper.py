"""What is refused before anything reads a request's body: too big, or not authenticated.

FastAPI reads and parses a body before it runs a route's dependencies, so the bearer-token check
in deps.py comes after an unauthenticated client has made the process hold its whole body (a
300 MB POST took the API from 124 MB to 698 MB before its 422). This ASGI middleware runs first:

- a body larger than `max_body_bytes` (by its Content-Length, or counted as it streams in) is
  answered 413 with a message, and at most that many bytes are ever held;
- an `/api/v1` request without the bearer token is answered 401 before its body is read;
- a dashboard POST (`/ui/...`, other than the sign-in form) without a signed session cookie is
  answered 403 before its form is read.

The body, once within the limit, is handed to the app as it arrived.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_PREFIX = "/api/v1"
DASHBOARD_PREFIX = "/ui"
Answer = tuple[int, dict[str, str], dict[str, str]]
"""Status, JSON body, extra headers."""
OPEN_DASHBOARD_POSTS = frozenset({"/ui/login"})
"""The sign-in form has an anonymous session's CSRF token, checked by its route."""


def bearer_ok(authorization: str | None, expected: str) -> bool:
    """The bearer token, compared in constant time."""
    scheme, _, token = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.encode(), expected.encode())


class Gatekeeper:
    def __init__(
        self,
        app: ASGIApp,
        *,
        api_token: str,
        max_body_bytes: int,
        has_session: Callable[[Headers], bool],
    ) -> None:
        self._app = app
        self._token = api_token
        self._max = max_body_bytes
        self._has_session = has_session

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        path: str = scope["path"]
        refusal = self._refusal(scope["method"], path, headers)
        if refusal is not None:
            await _answer(send, *refusal)
            return
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self._max):
            await _answer(send, *self._too_large())
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            body += message.get("body", b"")
            if len(body) > self._max:
                await _answer(send, *self._too_large())
                return
            if not message.get("more_body", False):
                break
        await self._app(scope, _replay(bytes(body), receive), send)

    def _refusal(self, method: str, path: str, headers: Headers) -> Answer | None:
        if path.startswith(API_PREFIX) and not bearer_ok(headers.get("authorization"), self._token):
            return (
                401,
                {"error": "unauthorized", "message": "a valid bearer token is required"},
                {"WWW-Authenticate": "Bearer"},
            )
        dashboard_post = method == "POST" and path.startswith(DASHBOARD_PREFIX + "/")
        if dashboard_post and path not in OPEN_DASHBOARD_POSTS and not self._has_session(headers):
            return (
                403,
                {"error": "forbidden", "message": "sign in to the dashboard first"},
                {},
            )
        return None

    def _too_large(self) -> Answer:
        return (
            413,
            {
                "error": "payload_too_large",
                "message": f"the request body is over {self._max} bytes",
            },
            {"Connection": "close"},
        )


def _replay(body: bytes, then: Receive) -> Receive:
    """A receive that gives the app the whole body once, then listens to the client again (a
    streaming response waits on it for the disconnect)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await then()

    return receive


async def _answer(send: Send, status: int, body: dict[str, str], headers: dict[str, str]) -> None:
    payload = json.dumps(body).encode()
    raw = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        *((k.lower().encode(), v.encode()) for k, v in headers.items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})
