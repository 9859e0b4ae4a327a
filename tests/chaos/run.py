"""The concurrent-campaigns run: every service as its own process, under faults, then the proof.

`make chaos` (or `python -m tests.chaos --help`) runs the full size; tests/e2e/test_chaos.py a
CI-sized one. The run starts the emulator, the database, a fault proxy and every service (two
replicas of the data fetcher and the sender), checks the queues are active and no breaker is
open, seeds campaigns and drives them through whole cycles while it kills processes, delivers
events twice, sends malformed and foreign messages, makes SNS refuse publishes, drops the
database connections and takes SES down long enough to open its breaker. Then it checks the
invariants and writes a report (text and JSON). Exit status 1 if any invariant fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
from sqlalchemy import func, select, update

from infra.provision import provision
from shared.adapters.db.migrate import upgrade
from shared.adapters.db.models import Campaign, CircuitBreakerRow, OutboxEvent
from shared.adapters.topology import TOPOLOGY
from shared.bootstrap import Runtime, bootstrap
from shared.config import Settings
from shared.devtools.demo.processes import PIPELINE, ServiceProcess, service_environment
from shared.devtools.demo.seed import seed
from shared.devtools.emulator import free_port, moto_sent_emails
from shared.domain.clock import utcnow_naive
from shared.domain.statuses import BreakerState, CampaignStatus, PipelineState
from shared.service_layer import pausing
from shared.views.monitoring import Snapshot, snapshot
from tests.chaos import recovery
from tests.chaos.environment import Ground, ground
from tests.chaos.faults import Chaos, FaultLog, summary
from tests.chaos.invariants import Check, check_all
from tests.chaos.report import ChaosReport, write_report

REPLICATED = ("data_fetcher", "email_sender")


@dataclass(frozen=True)
class ChaosOptions:
    campaigns: int = 40
    recipients: int = 12
    cycles: int = 2
    replicas: int = 2
    kills: int = 8
    kill_every: float = 5.0
    bad_messages: int = 12
    duplicate_rounds: int = 4
    duplicate_sample: int = 40
    publish_outage_seconds: float = 4.0
    endpoint_outage_seconds: float = 30.0
    database_outage_seconds: float = 60.0
    dependency_outage_seconds: float = 5.0
    on_breaker: Literal["stop", "resume"] = "resume"
    seed: int = 1
    timeout: float = 900.0
    monitor_every: float = 3.0
    visibility_timeout: int | None = None
    """None: every queue keeps its provisioned timeout (30 s), so recovery is measured as
    deployed."""
    recovery_bound_seconds: float = 45.0
    """A SIGKILLed service's interrupted work must be done within this of its restart: the
    visibility timeout (30 s) plus a handler's own time."""
    workdir: Path = Path(".dripr/chaos")
    database_url: str | None = None
    emulator: str | None = None


@dataclass
class Operator:
    """Talks to the control API as an operator would: approvals, breaker reset, manual resume."""

    http: httpx.AsyncClient
    log: FaultLog
    refusals: list[str] = field(default_factory=list)

    async def approve(self, ids: list[int]) -> None:
        response = await self.http.post(
            "/api/v1/campaigns/actions/approve", json={"campaign_ids": ids}
        )
        response.raise_for_status()

    async def resume(self) -> tuple[int, str]:
        response = await self.http.post("/api/v1/queue-management/resume")
        message = response.json().get("message", response.text)
        return response.status_code, str(message)

    async def reset(self, breaker: str) -> None:
        response = await self.http.post(f"/api/v1/queue-management/breakers/{breaker}/reset")
        response.raise_for_status()


def run_chaos(options: ChaosOptions, say: Callable[[str], None] = print) -> ChaosReport:
    options.workdir.mkdir(parents=True, exist_ok=True)
    with ground(options.workdir, options.database_url, options.emulator) as where:
        return asyncio.run(_run(options, where, say))


async def _run(options: ChaosOptions, where: Ground, say: Callable[[str], None]) -> ChaosReport:
    rng = random.Random(options.seed)
    token = secrets.token_urlsafe(24)
    driver = Settings(
        database_url=where.database_url,
        aws_endpoint_url=where.emulator,
        env=f"chaos{secrets.token_hex(3)}",
        wait_time_seconds=1,
        log_format="console",
        api_token=token,
        api_port=free_port(),
    )
    services = driver.model_copy(
        update={
            "database_url": where.services_database_url,
            "aws_endpoint_url": where.proxy,
            "scheduler_interval_seconds": 0.5,
            "outbox_grace_seconds": 2,
            "send_claim_timeout_seconds": 5,
            "send_batch_size": 3,
            "send_delay_ms": 20,
            "send_cooldown_seconds": 1,
            "shutdown_grace_seconds": 5,
        }
    )
    await asyncio.to_thread(upgrade, driver.database_url)
    await asyncio.to_thread(provision, driver)
    log = FaultLog(say=say)
    async with bootstrap(driver) as runtime:
        precheck = await _precheck(runtime, options.visibility_timeout)
        for check in precheck:
            say(f"precheck {'ok' if check.passed else 'FAILED'}: {check.name}: {check.detail}")
        if not all(c.passed for c in precheck):
            return _finish(options, where, log, precheck, None, {}, 0.0, "precheck failed")
        demo = await seed(runtime.sessions, options.campaigns, options.recipients)
        say(
            f"seeded {len(demo)} campaigns x {options.recipients} recipients, "
            f"{options.cycles} cycle(s); db {driver.database_url.split(':')[0]}, "
            f"emulator {where.emulator}, services via fault proxy {where.proxy}"
        )
        processes = _processes(options, services, token)
        for process in processes:
            process.start()
        chaos = Chaos(runtime, where, processes, log, rng)
        base_url = f"http://127.0.0.1:{driver.api_port}"
        async with httpx.AsyncClient(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}", "X-Operator": "chaos-operator"},
            timeout=30,
        ) as http:
            operator = Operator(http, log)
            try:
                outcome, elapsed = await _drive(runtime, options, chaos, operator, processes, say)
                exits = await _stop_all(processes)
            finally:
                for process in processes:
                    await asyncio.to_thread(process.kill)
        sent_mail = await asyncio.to_thread(moto_sent_emails, where.emulator)
        checks, evidence = await check_all(
            runtime, demo, options.cycles, chaos.markers, sent_mail, liveness=outcome != "breaker"
        )
        checks = [*precheck, *outcome_checks(outcome, operator, log), *checks]
        checks.append(
            Check(
                "services stop cleanly on SIGTERM",
                all(code == 0 for code in exits.values()),
                ", ".join(f"{name}={code}" for name, code in exits.items()),
            )
        )
        recoveries = await recovery.measure(runtime, chaos.windows)
        checks += _recovery_checks(options, log, chaos, recoveries)
        return _finish(
            options,
            where,
            log,
            checks,
            evidence,
            exits,
            elapsed,
            outcome,
            recovery.table(recoveries),
        )


def _recovery_checks(
    options: ChaosOptions, log: FaultLog, chaos: Chaos, recoveries: list[recovery.Recovery]
) -> list[Check]:
    crashes = [f.detail for f in log.faults if f.kind == "crash"]
    kills = [r for r in recoveries if r.kind == "sigkill"]
    slowest = max(kills, key=lambda r: r.seconds_after_end, default=None)
    checks = [
        Check(
            "no service exited by itself (no crash loop through the outages)",
            not crashes,
            "; ".join(crashes) or "every exit was a SIGKILL of the run's",
        ),
        Check(
            f"a SIGKILLed service's interrupted work is done within "
            f"{options.recovery_bound_seconds:.0f}s of its restart",
            None
            if slowest is None
            else slowest.seconds_after_end <= options.recovery_bound_seconds,
            "no kill landed"
            if slowest is None
            else f"slowest: {slowest.service} {slowest.seconds_after_end}s after the restart "
            f"({len(kills)} kills)",
        ),
    ]
    if chaos.breakers_after:
        opened = {k: v for k, v in chaos.breakers_after.items() if v}
        checks.append(
            Check(
                "the database and endpoint outages open no breaker",
                not opened,
                "; ".join(f"{k}: {', '.join(v)}" for k, v in opened.items())
                or ", ".join(f"{k}: none" for k in chaos.breakers_after),
            )
        )
    return checks


def _processes(options: ChaosOptions, services: Settings, token: str) -> list[ServiceProcess]:
    env = service_environment(
        services,
        DRIPR_API_TOKEN=token,
        DRIPR_API_PORT=str(services.api_port),
        # No SES Send events flow in the chaos run (tests/e2e/test_pipeline.py and
        # test_crash_cut_claims.py run with them): a claim a kill cuts is failed, at most once,
        # which is what the invariants account for.
        DRIPR_SEND_CLAIM_RESEND="false",
    )
    logs = options.workdir / "logs"
    for old in logs.glob("*.log"):
        old.unlink()
    processes = []
    for name in (*PIPELINE, "control_api"):
        replicas = options.replicas if name in REPLICATED else 1
        for replica in range(1, replicas + 1):
            processes.append(
                ServiceProcess(name, env, logs, replica if name in REPLICATED else None)
            )
    return processes


async def _precheck(runtime: Runtime, visibility_timeout: int | None) -> list[Check]:
    """The queues answer, nothing is paused, no breaker is open: else chaos proves nothing."""
    problems = []
    timeouts = set()
    for spec in TOPOLOGY.queues:
        try:
            url = await runtime.queue_url(spec)
            if visibility_timeout is not None:
                await runtime.sqs.set_queue_attributes(
                    QueueUrl=url, Attributes={"VisibilityTimeout": str(visibility_timeout)}
                )
            attributes = await runtime.sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["VisibilityTimeout"]
            )
            timeouts.add(attributes["Attributes"]["VisibilityTimeout"])
        except Exception as exc:
            problems.append(f"{spec.name}: {exc}")
    async with runtime.sessions() as session:
        await pausing.ensure_rows(session)
        await session.commit()
        state = await pausing.pipeline_state(session)
        open_breakers = list(
            await session.scalars(
                select(CircuitBreakerRow.name).where(CircuitBreakerRow.state != BreakerState.CLOSED)
            )
        )
    running = state is None or state.state is PipelineState.RUNNING
    return [
        Check(
            "queues active",
            not problems,
            f"{len(TOPOLOGY.queues)} queues and their DLQs answer; visibility timeout "
            f"{'/'.join(sorted(timeouts))}s"
            if not problems
            else "; ".join(problems),
        ),
        Check(
            "no breaker open, pipeline running",
            running and not open_breakers,
            "all breakers closed" if not open_breakers else f"open: {open_breakers}",
        ),
    ]


async def _drive(
    runtime: Runtime,
    options: ChaosOptions,
    chaos: Chaos,
    operator: Operator,
    processes: list[ServiceProcess],
    say: Callable[[str], None],
) -> tuple[str, float]:
    """Run until every campaign finished its cycles, a breaker ends the run, or time is up."""
    started = time.monotonic()
    latest: dict[str, Snapshot] = {}
    schedule = asyncio.create_task(_schedule(runtime, options, chaos, operator, latest))
    last_report = 0.0
    outcome = "timeout"
    while time.monotonic() - started < options.timeout:
        try:
            latest["now"] = await snapshot(runtime.sessions, runtime.sqs, runtime.names)
            await _operator_duties(runtime, operator, options.cycles)
            if time.monotonic() - last_report >= options.monitor_every:
                last_report = time.monotonic()
                say(await _status_line(runtime, latest["now"], started, chaos))
        except Exception as exc:  # a dropped connection must not end the run; say so, go on
            say(f"  (monitor: {type(exc).__name__}: {exc})")
        for process in processes:
            if not process.running and process.label not in chaos.down:
                chaos.log.note("crash", f"{process.label} exited by itself; restarting it")
                process.start()
        if schedule.done():
            if schedule.exception() is not None:
                raise schedule.exception()  # type: ignore[misc]
            if schedule.result() == "breaker":
                outcome = "breaker"
                break
            if await _all_finished(runtime, options.cycles):
                outcome = "finished"
                break
        await asyncio.sleep(0.5)
    if not schedule.done():
        schedule.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await schedule
    if outcome == "finished":
        copies = await chaos.deliver_again(sample=None)
        chaos.log.note("duplicates", f"after the run: every event delivered again ({copies})")
        await _quiet(runtime, within=60)
    elapsed = time.monotonic() - started
    final = await snapshot(runtime.sessions, runtime.sqs, runtime.names)
    say(await _status_line(runtime, final, started, chaos))
    say(f"run ended: {outcome} after {elapsed:.0f}s")
    return outcome, elapsed


async def _schedule(
    runtime: Runtime,
    options: ChaosOptions,
    chaos: Chaos,
    operator: Operator,
    latest: dict[str, Snapshot],
) -> str:
    """The faults, each timed to land while there is work for it to disturb."""

    def count(status: CampaignStatus) -> int:
        return latest["now"].campaigns.get(status, 0) if "now" in latest else 0

    await _until(lambda: "now" in latest and count(CampaignStatus.DORMANT) < options.campaigns, 60)
    await chaos.send_bad_messages(options.bad_messages // 2)
    background = [
        asyncio.create_task(chaos.keep_killing(options.kills, options.kill_every)),
        asyncio.create_task(
            chaos.keep_duplicating(options.duplicate_rounds, 4.0, options.duplicate_sample)
        ),
    ]
    await asyncio.sleep(1.0)
    await chaos.publish_outage(options.publish_outage_seconds)
    await chaos.drop_database_connections()
    await chaos.send_bad_messages(options.bad_messages - options.bad_messages // 2)
    # SES goes down as soon as a campaign is past its data stage, before most sends: waiting
    # for the first email sent could find a small run's sends all done already.
    early = (CampaignStatus.DORMANT, CampaignStatus.WAITING_FOR_DATA)
    await _until(
        lambda: "now" in latest and sum(count(s) for s in early) < options.campaigns, within=300
    )
    result = await _dependency_outage(runtime, options, chaos, operator)
    if result == "breaker":
        for task in background:
            task.cancel()
        return result
    # The sends the breaker held are under way again: both outages land on live work.
    if options.endpoint_outage_seconds:
        await chaos.endpoint_outage(options.endpoint_outage_seconds)
        await _no_breaker_after(runtime, chaos, "endpoint_outage")
    if options.database_outage_seconds:
        await chaos.database_outage(options.database_outage_seconds)
        await _no_breaker_after(runtime, chaos, "database_outage")
    await asyncio.gather(*background)
    await chaos.drop_database_connections()
    return "done"


async def _no_breaker_after(runtime: Runtime, chaos: Chaos, fault: str) -> None:
    """Ten seconds after an outage of the database or the endpoint: is any breaker open?"""
    await asyncio.sleep(10)
    async with runtime.sessions() as session:
        opened = list(
            await session.scalars(
                select(CircuitBreakerRow.name).where(CircuitBreakerRow.state != BreakerState.CLOSED)
            )
        )
    chaos.breakers_after[fault] = opened
    chaos.log.note(fault, f"breakers open 10 s after it: {', '.join(opened) or 'none'}")


async def _dependency_outage(
    runtime: Runtime, options: ChaosOptions, chaos: Chaos, operator: Operator
) -> str:
    """SES down until its breaker opens; then stop the run, or resume as an operator would."""
    await chaos.aws_fault("ses_send", True)
    chaos.log.note("dependency_outage", "SES answers 503 to every SendEmail")
    row = await _wait_for_breaker(runtime, "ses", within=120)
    if row is None:
        await chaos.aws_fault("ses_send", False)
        chaos.log.note("dependency_outage", "over; the ses breaker never opened")
        return "no-breaker"
    chaos.log.note(
        "breaker",
        f"ses opened after {row.failures} failures ({row.last_error}); pipeline paused",
    )
    paused = utcnow_naive()
    if options.on_breaker == "stop":
        await chaos.aws_fault("ses_send", False)
        return "breaker"
    await asyncio.sleep(options.dependency_outage_seconds)
    await chaos.aws_fault("ses_send", False)
    chaos.log.note("dependency_outage", "over: SES answers again")
    status, message = await operator.resume()
    operator.refusals.append(f"{status} {message}")
    chaos.log.note("operator", f"resume while the breaker is open: {status} {message}")
    await operator.reset("ses")
    status, message = await operator.resume()
    chaos.windows.append(recovery.Window("paused", None, paused, utcnow_naive()))
    chaos.log.note("operator", f"reset breaker ses, then resume: {status}")
    if status != 200:
        operator.refusals.append(f"after reset: {status} {message}")
    return "resumed"


def outcome_checks(outcome: str, operator: Operator, log: FaultLog) -> list[Check]:
    breaker_opened = any(f.kind == "breaker" for f in log.faults)
    checks = [
        Check(
            "the dependency outage opened its breaker",
            breaker_opened,
            "ses breaker opened and paused the pipeline"
            if breaker_opened
            else "the ses breaker never opened",
        )
    ]
    if outcome == "breaker":
        checks.append(Check("run ended gracefully on the open breaker", True, "as designed"))
        return checks
    refused = bool(operator.refusals) and operator.refusals[0] == (
        "409 Cannot resume: circuit breaker ses is open"
    )
    checks.append(
        Check(
            "manual resume refused while the breaker is open, accepted after reset",
            refused and len(operator.refusals) == 1,
            " | ".join(operator.refusals) or "no resume attempted",
        )
    )
    checks.append(
        Check(
            "the run finished within its time limit",
            outcome == "finished",
            outcome,
        )
    )
    return checks


async def _operator_duties(runtime: Runtime, operator: Operator, cycles: int) -> None:
    """Approve what waits for approval; let the next cycle's date arrive for finished ones."""
    async with runtime.sessions() as session:
        waiting = list(
            await session.scalars(
                select(Campaign.id).where(
                    Campaign.campaign_status == CampaignStatus.WAITING_FOR_MANUAL_APPROVAL,
                    Campaign.paused.is_(False),
                )
            )
        )
        now = utcnow_naive()
        await session.execute(
            update(Campaign)
            .where(
                Campaign.campaign_status == CampaignStatus.DORMANT,
                Campaign.cycle >= 1,
                Campaign.cycle < cycles,
                Campaign.next_send_datetime > now,
            )
            .values(next_send_datetime=now)
        )
        await session.commit()
    if waiting:
        await operator.approve(waiting)


async def _all_finished(runtime: Runtime, cycles: int) -> bool:
    async with runtime.sessions() as session:
        total = await session.scalar(select(func.count()).select_from(Campaign))
        done = await session.scalar(
            select(func.count()).where(
                (Campaign.campaign_status == CampaignStatus.ERROR)
                | (
                    (Campaign.campaign_status == CampaignStatus.DORMANT)
                    & (Campaign.cycle == cycles)
                )
            )
        )
    return bool(total) and done == total


async def _quiet(runtime: Runtime, within: float) -> None:
    """Wait until no queue holds work twice in a row (the duplicates were all handled)."""
    deadline = time.monotonic() + within
    calm = 0
    while time.monotonic() < deadline and calm < 2:
        state = await snapshot(runtime.sessions, runtime.sqs, runtime.names)
        busy = sum(q.visible + q.in_flight + q.delayed for q in state.queues)
        calm = calm + 1 if busy == 0 else 0
        await asyncio.sleep(1.5)


async def _wait_for_breaker(runtime: Runtime, name: str, within: float) -> CircuitBreakerRow | None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            async with runtime.sessions() as session:
                row = await session.get(CircuitBreakerRow, name)
                if row is not None and row.state is BreakerState.OPEN:
                    return row
        await asyncio.sleep(0.3)
    return None


async def _until(check: Callable[[], bool], within: float) -> None:
    deadline = time.monotonic() + within
    while not check() and time.monotonic() < deadline:  # noqa: ASYNC110 - a snapshot, not an event
        await asyncio.sleep(0.2)


async def _status_line(runtime: Runtime, state: Snapshot, started: float, chaos: Chaos) -> str:
    statuses = " ".join(f"{s.value}={n}" for s, n in sorted(state.campaigns.items()) if n)
    queues = " ".join(
        f"{q.name}={q.visible}/{q.in_flight}" for q in state.queues if q.visible or q.in_flight
    )
    dead = sum(q.dead_letters for q in state.queues)
    async with runtime.sessions() as session:
        breakers = {r.name: r.state.value for r in await session.scalars(select(CircuitBreakerRow))}
        unpublished = await session.scalar(
            select(func.count()).where(OutboxEvent.published_at.is_(None))
        )
    opened = [n for n, s in breakers.items() if s != "CLOSED"]
    return (
        f"[{time.monotonic() - started:6.1f}s] {statuses} | queues {queues or 'empty'} "
        f"| DLQ {dead} | outbox unpublished {unpublished} | breakers "
        f"{'open: ' + ','.join(opened) if opened else 'closed'} | sent {state.sent} "
        f"| faults {len(chaos.log.faults)}"
    )


async def _stop_all(processes: list[ServiceProcess]) -> dict[str, int | None]:
    async def stop(process: ServiceProcess) -> tuple[str, int | None]:
        return process.label, await asyncio.to_thread(process.stop, 30.0)

    results = await asyncio.gather(*(stop(p) for p in processes))
    return dict(results)


def _finish(
    options: ChaosOptions,
    where: Ground,
    log: FaultLog,
    checks: list[Check],
    evidence: Any,
    exits: dict[str, int | None],
    elapsed: float,
    outcome: str,
    recovered: list[dict[str, object]] | None = None,
) -> ChaosReport:
    report = ChaosReport(
        options={k: str(v) for k, v in asdict(options).items()},
        database=where.database_url.split("://")[0],
        emulator=where.emulator,
        outcome=outcome,
        elapsed_seconds=round(elapsed, 1),
        faults=log.faults,
        fault_counts=summary(log.faults),
        checks=checks,
        evidence=evidence,
        exits=exits,
        recovery=recovered or [],
    )
    write_report(report, options.workdir)
    return report
