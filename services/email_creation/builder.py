"""Build a campaign's newsletter from templates. Jinja2 escapes every value it puts into HTML."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from shared.adapters.db.models import Campaign
from shared.domain.newsletter import POSTAL_ADDRESS, UNSUBSCRIBE_URL


@dataclass(frozen=True)
class BuiltEmail:
    subject: str
    html: str
    text: str


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("services.email_creation", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


def subject_for(campaign: Campaign) -> str:
    if campaign.no_address_newsletter or not campaign.property_data:
        subject = f"{campaign.market_area} market update from {campaign.agent_name}"
    else:
        subject = f"What your home is worth now: {campaign.property_data['formatted_address']}"
    return " ".join(subject.split())[:300]  # one line: no header injection through a value


def build_email(campaign: Campaign) -> BuiltEmail:
    subject = subject_for(campaign)
    context = {
        "campaign": campaign,
        "subject": subject,
        "home": None if campaign.no_address_newsletter else campaign.property_data,
        "market": campaign.local_market_data,
        "listings": (campaign.active_listings or {}).get("listings", []),
        "sales": (campaign.recent_sales or {}).get("sales", []),
        "unsubscribe_url": UNSUBSCRIBE_URL,
        "postal_address": POSTAL_ADDRESS,
    }
    environment = _environment()
    return BuiltEmail(
        subject=subject,
        html=environment.get_template("newsletter.html.j2").render(context),
        text=environment.get_template("newsletter.txt.j2").render(context),
    )
