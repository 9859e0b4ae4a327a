"""Refused before the body is read: an oversized body (413), a request without the token (401),
a dashboard form without a session (403). Over a raw socket, so the test controls exactly what
the client has sent when the answer comes."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import httpx

from tests.integration.api.conftest import TOKEN


async def _exchange(api_url: str, head: str, body: bytes = b"") -> tuple[int, str]:
    """Send a request head (and maybe part of a body); read the status line and the body."""
    url = urlsplit(api_url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        writer.write(head.encode() + b"\r\n" + body)
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), timeout=10)
        rest = await asyncio.wait_for(reader.read(4096), timeout=10)
    finally:
        writer.close()
    return int(status_line.split()[1]), rest.decode(errors="replace")


def _head(path: str, length: int | None, *, token: bool, extra: str = "") -> str:
    lines = [f"POST {path} HTTP/1.1", "Host: test", "Content-Type: application/json"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    else:
        lines.append("Transfer-Encoding: chunked")
    if token:
        lines.append(f"Authorization: Bearer {TOKEN}")
    if extra:
        lines.append(extra)
    return "\r\n".join(lines) + "\r\n"


async def test_an_unauthenticated_body_is_refused_before_it_is_sent(api_url: str) -> None:
    # 300 MB announced, not one byte of it sent: the answer must come anyway.
    status, body = await _exchange(api_url, _head("/api/v1/campaigns", 300_000_000, token=False))

    assert status == 401
    assert "a valid bearer token is required" in body


async def test_a_body_announced_over_the_limit_is_refused_before_it_is_sent(api_url: str) -> None:
    status, body = await _exchange(api_url, _head("/api/v1/campaigns", 300_000_000, token=True))

    assert status == 413
    assert '"error": "payload_too_large"' in body and "over 2097152 bytes" in body


async def test_a_dashboard_form_without_a_session_is_refused_before_it_is_read(
    api_url: str,
) -> None:
    status, body = await _exchange(api_url, _head("/ui/sends/1/pause", 300_000_000, token=False))

    assert status == 403 and "sign in to the dashboard first" in body


async def test_a_body_within_the_limit_reaches_the_route(api: httpx.AsyncClient) -> None:
    refused = await api.post("/api/v1/campaigns", content=b"{" * 1000)

    assert refused.status_code == 422  # parsed, and found to be no JSON: the route's own answer
