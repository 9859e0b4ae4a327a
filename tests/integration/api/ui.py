"""Helpers the dashboard's tests share: sign in over HTTP, read a form's CSRF token, trip a
breaker the way a failing dependency does."""

from __future__ import annotations

import re

import httpx

from shared.bootstrap import Runtime
from shared.service_layer.breakers import CircuitBreaker
from tests.integration.api.conftest import TOKEN

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


async def sign_in(client: httpx.AsyncClient, operator: str = "olivia") -> str:
    """Sign in through the form; returns the session's CSRF token for the forms that follow."""
    form = await client.get("/ui/login")
    signed = await client.post(
        "/ui/login",
        data={"operator": operator, "token": TOKEN, "csrf_token": csrf_of(form.text)},
    )
    assert signed.status_code == 303, signed.text
    return csrf_of((await client.get("/ui")).text)


async def trip(runtime: Runtime, name: str = "ses", threshold: int = 5) -> None:
    """`threshold` consecutive transient errors: the breaker opens and pauses the pipeline."""
    breaker = CircuitBreaker(name, runtime.sessions)
    for _ in range(threshold):
        await breaker.failed(f"{name}: ServiceUnavailable: try again later")
