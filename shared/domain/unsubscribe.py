"""Signed unsubscribe tokens: the link in every email names a recipient and cannot be forged.

A token is `<recipient id>.<campaign id>.<signature>`, the signature an HMAC-SHA256 (truncated
to 128 bits, base64url) under the server's secret, compared in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import urlencode

from shared.domain.errors import InvalidInput


class InvalidToken(InvalidInput):
    pass


@dataclass(frozen=True)
class Unsubscribe:
    recipient_id: int
    campaign_id: int


def _signature(secret: str, recipient_id: int, campaign_id: int) -> str:
    message = f"unsubscribe:{recipient_id}:{campaign_id}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def make_token(secret: str, recipient_id: int, campaign_id: int) -> str:
    return f"{recipient_id}.{campaign_id}.{_signature(secret, recipient_id, campaign_id)}"


def read_token(secret: str, token: str) -> Unsubscribe:
    try:
        recipient, campaign, signature = token.split(".")
        recipient_id, campaign_id = int(recipient), int(campaign)
    except ValueError:
        raise InvalidToken("malformed unsubscribe token") from None
    expected = _signature(secret, recipient_id, campaign_id)
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise InvalidToken("unsubscribe token signature does not match")
    return Unsubscribe(recipient_id, campaign_id)


def unsubscribe_url(base_url: str, secret: str, recipient_id: int, campaign_id: int) -> str:
    token = make_token(secret, recipient_id, campaign_id)
    return f"{base_url.rstrip('/')}/unsubscribe?{urlencode({'token': token})}"
