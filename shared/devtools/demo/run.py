"""`dripr demo`: the whole pipeline on this machine, from DORMANT to emails sent.

Starts an embedded AWS emulator (moto in server mode) and uses SQLite unless told otherwise,
migrates, provisions, seeds demo campaigns, runs every service as its own process, approves
what waits for approval as an operator would, and prints each campaign's path.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from sqlalchemy import func, select

from infra.provision import provision
from shared.adapters.db.migrate import upgrade
from shared.adapters.db.models import Campaign, Delivery, OutboxEvent, Recipient
from shared.bootstrap import Runtime, bootstrap
from shared.config import Settings
from shared.devtools.demo.processes import ServiceProcess, service_environment, start_pipeline
from shared.devtools.demo.seed import DemoCampaign, seed
from shared.devtools.emulator import free_port, moto_sent_emails, moto_server
from shared.domain.statuses import CampaignStatus, DeliveryStatus
from shared.service_layer.operations import apply_batch
from shared.views.monitoring import Snapshot, snapshot

WORKDIR = Path(".dripr")


@dataclass(frozen=True)
class DemoOptions:
    campaigns: int = 12
    recipients: int = 3
    external: bool = False
    keep_running: bool = False
    timeout: float = 300.0


def run_demo(options: DemoOptions, base: Settings) -> int:
    console = Console()
    with ExitStack() as stack:
        settings = stack.enter_context(_environment(options, base, console))
        upgrade(settings.database_url)
        report = provision(settings)
        console.print(
            f"[bold]Provisioned[/] topic and {len(report.queue_urls)} queues "
            f"({len(report.changed)} changes) on {settings.aws_endpoint_url or 'AWS'}"
        )
        for old_log in (WORKDIR / "logs").glob("*.log"):
            old_log.unlink()
        token, port = secrets.token_urlsafe(18), _api_port(settings.api_port)
        extra = {"DRIPR_API_TOKEN": token, "DRIPR_API_PORT": str(port)}
        processes = start_pipeline(settings, WORKDIR / "logs", **extra)
        api = ServiceProcess(
            "control_api", service_environment(settings, **extra), WORKDIR / "logs"
        )
        api.start()
        processes["control_api"] = api
        console.print(
            f"[bold]Dashboard[/] http://127.0.0.1:{port}/ui (sign in with token [bold]{token}[/]; "
            "`--keep-running` keeps it up after the cycle)"
        )
        try:
            return asyncio.run(_drive(settings, options, processes, console))
        finally:
            for process in processes.values():
                process.stop()
            console.print(f"Service logs: {WORKDIR / 'logs'}/<service>.log")
    return 1


def _api_port(preferred: int) -> int:
    """The configured port (8000) when it is free, else any free one."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", preferred))
        except OSError:
            return free_port()
    return preferred


@contextlib.contextmanager
def _environment(options: DemoOptions, base: Settings, console: Console) -> Iterator[Settings]:
    overrides: dict[str, object] = {
        "scheduler_interval_seconds": 0.5,
        "wait_time_seconds": 1,
        "outbox_grace_seconds": 2,
        "shutdown_grace_seconds": 5,
        "send_batch_size": 2,
        "send_delay_ms": 50,
        "send_cooldown_seconds": 1,
    }
    if options.external:
        yield base.model_copy(update=overrides)
        return
    WORKDIR.mkdir(exist_ok=True)
    if "database_url" not in base.model_fields_set:
        database = WORKDIR / "demo.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)
        overrides["database_url"] = f"sqlite+aiosqlite:///{database}"
    with moto_server() as endpoint:
        console.print(f"[bold]Embedded AWS emulator[/] (moto server) at {endpoint}")
        overrides |= {"aws_endpoint_url": endpoint, "env": "demo"}
        yield base.model_copy(update=overrides)


async def _drive(
    settings: Settings,
    options: DemoOptions,
    processes: dict[str, ServiceProcess],
    console: Console,
) -> int:
    async with bootstrap(settings) as runtime:
        demo = await seed(runtime.sessions, options.campaigns, options.recipients)
        console.print(f"[bold]Seeded[/] {len(demo)} campaigns, due now\n")
        started = time.monotonic()
        approved = 0
        live = (
            Live(console=console, auto_refresh=False, transient=False)
            if console.is_terminal
            else None
        )
        with live or contextlib.nullcontext():
            while True:
                approved += await _approve_waiting(runtime, console)
                state = await snapshot(runtime.sessions, runtime.sqs, runtime.names)
                view = _progress(state, approved, time.monotonic() - started)
                if live is not None:
                    live.update(view, refresh=True)
                else:
                    _print_line(state, approved, time.monotonic() - started)
                dead = [p.name for p in processes.values() if not p.running]
                if dead:
                    console.print(f"[red]Service(s) exited:[/] {', '.join(dead)}; see their logs")
                    return 1
                if await _cycle_done(runtime, len(demo)) and not options.keep_running:
                    break
                if time.monotonic() - started > options.timeout and not options.keep_running:
                    console.print(f"[red]Timed out after {options.timeout:.0f}s[/]")
                    return 1
                await asyncio.sleep(1.0)
        console.print(await _summary(runtime, demo, settings))
        return 0


async def _approve_waiting(runtime: Runtime, console: Console) -> int:
    async with runtime.sessions() as session:
        waiting = list(
            await session.scalars(
                select(Campaign.id).where(
                    Campaign.campaign_status == CampaignStatus.WAITING_FOR_MANUAL_APPROVAL
                )
            )
        )
    if not waiting:
        return 0
    result = await apply_batch(runtime.unit_of_work(), "approve", waiting, actor="demo-operator")
    console.print(f"Operator approved campaign(s) {', '.join(map(str, result.updated))}")
    return len(result.updated)


async def _cycle_done(runtime: Runtime, count: int) -> bool:
    """Every campaign has finished its first cycle (back to DORMANT) or stopped in ERROR."""
    async with runtime.sessions() as session:
        finished = await session.scalar(
            select(func.count()).where(
                (Campaign.campaign_status == CampaignStatus.ERROR)
                | ((Campaign.campaign_status == CampaignStatus.DORMANT) & (Campaign.cycle >= 1))
            )
        )
    return finished == count


def _progress(state: Snapshot, approved: int, elapsed: float) -> Group:
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


def _print_line(state: Snapshot, approved: int, elapsed: float) -> None:
    statuses = ", ".join(f"{s.value}={n}" for s, n in state.campaigns.items() if n)
    busy = sum(q.visible + q.in_flight for q in state.queues)
    print(f"[{elapsed:5.1f}s] {statuses} | queued={busy} sent={state.sent} approved={approved}")
    sys.stdout.flush()


async def _summary(runtime: Runtime, demo: list[DemoCampaign], settings: Settings) -> Table:
    table = Table(title="Demo summary: each campaign's first cycle", title_justify="left")
    for column in ("id", "kind", "path", "recipients", "unsub", "sent", "final status"):
        table.add_column(column, overflow="fold")
    async with runtime.sessions() as session:
        for item in demo:
            campaign = await session.get(Campaign, item.id)
            assert campaign is not None
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
                ">".join(["D", *(_short(m) for m in moves)]),
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


def _short(status: str | None) -> str:
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
