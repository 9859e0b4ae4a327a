"""A stand-in for Amazon SES v1's query API (SendRawEmail, GetSendQuota), over real HTTP.

SES v1 speaks the AWS query protocol: form-encoded `Action=...` POSTs, XML replies, and errors
as an HTTP 400 with an `<ErrorResponse>` whose `<Code>` botocore turns into the exception. This
one throttles the way SES does when the account's rate is exceeded ("Throttling: Maximum
sending rate exceeded."), as often as a test scripts, and records when each email arrived.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import email
import email.policy
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from uuid import uuid4

from aiohttp import web

from tests.standins.server import serving

NS = "http://ses.amazonaws.com/doc/2010-12-01/"


@dataclass
class SesStandin:
    url: str = ""
    max_send_rate: float = 14.0
    throttle_next: int = 0
    """How many of the next SendRawEmail calls are refused with Throttling."""
    accepted: list[float] = field(default_factory=list)
    """time.time() of each email accepted."""
    throttled: int = 0
    hold_before_accepting: float = 0.0
    """Seconds each SendRawEmail waits before SES accepts it (a sender killed meanwhile: SES
    has nothing)."""
    hold_after_accepting: float = 0.0
    """Seconds it waits after accepting, before answering (killed meanwhile: SES has it)."""
    on_accept: Callable[[str, str, dict[str, str]], Awaitable[None]] | None = None
    """Called with (message id, recipient, the message's headers) as SES accepts it: SES's Send
    event, say."""
    recipients: list[str] = field(default_factory=list)
    """The recipient of each email accepted, in order."""
    arrived: int = 0
    """SendRawEmail calls received, accepted or not."""
    _closing: asyncio.Event = field(default_factory=asyncio.Event)

    async def _handle(self, request: web.Request) -> web.Response:
        form = await request.post()
        action = form.get("Action")
        if action == "GetSendQuota":
            return self._xml(
                "GetSendQuota",
                f"<Max24HourSend>50000.0</Max24HourSend><MaxSendRate>{self.max_send_rate}"
                "</MaxSendRate><SentLast24Hours>0.0</SentLast24Hours>",
            )
        if action != "SendRawEmail":
            return self._error(400, "InvalidAction", f"the stand-in does not do {action}")
        self.arrived += 1
        if self.throttle_next > 0:
            self.throttle_next -= 1
            self.throttled += 1
            return self._error(400, "Throttling", "Maximum sending rate exceeded.")
        if self.hold_before_accepting:
            await self._hold(self.hold_before_accepting)
        message_id = f"{uuid4()}-000000"
        raw = base64.b64decode(str(form.get("RawMessage.Data", "")))
        message = email.message_from_bytes(raw, policy=email.policy.default)
        recipient = str(form.get("Destinations.member.1") or message["To"])
        self.accepted.append(time.time())
        self.recipients.append(recipient)
        if self.on_accept is not None:
            headers = {key: str(value) for key, value in message.items()}
            await self.on_accept(message_id, recipient, headers)
        if self.hold_after_accepting:
            await self._hold(self.hold_after_accepting)
        return self._xml("SendRawEmail", f"<MessageId>{message_id}</MessageId>")

    async def _hold(self, seconds: float) -> None:
        """Wakes early when the stand-in shuts down, so a held call does not delay the end."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)

    @staticmethod
    def _xml(action: str, result: str) -> web.Response:
        body = (
            f'<{action}Response xmlns="{NS}"><{action}Result>{result}</{action}Result>'
            f"<ResponseMetadata><RequestId>{uuid4()}</RequestId></ResponseMetadata>"
            f"</{action}Response>"
        )
        return web.Response(text=body, content_type="text/xml")

    @staticmethod
    def _error(status: int, code: str, message: str) -> web.Response:
        body = (
            f'<ErrorResponse xmlns="{NS}"><Error><Type>Sender</Type><Code>{code}</Code>'
            f"<Message>{message}</Message></Error><RequestId>{uuid4()}</RequestId>"
            "</ErrorResponse>"
        )
        return web.Response(text=body, status=status, content_type="text/xml")


@contextlib.asynccontextmanager
async def ses_standin() -> AsyncIterator[SesStandin]:
    standin = SesStandin()
    app = web.Application()
    app.router.add_post("/", standin._handle)
    async with serving(app, before_shutdown=standin._closing.set) as url:
        standin.url = url
        yield standin
