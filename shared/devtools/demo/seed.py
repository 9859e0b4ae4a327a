"""Demo campaigns: realistic agents, homes and recipients, with every kind of path represented."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.adapters.db.models import Campaign, Recipient
from shared.devtools.ses_feedback import BOUNCE_ADDRESS, COMPLAINT_ADDRESS
from shared.domain.clock import utcnow_naive

AREAS = (
    ("Springfield, IL", "62704"),
    ("Austin, TX", "78704"),
    ("Boise, ID", "83702"),
    ("Raleigh, NC", "27601"),
    ("Madison, WI", "53703"),
    ("Tucson, AZ", "85719"),
)
STREETS = ("Maple Street", "Oak Avenue", "Cedar Lane", "Willow Court", "Juniper Drive", "Elm Way")
AGENTS = ("Ada Alvarez", "Ben Okafor", "Chloe Nguyen", "Dev Patel", "Erin Walsh", "Farah Haddad")
OWNERS = ("Jordan", "Casey", "Riley", "Morgan", "Taylor", "Avery", "Quinn", "Rowan", "Sage")


@dataclass(frozen=True)
class DemoCampaign:
    id: int
    name: str
    kind: str


def kind_of(index: int, count: int) -> str:
    """Every fourth campaign is a no-address newsletter, every third needs approval; in a demo
    of ten or more, the last has an address the data provider cannot find, to show ERROR."""
    if count >= 10 and index == count - 1:
        return "bad-address"
    if index % 4 == 3:
        return "no-address"
    if index % 3 == 2:
        return "approval"
    return "standard"


async def seed(
    sessions: async_sessionmaker[AsyncSession],
    count: int,
    recipients: int,
    *,
    now: datetime | None = None,
    seed_value: int = 7,
    kinds: Callable[[int, int], str] | None = None,
    due: datetime | None = None,
    feedback: bool = False,
) -> list[DemoCampaign]:
    """`kinds` chooses each campaign's kind (default `kind_of`); `due` its first send date;
    `feedback` adds SES's bounce and complaint simulator addresses to the first campaign, so
    the feedback service has something to suppress."""
    rng = random.Random(seed_value)
    due = due or (now or utcnow_naive()) - timedelta(seconds=1)
    created: list[tuple[Campaign, str]] = []
    async with sessions() as session:
        for index in range(count):
            area, zip_code = AREAS[index % len(AREAS)]
            agent = AGENTS[index % len(AGENTS)]
            kind = (kinds or kind_of)(index, count)
            city, state = area.split(", ")
            street = "Nowhere Road" if kind == "bad-address" else rng.choice(STREETS)
            address = f"{rng.randint(10, 980)} {street}, {city}, {state} {zip_code}"
            owners = rng.sample(OWNERS, k=min(recipients, len(OWNERS)))
            owners += [f"{OWNERS[n % len(OWNERS)]}{n}" for n in range(len(owners), recipients)]
            campaign = Campaign(
                name=f"{city} {'market' if kind == 'no-address' else 'home'} update #{index + 1}",
                agent_name=agent,
                agent_email=f"{agent.split()[0].lower()}@realty.example",
                address=None if kind == "no-address" else address,
                market_area=area,
                no_address_newsletter=kind == "no-address",
                requires_approval=kind == "approval",
                next_send_datetime=due,
                cadence_days=30,
            )
            campaign.recipients = [
                Recipient(
                    email=f"{owner.lower()}.{index + 1}@homeowners.example",
                    name=owner,
                    # One recipient in five has unsubscribed: they must never be mailed.
                    unsubscribed_at=due if (index + n) % 5 == 4 else None,
                )
                for n, owner in enumerate(owners)
            ]
            if feedback and index == 0:
                campaign.recipients += [
                    Recipient(email=BOUNCE_ADDRESS, name="Bounce (SES simulator)"),
                    Recipient(email=COMPLAINT_ADDRESS, name="Complaint (SES simulator)"),
                ]
            session.add(campaign)
            created.append((campaign, kind))
        await session.commit()
    return [DemoCampaign(c.id, c.name, kind) for c, kind in created]
