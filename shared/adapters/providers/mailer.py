"""Sending one email through Amazon SES (v1 SendEmail: moto and LocalStack both speak it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from shared.domain.dependencies import Dependency
from shared.domain.errors import PermanentError, TransientError

PERMANENT_CODES = frozenset(
    {
        "MessageRejected",
        "MailFromDomainNotVerified",
        "InvalidParameterValue",
        "AccountSendingPaused",
    }
)


@dataclass(frozen=True)
class OutgoingEmail:
    to: str
    subject: str
    html: str
    text: str
    reply_to: str | None = None


class Mailer(Protocol):
    async def send(self, email: OutgoingEmail) -> str:
        """Send; return the provider's message id."""
        ...


class SesMailer:
    def __init__(self, ses: Any, sender: str, configuration_set: str | None = None) -> None:
        self._ses = ses
        self._sender = sender
        self._configuration_set = configuration_set

    async def send(self, email: OutgoingEmail) -> str:
        request: dict[str, Any] = {
            "Source": self._sender,
            "Destination": {"ToAddresses": [email.to]},
            "Message": {
                "Subject": {"Data": email.subject, "Charset": "UTF-8"},
                "Body": {
                    "Html": {"Data": email.html, "Charset": "UTF-8"},
                    "Text": {"Data": email.text, "Charset": "UTF-8"},
                },
            },
        }
        if email.reply_to:
            request["ReplyToAddresses"] = [email.reply_to]
        if self._configuration_set:
            request["ConfigurationSetName"] = self._configuration_set
        try:
            response = await self._ses.send_email(**request)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", "Unknown"))
            message = f"{code}: {error.get('Message', exc)}"
            if code in PERMANENT_CODES:
                raise PermanentError(Dependency.SES, message) from exc
            raise TransientError(Dependency.SES, message) from exc
        except BotoCoreError as exc:  # connection refused, timeouts
            raise TransientError(Dependency.SES, f"{type(exc).__name__}: {exc}") from exc
        return str(response["MessageId"])
