"""A stand-in for Amazon Bedrock Runtime's Converse operation, over real HTTP.

It speaks the wire protocol botocore expects (restJson1): `POST /model/{modelId}/converse` with a
JSON body, a JSON reply, and errors as an HTTP status plus an `x-amzn-ErrorType` header (botocore
reads the error code from that header and the message from the body's "message"). Tests point a
real aiobotocore client at `standin.url`, then inspect `standin.calls` and script faults.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.standins.server import serving


def default_reply(user_prompt: str) -> str:
    """Deterministic, and shows which prompt it answered."""
    return f'Stand-in reply to "{user_prompt[:40]}".'


@dataclass
class ConverseCall:
    """One request as the stand-in received it."""

    model_id: str
    body: dict[str, Any]
    headers: dict[str, str]

    @property
    def system(self) -> str:
        return "".join(block.get("text", "") for block in self.body.get("system", []))

    @property
    def prompt(self) -> str:
        """The text of the last user message."""
        users = [m for m in self.body.get("messages", []) if m.get("role") == "user"]
        content = users[-1].get("content", []) if users else []
        return "".join(block.get("text", "") for block in content)


@dataclass
class Fault:
    status: int
    error_type: str
    message: str


@dataclass
class BedrockStandin:
    """The stand-in's state: what it answers, what it received, and the faults still to serve."""

    url: str = ""
    reply: Callable[[str], str] = default_reply
    stop_reason: str = "end_turn"
    delay: float = 0.0
    calls: list[ConverseCall] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    _closing: asyncio.Event = field(default_factory=asyncio.Event)

    def fail_next(
        self, times: int, *, status: int, error_type: str, message: str = "scripted failure"
    ) -> None:
        """Make the next `times` calls fail, e.g. (429, "ThrottlingException")."""
        self.faults.extend(Fault(status, error_type, message) for _ in range(times))

    async def _converse(self, request: web.Request) -> web.Response:
        # aiohttp decodes the percent-encoded label: "...-v1%3A0" arrives as "...-v1:0".
        body = await request.json()
        call = ConverseCall(request.match_info["model_id"], body, dict(request.headers))
        self.calls.append(call)
        if self.delay:
            # Wakes early when the stand-in shuts down, so a timed-out test does not linger.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), self.delay)
        if self.faults:
            fault = self.faults.pop(0)
            return web.json_response(
                {"message": fault.message},
                status=fault.status,
                headers={"x-amzn-ErrorType": fault.error_type},
            )
        text = self.reply(call.prompt)
        tokens_in = len(f"{call.system} {call.prompt}".split())
        tokens_out = len(text.split())
        return web.json_response(
            {
                "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
                "stopReason": self.stop_reason,
                "usage": {
                    "inputTokens": tokens_in,
                    "outputTokens": tokens_out,
                    "totalTokens": tokens_in + tokens_out,
                },
                "metrics": {"latencyMs": 5},
            }
        )


@contextlib.asynccontextmanager
async def bedrock_standin() -> AsyncIterator[BedrockStandin]:
    """A running stand-in on 127.0.0.1 and a free port."""
    standin = BedrockStandin()
    app = web.Application()
    # `.+` so inference-profile ARNs (whose "/" botocore sends as %2F) still match.
    app.router.add_post("/model/{model_id:.+}/converse", standin._converse)
    async with serving(app, before_shutdown=standin._closing.set) as url:
        standin.url = url
        yield standin
