"""What the demo shows: live progress while it runs, and each campaign's path at the end."""

from __future__ import annotations

import contextlib
import sys

from rich.console import Group
from rich.table import Table
from sqlalchemy import func, select

from shared.adapters.db.models import Campaign, Delivery, OutboxEvent, Recipient
from shared.bootstrap import Runtime
from shared.config import Settings
from shared.devtools.demo.seed import DemoCampaign
from shared.devtools.emulator import moto_sent_emails
from shared.domain.statuses import CampaignStatus, DeliveryStatus
from shared.views import suppressions as suppression_views
from shared.views.monitoring import Snapshot


def progress(state: Snapshot, approved: int, elapsed: float) -> Group:
    statuses = Table(title=f"Campaigns ({elapsed:.0f}s)", title_justify="left")
    statuses.add_column("status")
    statuses.add_column("count", justify="right")
    for status in CampaignStatus:
        if state.campaigns.get(status):
            statuses.add_row(status.value, str(state.campaigns[status]))
    queues = Table(title="Queues", title_justify="left")
    for column in ("queue", "visible", "in flight", "delayed", "DLQ"):
        queues.add_column(column, justify="left" if column == "queue" else "right")
    for q in state.queues:
        queues.add_row(
            q.name, str(q.visible), str(q.in_flight), str(q.delayed), str(q.dead_letters)
        )
    sent = f"Emails sent: {state.sent}   approved by the operator: {approved}"
    return Group(statuses, queues, sent)


def print_line(state: Snapshot, approved: int, elapsed: float) -> None:
    statuses = ", ".join(f"{s.value}={n}" for s, n in state.campaigns.items() if n)
    busy = sum(q.visible + q.in_flight for q in state.queues)
    print(f"[{elapsed:5.1f}s] {statuses} | queued={busy} sent={state.sent} approved={approved}")
    sys.stdout.flush()


async def summary(runtime: Runtime, demo: list[DemoCampaign], settings: Settings) -> Table:
    table = Table(title="Demo summary: each campaign's first cycle", title_justify="left")
    for column in ("id", "kind", "path", "recipients", "unsub", "sent", "final status"):
        table.add_column(column, overflow="fold")
    async with runtime.sessions() as session:
        for item in demo:
            campaign = await session.get(Campaign, item.id)
            if campaign is None:
                raise RuntimeError(f"demo campaign {item.id} is gone")
            moves = await session.scalars(
                select(OutboxEvent.to_status)
                .where(OutboxEvent.campaign_id == item.id, OutboxEvent.to_status.is_not(None))
                .order_by(OutboxEvent.id)
            )
            recipients = (
                await session.execute(
                    select(func.count(), func.count(Recipient.unsubscribed_at)).where(
                        Recipient.campaign_id == item.id
                    )
                )
            ).one()
            sent = await session.scalar(
                select(func.count()).where(
                    Delivery.campaign_id == item.id, Delivery.status == DeliveryStatus.SENT
                )
            )
            final = campaign.campaign_status.value
            if campaign.error_reason:
                final += f": {campaign.error_reason}"
            table.add_row(
                str(item.id),
                item.kind,
                ">".join(["D", *(short(m) for m in moves)]),
                str(recipients[0]),
                str(recipients[1]),
                str(sent),
                final,
            )
    legend = (
        "D=DORMANT DATA=WAITING_FOR_DATA HOME=WAITING_FOR_HOME_ANALYSIS MAIL=READY_TO_CREATE_EMAIL"
    )
    legend += " OK?=WAITING_FOR_MANUAL_APPROVAL SEND=READY_TO_SEND_EMAIL ERR=ERROR"
    if settings.aws_endpoint_url:
        with contextlib.suppress(Exception):
            accepted = len(moto_sent_emails(settings.aws_endpoint_url))
            legend = f"SES (emulator) accepted {accepted} emails. {legend}"
    table.caption = legend
    table.caption_justify = "left"
    return table


def short(status: str | None) -> str:
    return {
        "DORMANT": "D",
        "WAITING_FOR_DATA": "DATA",
        "WAITING_FOR_HOME_ANALYSIS": "HOME",
        "READY_TO_CREATE_EMAIL": "MAIL",
        "WAITING_FOR_MANUAL_APPROVAL": "OK?",
        "READY_TO_SEND_EMAIL": "SEND",
        "SENDING": "SENDING",
        "ERROR": "ERR",
    }.get(status or "", status or "?")


async def suppressions(runtime: Runtime) -> Table:
    """The addresses SES's feedback suppressed: the next cycle skips them, with the reason."""
    table = Table(title="Suppressed by SES feedback (skipped from now on)", title_justify="left")
    for column in ("address", "reason", "detail", "campaign"):
        table.add_column(column, overflow="fold")
    async with runtime.sessions() as session:
        page = await suppression_views.suppressions(session)
    for row in page.items:
        table.add_row(row.email, row.reason.value, row.detail or "", str(row.campaign_id or ""))
    if not page.items:
        table.caption = "none: no bounce or complaint came back"
    return table
