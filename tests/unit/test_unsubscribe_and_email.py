from __future__ import annotations

import pytest

from services.email_creation.builder import build_email
from shared.adapters.db.models import Campaign
from shared.domain.newsletter import POSTAL_ADDRESS, UNSUBSCRIBE_URL, personalise
from shared.domain.unsubscribe import InvalidToken, make_token, read_token, unsubscribe_url

SECRET = "a-test-secret-of-some-length"


def test_a_token_names_its_recipient_and_campaign() -> None:
    token = make_token(SECRET, 41, 7)

    assert read_token(SECRET, token).recipient_id == 41
    assert read_token(SECRET, token).campaign_id == 7


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t.replace("41.", "42.", 1),  # someone else's id
        lambda t: t[:-2] + ("AA" if t[-2:] != "AA" else "BB"),  # forged signature
        lambda t: "41.7",
        lambda t: "not-a-token",
        lambda t: "",
    ],
)
def test_a_tampered_token_is_refused(tamper: object) -> None:
    token = make_token(SECRET, 41, 7)

    with pytest.raises(InvalidToken):
        read_token(SECRET, tamper(token))  # type: ignore[operator]


def test_a_token_from_another_secret_is_refused() -> None:
    with pytest.raises(InvalidToken, match="signature"):
        read_token(SECRET, make_token("another-secret-entirely", 41, 7))


def _campaign(**fields: object) -> Campaign:
    values: dict[str, object] = {
        "id": 3,
        "cycle": 1,
        "name": "n",
        "agent_name": "Ada",
        "agent_email": "ada@realty.example",
        "address": "1 Elm Way, Boise, ID",
        "market_area": "Boise, ID",
        "no_address_newsletter": False,
        "intro": "Hello.",
        "home_report_analysis": "Analysis.",
        "mortgage_rate": 6.2,
        "property_data": {
            "formatted_address": "1 Elm Way, Boise, ID",
            "current_value": 500000,
            "value_range_low": 470000.0,
            "value_range_high": 530000.0,
        },
        "local_market_data": {
            "median_price": 450000,
            "median_price_change_12m_pct": 2.5,
            "median_days_on_market": 30,
            "active_inventory": 120,
        },
        "active_listings": {"listings": []},
        "recent_sales": {"sales": []},
    }
    values.update(fields)
    return Campaign(**values)


def test_every_value_put_into_the_html_is_escaped() -> None:
    hostile = '<script>alert("x")</script>'
    campaign = _campaign(
        agent_name=hostile,
        intro=f"Intro {hostile}",
        active_listings={
            "listings": [
                {
                    "address": hostile,
                    "price": 1,
                    "bedrooms": 1,
                    "bathrooms": 1,
                    "days_on_market": 2,
                }
            ]
        },
    )

    email = build_email(campaign)

    assert "<script>" not in email.html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in email.html
    assert hostile in email.text  # plain text is not HTML: nothing to escape there


def test_subject_is_one_line_whatever_the_address_holds() -> None:
    data = _campaign().property_data | {"formatted_address": "1 Elm\r\nBcc: all@example.com"}

    email = build_email(_campaign(property_data=data))

    assert "\n" not in email.subject and "\r" not in email.subject
    assert email.subject.startswith("What your home is worth now: 1 Elm Bcc")


def test_no_address_newsletter_has_no_home_section() -> None:
    email = build_email(_campaign(no_address_newsletter=True, address=None, property_data=None))

    assert "Your home" not in email.html
    assert email.subject == "Boise, ID market update from Ada"


def test_each_recipient_gets_their_own_escaped_link() -> None:
    email = build_email(_campaign())
    link = unsubscribe_url("https://news.example", SECRET, 41, 3)

    html, text = personalise(email.html, email.text, link)

    assert UNSUBSCRIBE_URL not in html and UNSUBSCRIBE_URL not in text
    assert f'href="{link}"' in html  # token characters need no escaping, & would be
    assert f"Unsubscribe: {link}" in text


def test_every_copy_carries_the_senders_postal_address_in_both_parts() -> None:
    email = build_email(_campaign())
    link = unsubscribe_url("https://news.example", SECRET, 41, 3)
    address = "Ada Agent Realty <HQ> & Co, 12 Main St, Boise, ID 83702"

    html, text = personalise(email.html, email.text, link, address)

    assert POSTAL_ADDRESS in email.html and POSTAL_ADDRESS in email.text
    assert POSTAL_ADDRESS not in html and POSTAL_ADDRESS not in text
    assert "Ada Agent Realty &lt;HQ&gt; &amp; Co, 12 Main St" in html
    assert text.rstrip().endswith(address)
