"""The built newsletter and its per-recipient touch: the signed unsubscribe link.

The email is built once per campaign cycle; each recipient's copy differs only by the link,
which the sender puts where the builder left `UNSUBSCRIBE_URL`.
"""

from __future__ import annotations

import html

UNSUBSCRIBE_URL = "https://dripr.invalid/unsubscribe-placeholder"
"""A URL-shaped placeholder: it survives HTML escaping unchanged and is unmistakable."""


def personalise(html_body: str, text_body: str, unsubscribe_url: str) -> tuple[str, str]:
    return (
        html_body.replace(UNSUBSCRIBE_URL, html.escape(unsubscribe_url, quote=True)),
        text_body.replace(UNSUBSCRIBE_URL, unsubscribe_url),
    )
