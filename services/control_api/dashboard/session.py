"""The dashboard's session: who signed in and their CSRF token, in one signed cookie.

The cookie holds the operator's name, a random CSRF token, when it was issued and, once signed
in, the id of the session the server keeps (shared/service_layer/operator_sessions.py), which
sign-out ends for every copy of the cookie. It is signed with HMAC-SHA256 under a key derived
from the API token (so rotating the token signs everyone out). It is HttpOnly and
SameSite=Strict; every POST must also carry the CSRF token in its form, compared in constant
time. Before sign-in the session is anonymous but already has a
CSRF token, so the sign-in form is protected too. Flash messages travel the same way, signed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import Headers
from starlette.requests import Request, cookie_parser
from starlette.responses import Response

COOKIE = "dripr_session"
FLASH_COOKIE = "dripr_flash"
PATH = "/ui"
MAX_AGE = 12 * 3600
"""A signed-in session lasts a working day; then the operator signs in again."""


@dataclass(frozen=True)
class Session:
    csrf: str
    operator: str | None = None
    issued: float = 0.0
    sid: str | None = None
    """The server-side session's id; None before sign-in."""

    @property
    def signed_in(self) -> bool:
        return self.operator is not None


@dataclass(frozen=True)
class Flash:
    kind: str  # "ok" or "error"
    text: str


class Signer:
    """Signs and checks small JSON values; a value that fails the check is simply absent."""

    def __init__(self, api_token: str) -> None:
        self._key = hmac.new(api_token.encode(), b"dripr dashboard cookies", "sha256").digest()

    def _mac(self, purpose: str, body: str) -> str:
        digest = hmac.new(self._key, f"{purpose}:{body}".encode(), hashlib.sha256).digest()
        return _b64(digest)

    def dumps(self, purpose: str, value: dict[str, Any]) -> str:
        body = _b64(json.dumps(value, separators=(",", ":")).encode())
        return f"{body}.{self._mac(purpose, body)}"

    def loads(self, purpose: str, signed: str | None) -> dict[str, Any] | None:
        body, _, mac = (signed or "").partition(".")
        if not body or not hmac.compare_digest(mac.encode(), self._mac(purpose, body).encode()):
            return None
        try:
            value = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except ValueError:
            return None
        return value if isinstance(value, dict) else None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def new_session(operator: str | None = None, sid: str | None = None) -> Session:
    return Session(csrf=secrets.token_urlsafe(32), operator=operator, issued=time.time(), sid=sid)


def read(signer: Signer, request: Request) -> Session | None:
    value = signer.loads(COOKIE, request.cookies.get(COOKIE))
    if value is None or not isinstance(value.get("csrf"), str):
        return None
    issued = float(value.get("iat", 0))
    if time.time() - issued > MAX_AGE:
        return None
    operator, sid = value.get("op"), value.get("sid")
    if not isinstance(operator, str) or not isinstance(sid, str):
        operator = sid = None  # signed in only with a server-side session
    return Session(value["csrf"], operator, issued, sid)


def signed_in(signer: Signer, headers: Headers) -> bool:
    """Whether a request's cookies hold a signed, unexpired, signed-in session: asked before its
    body is read (services/control_api/gatekeeper.py)."""
    value = signer.loads(COOKIE, cookie_parser(headers.get("cookie", "")).get(COOKIE))
    if value is None or not isinstance(value.get("op"), str) or not value.get("sid"):
        return False
    return time.time() - float(value.get("iat", 0)) <= MAX_AGE


def write(signer: Signer, request: Request, response: Response, session: Session) -> None:
    value = {
        "csrf": session.csrf,
        "op": session.operator,
        "iat": session.issued,
        "sid": session.sid,
    }
    _set(request, response, COOKIE, signer.dumps(COOKIE, value), MAX_AGE)


def clear(response: Response) -> None:
    response.delete_cookie(COOKIE, path=PATH, httponly=True, samesite="strict")


def csrf_ok(session: Session | None, submitted: object) -> bool:
    """The form's token is the session's own; compared in constant time."""
    if session is None or not isinstance(submitted, str) or not submitted:
        return False
    return hmac.compare_digest(submitted.encode(), session.csrf.encode())


def flash(signer: Signer, request: Request, response: Response, kind: str, text: str) -> None:
    """A message for the next page shown: the outcome of an action, or the API's refusal."""
    value = {"kind": kind, "text": text[:1500]}
    _set(request, response, FLASH_COOKIE, signer.dumps(FLASH_COOKIE, value), 60)


def read_flash(signer: Signer, request: Request) -> Flash | None:
    value = signer.loads(FLASH_COOKIE, request.cookies.get(FLASH_COOKIE))
    if value is None:
        return None
    return Flash(str(value.get("kind", "ok")), str(value.get("text", "")))


def clear_flash(response: Response) -> None:
    response.delete_cookie(FLASH_COOKIE, path=PATH, httponly=True, samesite="strict")


def _set(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
