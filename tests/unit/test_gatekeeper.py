"""The gatekeeper at the ASGI level: a streamed body is cut off at the limit, never held whole."""

from __future__ import annotations

import json
from typing import Any

from starlette.types import Message, Receive, Scope, Send

from services.control_api.gatekeeper import Gatekeeper

TOKEN = "a-test-token-of-some-length"


class Client:
    """Streams `chunks` chunks of `size` bytes and records what the app answered."""

    def __init__(self, chunks: int, size: int = 65536) -> None:
        self.left, self.size, self.pulled = chunks, size, 0
        self.sent: list[Message] = []

    async def receive(self) -> Message:
        self.left -= 1
        self.pulled += 1
        return {"type": "http.request", "body": b"x" * self.size, "more_body": self.left > 0}

    async def send(self, message: Message) -> None:
        self.sent.append(message)

    @property
    def status(self) -> int:
        return int(self.sent[0]["status"])

    @property
    def body(self) -> dict[str, Any]:
        return dict(json.loads(self.sent[1]["body"]))


def scope(path: str = "/api/v1/campaigns", token: bool = True) -> Scope:
    headers = [(b"authorization", f"Bearer {TOKEN}".encode())] if token else []
    return {"type": "http", "method": "POST", "path": path, "headers": headers}


async def reached(received: list[bytes], scope: Scope, receive: Receive, send: Send) -> None:
    message = await receive()
    received.append(message["body"])
    await send({"type": "http.response.start", "status": 201, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


def gatekeeper(received: list[bytes], limit: int = 1_000_000) -> Gatekeeper:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await reached(received, scope, receive, send)

    return Gatekeeper(app, api_token=TOKEN, max_body_bytes=limit, has_session=lambda h: False)


async def test_a_streamed_body_over_the_limit_is_cut_off_after_the_limit() -> None:
    received: list[bytes] = []
    client = Client(chunks=1000)  # 65 MB on offer

    await gatekeeper(received)(scope(), client.receive, client.send)

    assert client.status == 413 and client.body["error"] == "payload_too_large"
    assert client.pulled == 16  # 16 x 64 KiB is the first read past 1 MB: nothing more held
    assert received == []  # the app never saw it


async def test_a_body_within_the_limit_reaches_the_app_whole() -> None:
    received: list[bytes] = []
    client = Client(chunks=3, size=1000)

    await gatekeeper(received)(scope(), client.receive, client.send)

    assert client.status == 201 and received == [b"x" * 3000]


async def test_no_token_no_read() -> None:
    received: list[bytes] = []
    client = Client(chunks=1000)

    await gatekeeper(received)(scope(token=False), client.receive, client.send)

    assert client.status == 401 and client.pulled == 0 and received == []
