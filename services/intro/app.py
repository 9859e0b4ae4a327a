"""Intro: the newsletter's opening paragraph, written from local market data and the rate.

It runs beside the data fetcher (both on WAITING_FOR_DATA), so it asks the data provider for the
market figures itself rather than waiting for the local-market step to store them.
"""

from __future__ import annotations

import asyncio

from shared.adapters.db.models import Campaign
from shared.adapters.providers.data import DataProvider
from shared.adapters.providers.llm import Writer
from shared.adapters.topology import TOPOLOGY
from shared.bootstrap import Runtime
from shared.bootstrap.providers import open_data_provider, open_writer
from shared.consumer.consumer import run_consumers
from shared.service_layer.steps import Outcome, Step


def intro_step(provider: DataProvider, writer: Writer) -> Step:
    async def work(campaign: Campaign) -> Outcome:
        market, rate = await asyncio.gather(
            provider.local_market(campaign.market_area), provider.mortgage_rate()
        )
        text = await writer.intro(
            area=campaign.market_area,
            local_market=market,
            mortgage_rate=rate,
            agent_name=campaign.agent_name,
        )
        return Outcome({"intro": text})

    return Step("intro_status", work)


async def run(runtime: Runtime, stop: asyncio.Event) -> None:
    step = intro_step(await open_data_provider(runtime), await open_writer(runtime))
    await run_consumers([await runtime.step_consumer(TOPOLOGY.queue("intro"), step)], stop)
