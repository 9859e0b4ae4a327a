"""What real SQS refuses in a SendMessage, which moto lets through.

From the SQS developer guide: message bodies and String/Number attribute values may only hold
#x9, #xA, #xD, #x20-#xD7FF, #xE000-#xFFFD and #x10000-#x10FFFF; a message has at most 10
attributes; attribute names are letters, digits, '_', '-' and '.'.
"""

from __future__ import annotations

import re
from typing import Any

MAX_ATTRIBUTES = 10
_NAME = re.compile(r"^[A-Za-z0-9_\-.]{1,256}$")


def valid_char(char: str) -> bool:
    code = ord(char)
    return (
        code in (0x9, 0xA, 0xD)
        or 0x20 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or 0x10000 <= code <= 0x10FFFF
    )


def sqs_text(text: str) -> str:
    """`text` with every character SQS refuses replaced, so it can be sent at all."""
    return "".join(c if valid_char(c) else "?" for c in text)


def refusal(body: str, attributes: dict[str, Any]) -> str | None:
    """Why SQS would refuse this message, or None if it would take it."""
    if not body:
        return "empty body"
    if not all(valid_char(c) for c in body):
        return "invalid characters in the body"
    if len(attributes) > MAX_ATTRIBUTES:
        return f"{len(attributes)} message attributes, more than {MAX_ATTRIBUTES}"
    for name, value in attributes.items():
        if not _NAME.match(name) or name.startswith(("AWS.", "Amazon.")):
            return f"invalid attribute name {name!r}"
        text = value.get("StringValue")
        if text is not None and not all(valid_char(c) for c in text):
            return f"invalid characters in attribute {name}"
    return None
