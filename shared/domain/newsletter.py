"""The built newsletter and what the sender fills in: the link and the postal address.

The email is built once per campaign cycle; each recipient's copy differs only by the signed
unsubscribe link, which the sender puts where the builder left `UNSUBSCRIBE_URL`. The sender's
postal address (CAN-SPAM: commercial email must carry one) goes where it left `POSTAL_ADDRESS`,
so a change of address reaches every send, not only emails built after it.
"""

from __future__ import annotations

import html

UNSUBSCRIBE_URL = "https://dripr.invalid/unsubscribe-placeholder"
"""A URL-shaped placeholder: it survives HTML escaping unchanged and is unmistakable."""
POSTAL_ADDRESS = "dripr-postal-address-placeholder"
"""Likewise for the sender's postal address in the footer."""


def personalise(
    html_body: str, text_body: str, unsubscribe_url: str, postal_address: str = ""
) -> tuple[str, str]:
    return (
        html_body.replace(UNSUBSCRIBE_URL, html.escape(unsubscribe_url, quote=True)).replace(
            POSTAL_ADDRESS, html.escape(postal_address)
        ),
        text_body.replace(UNSUBSCRIBE_URL, unsubscribe_url).replace(POSTAL_ADDRESS, postal_address),
    )
