"""The dashboard's signed cookie and CSRF check, without a server."""

from __future__ import annotations

import time

from starlette.requests import Request

from services.control_api.dashboard.session import (
    COOKIE,
    FLASH_COOKIE,
    MAX_AGE,
    Session,
    Signer,
    csrf_ok,
    new_session,
    read,
)

SIGNER = Signer("an-operator-token-of-some-length")


def test_a_signed_value_reads_back_and_a_tampered_one_does_not() -> None:
    signed = SIGNER.dumps(COOKIE, {"op": "olivia", "csrf": "abc"})
    body, mac = signed.split(".")
    forged = SIGNER.dumps(COOKIE, {"op": "mallory", "csrf": "abc"}).split(".")[0] + "." + mac

    assert SIGNER.loads(COOKIE, signed) == {"op": "olivia", "csrf": "abc"}
    assert SIGNER.loads(COOKIE, forged) is None
    assert SIGNER.loads(COOKIE, body) is None
    assert SIGNER.loads(COOKIE, "") is None
    assert SIGNER.loads(COOKIE, None) is None
    assert SIGNER.loads(FLASH_COOKIE, signed) is None  # a flash cannot pass for a session
    assert Signer("another-operator-token-entirely").loads(COOKIE, signed) is None


def test_csrf_token_must_be_the_sessions_own() -> None:
    session = new_session("olivia")

    assert csrf_ok(session, session.csrf)
    assert not csrf_ok(session, session.csrf[:-1])
    assert not csrf_ok(session, "")
    assert not csrf_ok(session, None)
    assert not csrf_ok(None, session.csrf)
    assert new_session().csrf != session.csrf and len(session.csrf) >= 32


def test_sessions_are_anonymous_until_sign_in_and_expire() -> None:
    def request_with(session: Session) -> Request:
        value = {
            "csrf": session.csrf,
            "op": session.operator,
            "iat": session.issued,
            "sid": session.sid,
        }
        cookie = f"{COOKIE}={SIGNER.dumps(COOKIE, value)}"
        scope = {"type": "http", "headers": [(b"cookie", cookie.encode())]}
        return Request(scope)

    fresh = read(SIGNER, request_with(new_session("olivia", sid="s1")))
    anonymous = read(SIGNER, request_with(new_session()))
    no_server_session = read(SIGNER, request_with(new_session("olivia")))
    stale = Session("abc", "olivia", time.time() - MAX_AGE - 1, "s1")

    assert fresh is not None and fresh.signed_in and fresh.operator == "olivia"
    assert fresh.sid == "s1"
    assert anonymous is not None and not anonymous.signed_in
    assert no_server_session is not None and not no_server_session.signed_in
    assert read(SIGNER, request_with(stale)) is None
