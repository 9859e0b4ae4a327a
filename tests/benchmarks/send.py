"""Benchmark: emails/s through SES on the emulator, and proof that a send keeps its rate.

Runs the real sender (consumer runtime, SEND_BATCH chain, SES over HTTP) in process against a
moto server and a SQLite file, twice:

- unthrottled (large batches, no delay, no cooldown): the throughput ceiling of a send;
- rate-controlled (batch size B, delay D ms, cooldown C s): from each delivery's `sent_at` it
  measures the gaps inside batches (must be >= D), the gaps between batches (must be >= C),
  the batch sizes (must be <= B) and the overall rate (must not exceed the configured ceiling
  B / ((B-1)·D + C)).

Run with `make bench-send`. It prints a table and one JSON line, and exits non-zero if the
configured rate was not respected.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import tempfile
import time
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import select

from infra.provision import provision
from services.email_creation.app import EMAIL_STEP
from services.email_sender.app import handle_batch, handle_ready
from services.email_sender.delivery import SendConfig
from shared.adapters.db.migrate import upgrade_async
from shared.adapters.db.models import Campaign, Delivery, Recipient
from shared.adapters.topology import TOPOLOGY
from shared.bootstrap import Runtime, bootstrap
from shared.bootstrap.providers import open_mailer
from shared.config import Settings
from shared.consumer.handling import Handler
from shared.devtools.emulator import moto_server
from shared.domain.events import Event, SendBatch, StatusChange
from shared.domain.statuses import CampaignStatus, SendStatus, SubStatus
from shared.domain.transitions import DATA_STEPS
from shared.logging import configure_logging
from shared.service_layer import sends
from shared.service_layer.steps import mark_failed


async def _campaign(runtime: Runtime, recipients: int, name: str) -> StatusChange:
    async with runtime.sessions() as session:
        campaign = Campaign(
            name=name,
            agent_name="Ada",
            agent_email="ada@realty.example",
            address=None,
            market_area="Boise, ID",
            no_address_newsletter=True,
            campaign_status=CampaignStatus.READY_TO_CREATE_EMAIL,
            cycle=1,
            next_send_datetime=datetime(2026, 12, 1),
            intro="Hello.",
            mortgage_rate=6.2,
            email_status=SubStatus.WAITING_FOR_DATA,
            **{step: SubStatus.READY for step in DATA_STEPS},
            home_report_analysis_status=SubStatus.READY,
        )
        campaign.recipients = [
            Recipient(email=f"owner{i}@bench.example") for i in range(recipients)
        ]
        session.add(campaign)
        await session.commit()
        campaign_id = campaign.id
    event = StatusChange(
        campaign_id=campaign_id,
        cycle=1,
        from_status="WAITING_FOR_HOME_ANALYSIS",
        to_status="READY_TO_CREATE_EMAIL",
    )
    await EMAIL_STEP.handle(event, runtime.unit_of_work("email-creation", event.event_id))
    return event.model_copy(update={"to_status": CampaignStatus.READY_TO_SEND_EMAIL})


async def run_send(runtime: Runtime, recipients: int, controls: sends.Controls) -> dict[str, Any]:
    event = await _campaign(runtime, recipients, f"bench {controls}")
    mailer = await open_mailer(runtime)
    config = SendConfig(
        "https://bench.example", runtime.settings.unsubscribe_secret.get_secret_value()
    )
    handlers: dict[type[Event], Handler] = {
        StatusChange: partial(handle_ready, controls=controls),
        SendBatch: partial(handle_batch, sessions=runtime.sessions, mailer=mailer, config=config),
    }
    consumer = await runtime.consumer(
        TOPOLOGY.queue("email-sender"), handlers, on_give_up=mark_failed("send_status")
    )
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    started = time.perf_counter()
    await runtime.publisher.publish(event)
    while True:
        async with runtime.sessions() as session:
            send = await sends.find(session, event.campaign_id, 1)
            if send is not None and send.status is SendStatus.COMPLETED:
                break
        await asyncio.sleep(0.02)
    elapsed = time.perf_counter() - started
    stop.set()
    await task
    async with runtime.sessions() as session:
        stamps = sorted(
            t
            for t in await session.scalars(
                select(Delivery.sent_at).where(Delivery.send_id == send.id)
            )
            if t is not None
        )
    return _analyse(stamps, controls, elapsed)


def _analyse(stamps: list[Any], controls: sends.Controls, elapsed: float) -> dict[str, Any]:
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(stamps)]
    boundary = max(controls.cooldown_seconds * 0.9, controls.delay_ms / 1000 * 1.5, 0.001)
    between = [g for g in gaps if g >= boundary] if controls.cooldown_seconds else []
    within = [g for g in gaps if g < boundary] if controls.cooldown_seconds else gaps
    sizes, size = [], 1
    for gap in gaps:
        if controls.cooldown_seconds and gap >= boundary:
            sizes.append(size)
            size = 1
        else:
            size += 1
    sizes.append(size)
    span = (stamps[-1] - stamps[0]).total_seconds() if len(stamps) > 1 else 0.0
    rate = (len(stamps) - 1) / span if span else float("inf")
    per_batch = (controls.batch_size - 1) * controls.delay_ms / 1000 + controls.cooldown_seconds
    ceiling = controls.batch_size / per_batch if per_batch else None
    return {
        "emails": len(stamps),
        "batch_size": controls.batch_size,
        "delay_ms": controls.delay_ms,
        "cooldown_s": controls.cooldown_seconds,
        "seconds": round(elapsed, 2),
        "emails_per_s": round(len(stamps) / elapsed, 1),
        "sending_rate_per_s": round(rate, 2),
        "configured_ceiling_per_s": round(ceiling, 2) if ceiling else None,
        "min_gap_in_batch_ms": round(min(within) * 1000, 1) if within else None,
        "min_gap_between_batches_s": round(min(between), 2) if between else None,
        "largest_batch": max(sizes) if controls.cooldown_seconds else None,
        "respected": (
            (not within or min(within) * 1000 >= controls.delay_ms * 0.98)
            and (
                not controls.cooldown_seconds
                or min(between, default=0) >= controls.cooldown_seconds * 0.98
            )
            and (not controls.cooldown_seconds or max(sizes) <= controls.batch_size)
            and (ceiling is None or rate <= ceiling * 1.02)
        ),
    }


async def measure(
    endpoint: str, fast_recipients: int, paced_recipients: int
) -> list[dict[str, Any]]:
    database = Path(tempfile.mkdtemp()) / "bench.db"
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{database}",
        aws_endpoint_url=endpoint,
        env="bench",
        wait_time_seconds=1,
        log_level="WARNING",
    )
    await upgrade_async(settings.database_url)
    provision(settings)
    async with bootstrap(settings) as runtime:
        return [
            await run_send(
                runtime,
                fast_recipients,
                sends.Controls(batch_size=100, delay_ms=0, cooldown_seconds=0),
            ),
            await run_send(
                runtime,
                paced_recipients,
                sends.Controls(batch_size=10, delay_ms=100, cooldown_seconds=2),
            ),
        ]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--fast-recipients", type=int, default=300)
    parser.add_argument("--paced-recipients", type=int, default=50)
    args = parser.parse_args()
    configure_logging("console", os.environ.get("DRIPR_LOG_LEVEL", "WARNING"))
    with moto_server() as endpoint:
        results = asyncio.run(measure(endpoint, args.fast_recipients, args.paced_recipients))
    keys = list(results[0])
    print(f"{'':28}" + "".join(f"{name:>16}" for name in ("unthrottled", "rate-controlled")))
    for key in keys:
        print(f"{key:28}" + "".join(f"{r[key]!s:>16}" for r in results))
    print(json.dumps({"emulator": "moto server", "runs": results}))
    ok = all(r["respected"] for r in results)
    print("configured rate respected" if ok else "CONFIGURED RATE VIOLATED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
