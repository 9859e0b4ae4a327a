"""Home report: the LLM-written analysis of the homeowner's property.

A no-address newsletter has no property to analyse: its step is READY at once, with no LLM call.
"""

from __future__ import annotations

import asyncio

from shared.adapters.db.models import Campaign
from shared.adapters.providers.llm import Writer
from shared.adapters.topology import TOPOLOGY
from shared.bootstrap import Runtime
from shared.bootstrap.providers import open_writer
from shared.consumer.consumer import run_consumers
from shared.domain.errors import PermanentError
from shared.service_layer.steps import Outcome, Step


def home_report_step(writer: Writer) -> Step:
    async def work(campaign: Campaign) -> Outcome:
        if campaign.no_address_newsletter:
            return Outcome()
        if not campaign.property_data:
            raise PermanentError("home-report", "no property data to analyse")
        return Outcome(
            {"home_report_analysis": await writer.home_report(property_data=campaign.property_data)}
        )

    return Step("home_report_analysis_status", work)


async def run(runtime: Runtime, stop: asyncio.Event) -> None:
    step = home_report_step(await open_writer(runtime))
    await run_consumers([await runtime.step_consumer(TOPOLOGY.queue("home-report"), step)], stop)
