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
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.live import Live
from sqlalchemy import func, select

from infra.provision import provision
from shared.adapters.db.migrate import upgrade
from shared.adapters.db.models import Campaign
from shared.adapters.topology import FEEDBACK_QUEUE, TOPOLOGY
from shared.bootstrap import Runtime, bootstrap
from shared.config import Settings
from shared.devtools.demo import report
from shared.devtools.demo.processes import ServiceProcess, service_environment, start_pipeline
from shared.devtools.demo.seed import seed
from shared.devtools.emulator import free_port, moto_server
from shared.devtools.ses_feedback import FeedbackSimulator
from shared.domain.statuses import CampaignStatus
from shared.service_layer.operations import apply_batch
from shared.views.monitoring import snapshot

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
        provisioned = provision(settings)
        console.print(
            f"[bold]Provisioned[/] topic and {len(provisioned.queue_urls)} queues "
            f"({len(provisioned.changed)} changes) on {settings.aws_endpoint_url or 'AWS'}"
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
        console.print(
            "From another terminal (the `dripr` commands, the AWS CLI, docs/operations.md):\n"
            f"  export DRIPR_API_URL=http://127.0.0.1:{port} DRIPR_API_TOKEN={token}\n"
            f"  export DRIPR_ENV={settings.env} AWS_ENDPOINT_URL={settings.aws_endpoint_url or ''}"
            f" DATABASE_URL={settings.database_url}",
            highlight=False,
            soft_wrap=True,
        )
        try:
            return asyncio.run(
                _drive(settings, options, processes, console, provisioned.feedback_topic_arn)
            )
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
    feedback_topic_arn: str,
) -> int:
    async with bootstrap(settings) as runtime, _ses_feedback(runtime, feedback_topic_arn):
        demo = await seed(
            runtime.sessions, options.campaigns, options.recipients, feedback=settings.on_emulator
        )
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
                view = report.progress(state, approved, time.monotonic() - started)
                if live is not None:
                    live.update(view, refresh=True)
                else:
                    report.print_line(state, approved, time.monotonic() - started)
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
        await _feedback_settled(runtime)
        console.print(await report.summary(runtime, demo, settings))
        console.print(await report.suppressions(runtime))
        return 0


@contextlib.asynccontextmanager
async def _ses_feedback(runtime: Runtime, topic_arn: str) -> AsyncIterator[None]:
    """On an emulator, SES's event publishing played by the stand-in (it has none)."""
    if not runtime.settings.on_emulator:
        yield
        return
    simulator = FeedbackSimulator(runtime.settings.aws_endpoint_url or "", runtime.sns, topic_arn)
    stop = asyncio.Event()
    task = asyncio.create_task(simulator.run(stop))
    try:
        yield
    finally:
        stop.set()
        await task


async def _feedback_settled(runtime: Runtime, within: float = 20.0) -> None:
    """The cycle is over when the last email is recorded; SES's word on it comes just after."""
    spec = TOPOLOGY.queue(FEEDBACK_QUEUE)
    url = await runtime.queue_url(spec)
    deadline = time.monotonic() + within
    await asyncio.sleep(2 * 0.5)  # the simulator's next round publishes the last emails' fate
    while time.monotonic() < deadline:
        attributes = (
            await runtime.sqs.get_queue_attributes(
                QueueUrl=url,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                ],
            )
        )["Attributes"]
        if set(attributes.values()) == {"0"}:
            return
        await asyncio.sleep(0.5)


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
