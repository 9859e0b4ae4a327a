"""Sending one email through Amazon SES, as a MIME message of our own.

Bulk senders must carry `List-Unsubscribe` (an https URL, and a mailto where configured) and
`List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058): Gmail and Yahoo require them.
SES's simple content cannot carry custom headers, so the message is built here (text and HTML
alternatives) and sent as raw content, with the configuration set and tags (campaign, cycle,
delivery; also in SES's `X-SES-MESSAGE-TAGS` header) that let SES's feedback be matched to the
delivery. Throttling ("Maximum sending rate exceeded") is `Throttled`: the shared rate limiter
slows down and no breaker counts it. SES v1 `SendRawEmail` is used
rather than v2's raw `SendEmail`: the same message and the same IAM action (`ses:SendRawEmail`),
and both emulators the project runs on (moto, and LocalStack, which has no SES v2) speak it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import SMTP
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from shared.domain.dependencies import Dependency
from shared.domain.errors import PermanentError, Throttled, TransientError

PERMANENT_CODES = frozenset(
    {
        "MessageRejected",
        "MailFromDomainNotVerified",
        "InvalidParameterValue",
        "AccountSendingPaused",
    }
)
THROTTLING_CODES = frozenset({"Throttling", "ThrottlingException", "TooManyRequestsException"})
"""SES's "Maximum sending rate exceeded" (and the daily quota's) arrive as these."""
_TAG_VALUE = re.compile(r"[^A-Za-z0-9_\-.@]")
"""SES refuses other characters in a message tag's value."""


@dataclass(frozen=True)
class OutgoingEmail:
    to: str
    subject: str
    html: str
    text: str
    reply_to: str | None = None
    unsubscribe_url: str | None = None
    """The recipient's one-click link: it goes in List-Unsubscribe."""
    tags: Mapping[str, str] = field(default_factory=dict)


class Mailer(Protocol):
    async def send(self, email: OutgoingEmail) -> str:
        """Send; return the provider's message id."""
        ...


async def max_send_rate(ses: Any) -> float:
    """The account's sending rate (emails per second), from SES's quota."""
    quota = await ses.get_send_quota()
    return float(quota["MaxSendRate"])


def mime(email: OutgoingEmail, sender: str, unsubscribe_mailto: str | None = None) -> bytes:
    """The message as SES will send it: headers, then text and HTML alternatives."""
    message = EmailMessage(policy=SMTP)
    message["From"] = sender
    message["To"] = email.to
    message["Subject"] = email.subject
    if email.reply_to:
        message["Reply-To"] = email.reply_to
    targets = [f"<{email.unsubscribe_url}>"] if email.unsubscribe_url else []
    if unsubscribe_mailto:
        targets.append(f"<mailto:{unsubscribe_mailto}?subject=unsubscribe>")
    if targets:
        message["List-Unsubscribe"] = ", ".join(targets)
    if email.unsubscribe_url:
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    if email.tags:  # SES reads and strips it; the same tags as the request's
        message["X-SES-MESSAGE-TAGS"] = ", ".join(f"{k}={v}" for k, v in _tags(email).items())
    message.set_content(email.text, subtype="plain", charset="utf-8")
    message.add_alternative(email.html, subtype="html", charset="utf-8")
    return message.as_bytes()


class SesMailer:
    def __init__(
        self,
        ses: Any,
        sender: str,
        configuration_set: str | None = None,
        unsubscribe_mailto: str | None = None,
    ) -> None:
        self._ses = ses
        self._sender = sender
        self._configuration_set = configuration_set
        self._unsubscribe_mailto = unsubscribe_mailto

    async def send(self, email: OutgoingEmail) -> str:
        request: dict[str, Any] = {
            "Source": self._sender,
            "Destinations": [email.to],
            "RawMessage": {"Data": mime(email, self._sender, self._unsubscribe_mailto)},
        }
        if email.tags:
            request["Tags"] = [{"Name": k, "Value": v} for k, v in _tags(email).items()]
        if self._configuration_set:
            request["ConfigurationSetName"] = self._configuration_set
        try:
            response = await self._ses.send_raw_email(**request)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", "Unknown"))
            message = f"{code}: {error.get('Message', exc)}"
            if code in PERMANENT_CODES:
                raise PermanentError(Dependency.SES, message) from exc
            if code in THROTTLING_CODES or "sending rate exceeded" in message.lower():
                raise Throttled(Dependency.SES, message) from exc
            raise TransientError(Dependency.SES, message) from exc
        except BotoCoreError as exc:  # connection refused, timeouts
            raise TransientError(Dependency.SES, f"{type(exc).__name__}: {exc}") from exc
        return str(response["MessageId"])


def _tags(email: OutgoingEmail) -> dict[str, str]:
    return {name: _TAG_VALUE.sub("_", value)[:256] for name, value in email.tags.items()}
