"""Data fetcher: property valuation, active listings, recent sales and local market data.

Each data kind has its own queue, step column and consumer (see docs/system-design.md), so one
kind failing or retrying never blocks or redoes the others. All four run in this process by
default; `DRIPR_DATA_KINDS=property,local-market` runs a subset, to scale a kind on its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from shared.adapters.db.models import Campaign
from shared.adapters.providers.data import DataProvider
from shared.adapters.topology import TOPOLOGY
from shared.bootstrap import Runtime
from shared.bootstrap.providers import open_data_provider
from shared.consumer.consumer import run_consumers
from shared.service_layer.steps import Outcome, Step

Fetch = Callable[[str], Awaitable[dict[str, Any]]]


def by_address(fetch: Fetch, column: str) -> Callable[[Campaign], Awaitable[Outcome]]:
    """Address-based data; a no-address newsletter has none to fetch and is READY at once."""

    async def work(campaign: Campaign) -> Outcome:
        if campaign.no_address_newsletter or not campaign.address:
            return Outcome()
        return Outcome({column: await fetch(campaign.address)})

    return work


def local_market(provider: DataProvider) -> Callable[[Campaign], Awaitable[Outcome]]:
    async def work(campaign: Campaign) -> Outcome:
        market, rate = await asyncio.gather(
            provider.local_market(campaign.market_area), provider.mortgage_rate()
        )
        return Outcome({"local_market_data": market, "mortgage_rate": rate})

    return work


def steps(provider: DataProvider) -> dict[str, Step]:
    """Queue name → the step its consumer completes."""
    return {
        "property": Step(
            "property_status", by_address(provider.property_valuation, "property_data")
        ),
        "active-listings": Step(
            "active_listing_status", by_address(provider.active_listings, "active_listings")
        ),
        "recent-sales": Step(
            "recent_sale_status", by_address(provider.recent_sales, "recent_sales")
        ),
        "local-market": Step("local_market_data_status", local_market(provider)),
    }


async def run(runtime: Runtime, stop: asyncio.Event) -> None:
    provider = await open_data_provider(runtime)
    wanted = runtime.settings.data_kinds
    kinds = steps(provider)
    names = [k.strip() for k in wanted.split(",")] if wanted else list(kinds)
    consumers = [await runtime.step_consumer(TOPOLOGY.queue(n), kinds[n]) for n in names]
    await run_consumers(consumers, stop)
