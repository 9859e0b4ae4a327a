"""Who acts: an operator's name, of any script, as it travels in the X-Operator header.

HTTP header values are Latin-1 at best, so a name like "José" or "王" is sent percent-encoded as
UTF-8 (RFC 3986), and plain ASCII names travel as they are. The API decodes it before the name
reaches the audit log.
"""

from __future__ import annotations

from urllib.parse import quote, unquote

MAX_LENGTH = 120
"""Characters of a name kept (the audit log's actor column)."""


def to_header(name: str) -> str:
    return quote(name, safe=" !#$&'()*+,-./:;=?@[]^_`{|}~")


def from_header(value: str) -> str:
    return unquote(value, errors="replace").strip()[:MAX_LENGTH]
