"""Benchmark: N campaigns end to end through every service, against the ceiling and the old way.

For each emulator (moto server, and LocalStack on this host), in one run:

1. dripr: every service as its own process on MySQL, N campaigns (one recipient each) from
   DORMANT through sending and back. Reports campaigns/s, messages/s (SQS deliveries handled),
   the stage hand-off latency (the outbox row written in the transaction that commits a
   sub-status → the next service starting on it, from the services' JSON logs) p50/p95, SQL
   statements per transition (the MySQL server's own counters, less this script's), and each
   service's peak RSS.
2. The ceiling: a raw aiobotocore loop that publishes the same STATUS_CHANGEs to the topic and
   receives and deletes every copy from every queue, same message count.
3. The old way: a poller every 5 s over a jobs table (the FETCHING-as-a-lock design), measured
   hand-off latency from a row becoming ready to the poller taking it.
4. What a user would otherwise pick: Celery 5 chains of three hops on its SQS transport at the
   same load, each hop's hand-off (one task's end to the next one's start).

`make bench` runs it; `--sizes 10000` is the memory check: each service's peak RSS after the
first 1000 campaigns against after all 10000. Campaigns are released in waves of 250. Figures go
to stdout and .dripr/bench/pipeline.json. A script, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from aiobotocore.session import AioSession
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.provision import provision
from shared.adapters.aws import async_client
from shared.adapters.db.engine import create_engine
from shared.adapters.db.migrate import upgrade
from shared.adapters.db.models import Campaign, OutboxEvent
from shared.adapters.publisher import string_attributes
from shared.adapters.topology import TOPOLOGY
from shared.bootstrap import bootstrap
from shared.config import Settings
from shared.devtools.demo.processes import PIPELINE, ServiceProcess, service_environment
from shared.devtools.demo.seed import seed
from shared.devtools.emulator import moto_server, wait_for_http
from shared.domain.clock import utcnow_naive
from shared.domain.statuses import CampaignStatus
from shared.logging import configure_logging
from tests.benchmarks import celery_side
from tests.standins.otlp import otlp_receiver
from tests.support import mysql_reachable, scratch_mysql_database

WORKDIR = Path(".dripr/bench")
WAVE = 250
"""Campaigns are released in waves of this size: moto scans a whole queue on every receive, so
a 1000-deep queue measures moto, not dripr."""
MEMORY_BASELINE = 1000
"""Each service's peak RSS after this many campaigns is compared with after all of them."""
TRICKLE_CAMPAIGNS = 60
TRICKLE_SECONDS = 30.0
"""The hand-off latency is taken at the polling baseline's load: 60 arrivals over 30 s."""
POLL_INTERVAL = 5.0


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


# -- 1. dripr ------------------------------------------------------------------------------
async def run_pipeline(
    endpoint: str, database_url: str, campaigns: int, logs: Path, otlp: str | None = None
) -> dict[str, Any]:
    """`otlp`: the services trace and export to this OTLP/HTTP endpoint (None: tracing off)."""
    settings = Settings(
        database_url=database_url,
        aws_endpoint_url=endpoint,
        env=f"bench{random.randrange(16**4):04x}",
        log_format="json",
        wait_time_seconds=10,
        scheduler_interval_seconds=0.5,
        outbox_grace_seconds=10,
        send_batch_size=50,
        send_delay_ms=0,
        send_cooldown_seconds=0,
        shutdown_grace_seconds=5,
    )
    await asyncio.to_thread(upgrade, database_url)
    await asyncio.to_thread(provision, settings)
    _clear(logs)
    async with bootstrap(settings) as runtime:
        later = utcnow_naive() + timedelta(days=1)
        burst = await seed(runtime.sessions, campaigns, 1, kinds=lambda i, n: "standard", due=later)
        trickle = await seed(
            runtime.sessions, TRICKLE_CAMPAIGNS, 1, kinds=lambda i, n: "standard", due=later
        )
        last_of_burst = max(c.id for c in burst)
        user = await _services_user(runtime.engine)
        traced = {"OTEL_EXPORTER_OTLP_ENDPOINT": otlp} if otlp else {}
        env = service_environment(
            settings.model_copy(
                update={
                    "database_url": make_url(database_url)
                    .set(username=user)
                    .render_as_string(False)
                }
            )
            if user
            else settings,
            **traced,
        )
        processes = [ServiceProcess(name, env, logs) for name in PIPELINE]
        for process in processes:
            process.start()
        await _until_consuming(logs, len(PIPELINE) - 1)
        engine = runtime.engine
        async with engine.connect() as raw_monitor:
            monitor = await raw_monitor.execution_options(isolation_level="AUTOCOMMIT")
            before = await _statement_counts(monitor, user)
            cpu_before = await asyncio.to_thread(_cpu_by_process, processes)
            calls_before = await asyncio.to_thread(_aws_calls, processes)
            started = time.monotonic()
            peak_rss: dict[str, int] = {}
            first_wave: dict[str, int] = {}
            ids = sorted(c.id for c in burst)
            for start in range(0, len(ids), WAVE):  # waves keep the emulator's queues shallow
                wave = ids[start : start + WAVE]
                await monitor.execute(
                    update(Campaign)
                    .where(Campaign.id.in_(wave))
                    .values(next_send_datetime=utcnow_naive())
                )
                await _until_done(
                    monitor, processes, peak_rss, start + len(wave), Campaign.id <= last_of_burst
                )
                if not first_wave and start + len(wave) >= min(MEMORY_BASELINE, campaigns):
                    first_wave = {p.name: _peak(p) for p in processes}
            elapsed = time.monotonic() - started
            cpu = _cpu_used(cpu_before, await asyncio.to_thread(_cpu_by_process, processes))
            calls_after = await asyncio.to_thread(_aws_calls, processes)
            after = await _statement_counts(monitor, user)
            if user is None:  # the server's global counters hold this script's statements too
                after["statements"] -= await _own_statements(monitor)
            # The trickle: campaigns due at random moments over TRICKLE_SECONDS, the polling
            # baseline's load, so the two hand-off figures are taken under the same load.
            rng = random.Random(11)
            now = utcnow_naive()
            for campaign in trickle:
                due = now + timedelta(seconds=rng.uniform(0, TRICKLE_SECONDS))
                await monitor.execute(
                    update(Campaign)
                    .where(Campaign.id == campaign.id)
                    .values(next_send_datetime=due)
                )
            await _until_done(
                monitor, processes, peak_rss, len(trickle), Campaign.id > last_of_burst
            )
        for process in processes:
            peak_rss[process.name] = max(peak_rss[process.name], _peak(process))
        for process in processes:
            process.stop()
        if user is not None:
            async with runtime.engine.connect() as connection:
                await connection.execute(text(f"DROP USER '{user}'@'%'"))
        async with runtime.sessions() as session:
            events = list(
                await session.execute(
                    select(
                        OutboxEvent.event_id,
                        OutboxEvent.created_at,
                        OutboxEvent.to_status,
                        OutboxEvent.event_type,
                        OutboxEvent.queue,
                        OutboxEvent.published_at,
                        OutboxEvent.campaign_id,
                    )
                )
            )
    in_burst = [e for e in events if (e.campaign_id or 0) <= last_of_burst]
    transitions = [e for e in in_burst if e.event_type == "STATUS_CHANGE"]
    starts = await asyncio.to_thread(_handler_starts, logs)

    def handoffs(of: list[Any]) -> list[float]:
        created = {e.event_id: e.created_at for e in of}
        return [
            (start - created[event_id]).total_seconds()
            for (event_id, _consumer), start in starts.items()
            if event_id in created
        ]

    burst_handoffs = handoffs(in_burst)
    trickle_handoffs = handoffs([e for e in events if (e.campaign_id or 0) > last_of_burst])
    publish_lags = [
        (e.published_at - e.created_at).total_seconds() for e in in_burst if e.published_at
    ]
    messages = len(burst_handoffs)
    statements = {k: after[k] - before[k] for k in after}
    statements["counted_by"] = "user" if user else "server"  # type: ignore[assignment]
    return {
        "campaigns": campaigns,
        "seconds": round(elapsed, 2),
        "campaigns_per_s": round(campaigns / elapsed, 2),
        "messages": messages,
        "messages_per_s": round(messages / elapsed, 1),
        "transitions": len(transitions),
        "to_statuses": [e.to_status for e in transitions],
        "direct": sum(1 for e in in_burst if e.queue is not None),
        "burst_handoff_p50_ms": round(percentile(burst_handoffs, 0.5) * 1000, 1),
        "burst_handoff_p95_ms": round(percentile(burst_handoffs, 0.95) * 1000, 1),
        "trickle_campaigns": len(trickle),
        "handoffs": len(trickle_handoffs),
        "handoff_p50_ms": round(percentile(trickle_handoffs, 0.5) * 1000, 1),
        "handoff_p95_ms": round(percentile(trickle_handoffs, 0.95) * 1000, 1),
        "commit_to_published_p50_ms": round(percentile(publish_lags, 0.5) * 1000, 1),
        "commit_to_published_p95_ms": round(percentile(publish_lags, 0.95) * 1000, 1),
        "aws_calls": {k: int(v - calls_before.get(k, 0)) for k, v in sorted(calls_after.items())},
        "aws_calls_per_message": round(
            (sum(calls_after.values()) - sum(calls_before.values())) / messages, 3
        ),
        "sql_statements": statements,
        "sql_per_transition": round(statements["statements"] / len(transitions), 1),
        "peak_rss_mb": {k: round(v / 1024, 1) for k, v in peak_rss.items()},
        "peak_rss_mb_after_1000": {k: round(v / 1024, 1) for k, v in first_wave.items()},
        "cpu_seconds": cpu,
        "services_cpu_ms_per_message": round(
            sum(v for k, v in cpu.items() if k in PIPELINE) * 1000 / messages, 2
        ),
        "traced": otlp is not None,
        "cpu_share_of_machine": round(sum(cpu.values()) / (elapsed * (os.cpu_count() or 1)), 2),
    }


async def _until_done(
    monitor: AsyncConnection,
    processes: list[ServiceProcess],
    peak_rss: dict[str, int],
    expected: int,
    which: Any,
) -> None:
    """Until `expected` campaigns matching `which` finished their cycle; sample RSS meanwhile."""
    while True:
        done = await monitor.scalar(
            select(func.count()).where(
                which, Campaign.campaign_status == CampaignStatus.DORMANT, Campaign.cycle == 1
            )
        )
        for process in processes:
            peak_rss[process.name] = max(peak_rss.get(process.name, 0), _rss(process))
        if done == expected:
            return
        if any(not p.running for p in processes):
            raise RuntimeError("a service exited; see its log")
        await asyncio.sleep(0.5)


def _clear(logs: Path) -> None:
    logs.mkdir(parents=True, exist_ok=True)
    for old in logs.glob("*.log"):
        old.unlink()


def _consuming(logs: Path) -> int:
    return sum(1 for path in logs.glob("*.log") if "consumer.started" in path.read_text())


async def _until_consuming(logs: Path, consumers: int, within: float = 60) -> None:
    """Every consuming service has logged consumer.started (the scheduler consumes nothing)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await asyncio.to_thread(_consuming, logs) >= consumers:
            return
        await asyncio.sleep(0.2)
    raise RuntimeError("the services did not start consuming")


COUNTERS = ("Questions", "Com_select", "Com_insert", "Com_update", "Com_delete", "Com_commit")


async def _services_user(engine: Any) -> str | None:
    """On MariaDB, a database user of the services' own, so its statistics count only them.

    The server's global counters also count whatever else the server is doing; MariaDB's
    user statistics (userstat) count per user. Elsewhere None: the global counters are used.
    """
    async with engine.connect() as connection:
        if "mariadb" not in str(await connection.scalar(text("SELECT VERSION()"))).lower():
            return None
        database = await connection.scalar(text("SELECT DATABASE()"))
        user = f"bench_{random.randrange(16**6):06x}"
        await connection.execute(text("SET GLOBAL userstat = 1"))
        await connection.execute(text(f"CREATE USER '{user}'@'%'"))
        await connection.execute(text(f"GRANT ALL PRIVILEGES ON `{database}`.* TO '{user}'@'%'"))
        await connection.commit()
    return user


async def _statement_counts(connection: AsyncConnection, user: str | None) -> dict[str, int]:
    if user is not None:
        row = (
            await connection.execute(
                text(
                    "SELECT SELECT_COMMANDS, UPDATE_COMMANDS, OTHER_COMMANDS, "
                    "COMMIT_TRANSACTIONS, ROLLBACK_TRANSACTIONS "
                    "FROM information_schema.USER_STATISTICS WHERE USER = :user"
                ),
                {"user": user},
            )
        ).one()
        selects, updates, others, commits, rollbacks = (int(v) for v in row)
        return {
            "statements": selects + updates + others,
            "select": selects,
            "insert_update_delete": updates,
            "other": others,
            "commits": commits,
            "rollbacks": rollbacks,
        }
    names = ", ".join(f"'{name}'" for name in COUNTERS)
    rows = await connection.execute(text(f"SHOW GLOBAL STATUS WHERE Variable_name IN ({names})"))
    counts = {str(name): int(value) for name, value in rows}
    counts["statements"] = counts["Questions"]
    return counts


async def _own_statements(connection: AsyncConnection) -> int:
    """This script's own statements on the monitoring connection, to leave out of the count."""
    row = (await connection.execute(text("SHOW SESSION STATUS LIKE 'Questions'"))).one()
    return int(row[1])


def _handler_starts(logs: Path) -> dict[tuple[str, str], datetime]:
    """(event_id, consumer) → when the handler began, the first time it was handled."""
    starts: dict[tuple[str, str], datetime] = {}
    for path in logs.glob("*.log"):
        for line in path.read_text().splitlines():
            if '"message.handled"' not in line:
                continue
            entry = json.loads(line)
            finished = datetime.fromisoformat(entry["timestamp"].replace("Z", "+00:00"))
            began = finished.replace(tzinfo=None) - timedelta(milliseconds=entry["ms"])
            key = (entry["event_id"], entry["consumer"])
            if key not in starts or began < starts[key]:
                starts[key] = began
    return starts


OTHERS = {"moto": "moto_server", "localstack": "localstack.runtime.main", "mysql": "mariadbd"}


def _aws_calls(processes: list[ServiceProcess]) -> Counter[str]:
    """Every service's `dripr_aws_calls_total`, summed by service:operation."""
    calls: Counter[str] = Counter()
    for process in processes:
        with urllib.request.urlopen(f"{process.probe_url}/metrics", timeout=10) as response:
            text_format = response.read().decode()
        for family in text_string_to_metric_families(text_format):
            if family.name != "dripr_aws_calls":
                continue
            for sample in family.samples:
                if sample.name == "dripr_aws_calls_total":
                    key = f"{sample.labels['service']}:{sample.labels['operation']}"
                    calls[key] += sample.value
    return calls


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_by_process(processes: list[ServiceProcess]) -> dict[tuple[str, int], float]:
    """CPU seconds so far of each service, emulator and database server process, by pid."""
    cpu = {
        (p.name, p.process.pid): _cpu_seconds(p.process.pid)
        for p in processes
        if p.process is not None
    }
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            for name, marker in OTHERS.items():
                if marker in command:
                    cpu[(name, int(proc.name))] = _cpu_seconds(int(proc.name))
        except OSError:
            continue
    return cpu


def _cpu_used(
    before: dict[tuple[str, int], float], after: dict[tuple[str, int], float]
) -> dict[str, float]:
    """CPU seconds between the two readings, by name, of processes alive at both."""
    used: dict[str, float] = {}
    for key, seconds in after.items():
        if key in before:
            used[key[0]] = round(used.get(key[0], 0.0) + seconds - before[key], 1)
    return used


def _status(process: ServiceProcess, field: str) -> int:
    if process.process is None:
        return 0
    try:
        for line in Path(f"/proc/{process.process.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0


def _rss(process: ServiceProcess) -> int:
    return _status(process, "VmRSS")


def _peak(process: ServiceProcess) -> int:
    return _status(process, "VmHWM")


# -- 2. the ceiling ------------------------------------------------------------------------
async def raw_loop(
    endpoint: str, to_statuses: list[str], direct: int, publishers: int = 10
) -> dict[str, Any]:
    """The same STATUS_CHANGEs published to the topic and as many messages sent straight to the
    sender's queue (dripr's SEND_BATCHes); every copy received and deleted from every queue."""
    settings = Settings(aws_endpoint_url=endpoint, env=f"raw{random.randrange(16**4):04x}")
    report = await asyncio.to_thread(provision, settings)
    expected = {
        spec.name: sum(1 for s in to_statuses if CampaignStatus(s) in spec.to_statuses)
        for spec in TOPOLOGY.queues
    }
    expected["email-sender"] += direct
    total = sum(expected.values())
    body = json.dumps({"event_type": "STATUS_CHANGE", "benchmark": True})
    async with (
        async_client(AioSession(), "sns", settings) as sns,
        async_client(AioSession(), "sqs", settings) as sqs,
    ):
        pending: list[str | None] = [*to_statuses, *([None] * direct)]
        random.Random(5).shuffle(pending)
        calls: Counter[str] = Counter()
        sender_url = report.queue_urls["email-sender"]

        async def publisher() -> None:
            while pending:
                status = pending.pop()
                if status is None:
                    calls["sqs:SendMessage"] += 1
                    await sqs.send_message(QueueUrl=sender_url, MessageBody=body)
                    continue
                calls["sns:Publish"] += 1
                await sns.publish(
                    TopicArn=report.topic_arn,
                    Message=body,
                    MessageAttributes=string_attributes(
                        {"event_type": "STATUS_CHANGE", "to_status": status}
                    ),
                )

        async def receiver(name: str, url: str) -> None:
            left = expected[name]
            while left > 0:
                calls["sqs:ReceiveMessage"] += 1
                response = await sqs.receive_message(
                    QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=10
                )
                messages = response.get("Messages", [])
                if messages:
                    calls["sqs:DeleteMessageBatch"] += 1
                    await sqs.delete_message_batch(
                        QueueUrl=url,
                        Entries=[
                            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                            for i, m in enumerate(messages)
                        ],
                    )
                    left -= len(messages)

        started = time.monotonic()
        await asyncio.gather(
            *(publisher() for _ in range(publishers)),
            *(receiver(name, url) for name, url in report.queue_urls.items() if expected[name]),
        )
        elapsed = time.monotonic() - started
    return {
        "messages": total,
        "seconds": round(elapsed, 2),
        "messages_per_s": round(total / elapsed, 1),
        "aws_calls": dict(calls),
        "aws_calls_per_message": round(sum(calls.values()) / total, 3),
    }


# -- 3. the old way ------------------------------------------------------------------------
async def polling_baseline(
    database_url: str, jobs: int = 60, spread: float = 30.0
) -> dict[str, Any]:
    """Rows become ready at random moments; a 5 s poller takes them, FETCHING as the lock."""
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.execute(text("DROP TABLE IF EXISTS poll_baseline"))
        await connection.execute(
            text(
                "CREATE TABLE poll_baseline (id INT PRIMARY KEY AUTO_INCREMENT, "
                "status VARCHAR(20) NOT NULL, ready_at DATETIME(6), picked_at DATETIME(6))"
            )
        )
    finished = asyncio.Event()

    async def producer() -> None:
        rng = random.Random(3)
        moments = sorted(rng.uniform(0, spread) for _ in range(jobs))
        began = time.monotonic()
        for moment in moments:
            await asyncio.sleep(max(0.0, moment - (time.monotonic() - began)))
            async with engine.begin() as connection:
                await connection.execute(
                    text("INSERT INTO poll_baseline (status, ready_at) VALUES ('READY', :at)"),
                    {"at": utcnow_naive()},
                )
        finished.set()

    async def poller() -> None:
        while True:
            async with engine.begin() as connection:
                rows = await connection.execute(
                    text(
                        "SELECT id FROM poll_baseline WHERE status = 'READY' FOR UPDATE SKIP LOCKED"
                    )
                )
                ids = [row[0] for row in rows]
                if ids:
                    await connection.execute(
                        text(
                            "UPDATE poll_baseline SET status = 'FETCHING', picked_at = :at "
                            "WHERE id IN (" + ",".join(str(i) for i in ids) + ")"
                        ),
                        {"at": utcnow_naive()},
                    )
            if finished.is_set() and not ids:
                return
            await asyncio.sleep(POLL_INTERVAL)

    await asyncio.gather(producer(), poller())
    async with engine.connect() as connection:
        rows = await connection.execute(text("SELECT ready_at, picked_at FROM poll_baseline"))
        latencies = [(picked - ready).total_seconds() for ready, picked in rows]
        await connection.execute(text("DROP TABLE poll_baseline"))
    await engine.dispose()
    return {
        "interval_s": POLL_INTERVAL,
        "jobs": len(latencies),
        "handoff_p50_ms": round(percentile(latencies, 0.5) * 1000, 1),
        "handoff_p95_ms": round(percentile(latencies, 0.95) * 1000, 1),
    }


# -- the run -------------------------------------------------------------------------------
@contextmanager
def emulator(kind: str) -> Iterator[str]:
    if kind == "moto":
        with moto_server() as endpoint:
            yield endpoint
        return
    given = os.environ.get("DRIPR_LOCALSTACK_ENDPOINT")
    if given:
        yield given
        return
    port = 4566
    WORKDIR.mkdir(parents=True, exist_ok=True)
    with (WORKDIR / "localstack.log").open("ab") as log:
        process = subprocess.Popen(
            ["infra/localstack/run-on-host.sh"],
            env={**os.environ, "LOCALSTACK_PORT": str(port)},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{endpoint}/_localstack/health", timeout=900)
        yield endpoint
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=30)


async def _baselines(
    endpoint: str, database_url: str, to_statuses: list[str], direct: int
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    raw, polling = await asyncio.gather(
        raw_loop(endpoint, to_statuses, direct), polling_baseline(database_url)
    )
    # Celery chains at the poller's load, alone on the emulator: the hop a Celery user waits.
    chains = await asyncio.to_thread(
        celery_side.chain_handoffs, endpoint, TRICKLE_CAMPAIGNS, TRICKLE_SECONDS
    )
    return raw, polling, chains


def measure(
    kind: str, endpoint: str, sizes: list[int], baselines: bool = True, tracing: bool = True
) -> dict[str, Any]:
    result: dict[str, Any] = {"emulator": kind, "runs": []}
    if tracing:  # the first size again, every service tracing and exporting every span
        with otlp_receiver(keep=False) as receiver, scratch_mysql_database() as database_url:
            logs = WORKDIR / f"logs-{kind}-traced"
            traced = asyncio.run(run_pipeline(endpoint, database_url, sizes[0], logs, receiver.url))
            time.sleep(6)  # the exporters' last batches (the SDK flushes at least every 5 s)
            traced["spans_exported"] = receiver.span_count
        traced.pop("to_statuses")
        traced.pop("direct")
        result["traced"] = traced
    for size in sizes:
        with scratch_mysql_database() as database_url:
            logs = WORKDIR / f"logs-{kind}-{size}"
            figures = asyncio.run(run_pipeline(endpoint, database_url, size, logs))
            if baselines and size == sizes[0]:
                result["raw_loop"], result["polling"], result["celery_chain"] = asyncio.run(
                    _baselines(endpoint, database_url, figures["to_statuses"], figures["direct"])
                )
        figures.pop("to_statuses")
        figures.pop("direct")
        result["runs"].append(figures)
    first = result["runs"][0]
    result["ratios"] = (
        {}
        if not baselines
        else {
            "messages_per_s_vs_raw_loop": round(
                first["messages_per_s"] / result["raw_loop"]["messages_per_s"], 3
            ),
            "handoff_p50_speedup_vs_polling": round(
                result["polling"]["handoff_p50_ms"] / first["handoff_p50_ms"], 1
            ),
            "aws_calls_per_message_vs_raw_loop": round(
                first["aws_calls_per_message"] / result["raw_loop"]["aws_calls_per_message"], 2
            ),
            "handoff_p50_vs_celery_hop": round(
                first["handoff_p50_ms"] / result["celery_chain"]["handoff_p50_ms"], 3
            ),
        }
    )
    if tracing:
        on = result["traced"]
        result["tracing_cost"] = {
            "messages_per_s_off": first["messages_per_s"],
            "messages_per_s_on": on["messages_per_s"],
            "throughput_ratio": round(on["messages_per_s"] / first["messages_per_s"], 3),
            "services_cpu_ms_per_message_off": first["services_cpu_ms_per_message"],
            "services_cpu_ms_per_message_on": on["services_cpu_ms_per_message"],
            "overhead_cpu_ms_per_message": round(
                on["services_cpu_ms_per_message"] - first["services_cpu_ms_per_message"], 2
            ),
            "spans_per_message": round(on["spans_exported"] / on["messages"], 2),
        }
    largest = result["runs"][-1]
    if largest["campaigns"] > MEMORY_BASELINE:
        result["memory_growth"] = {
            name: round(peak / largest["peak_rss_mb_after_1000"][name], 3)
            for name, peak in largest["peak_rss_mb"].items()
        }
    return result


def largest_run(result: dict[str, Any]) -> int:
    return int(result["runs"][-1]["campaigns"])


def print_result(result: dict[str, Any]) -> None:
    print(f"\n== {result['emulator']}")
    for run in result["runs"]:
        print(
            f"dripr, {run['campaigns']} campaigns: {run['seconds']} s, "
            f"{run['campaigns_per_s']} campaigns/s, {run['messages']} messages = "
            f"{run['messages_per_s']} msg/s; under that burst hand-off p50 "
            f"{run['burst_handoff_p50_ms']} ms, p95 {run['burst_handoff_p95_ms']} ms; "
            f"{run['sql_per_transition']} SQL statements/transition"
        )
        print(
            f"   hand-off at the polling baseline's load ({run['trickle_campaigns']} campaigns "
            f"over {TRICKLE_SECONDS:.0f} s): p50 {run['handoff_p50_ms']} ms, "
            f"p95 {run['handoff_p95_ms']} ms; commit→published p50 "
            f"{run['commit_to_published_p50_ms']} ms"
        )
        print(
            "   CPU seconds during the burst: "
            + ", ".join(f"{k} {v}" for k, v in run["cpu_seconds"].items())
            + f" = {run['cpu_share_of_machine']:.0%} of the machine's cores"
        )
        print("   peak RSS MB: " + ", ".join(f"{k} {v}" for k, v in run["peak_rss_mb"].items()))
        print(
            f"   AWS calls per message {run['aws_calls_per_message']}: "
            + ", ".join(f"{k} {v}" for k, v in run["aws_calls"].items())
        )
    print_tracing(result)
    if "raw_loop" not in result:
        print_memory(result)
        return
    raw, polling, ratios = result["raw_loop"], result["polling"], result["ratios"]
    print(
        f"raw publish→receive→delete loop: {raw['messages']} messages, "
        f"{raw['messages_per_s']} msg/s, {raw['aws_calls_per_message']} AWS calls/message; "
        f"dripr makes {ratios['aws_calls_per_message_vs_raw_loop']}x as many (target 1.2x)"
    )
    print(
        f"5 s DB polling: hand-off p50 {polling['handoff_p50_ms']} ms, "
        f"p95 {polling['handoff_p95_ms']} ms over {polling['jobs']} jobs"
    )
    ratio = ratios["messages_per_s_vs_raw_loop"]
    speedup = ratios["handoff_p50_speedup_vs_polling"]
    print(f"messages/s vs raw loop: {ratio} ({'meets' if ratio >= 0.8 else 'MISSES'} 0.8)")
    print(
        f"hand-off p50 vs polling: {speedup}x faster ({'meets' if speedup >= 25 else 'MISSES'} 25x)"
    )
    chain, versus = result["celery_chain"], ratios["handoff_p50_vs_celery_hop"]
    print(
        f"Celery chain, {chain['chains']} three-hop chains at the same load: hop p50 "
        f"{chain['handoff_p50_ms']} ms, p95 {chain['handoff_p95_ms']} ms; dripr's hand-off p50 "
        f"is {versus} of it ({'meets' if versus <= 0.5 else 'MISSES'} at most 0.5)"
    )
    print_memory(result)


def print_tracing(result: dict[str, Any]) -> None:
    if "tracing_cost" in result:
        cost = result["tracing_cost"]
        print(
            f"tracing on (OTLP to a local receiver): {cost['messages_per_s_on']} msg/s vs "
            f"{cost['messages_per_s_off']} off ({cost['throughput_ratio']}x); services' CPU "
            f"{cost['services_cpu_ms_per_message_on']} ms/message vs "
            f"{cost['services_cpu_ms_per_message_off']} off = "
            f"{cost['overhead_cpu_ms_per_message']} ms per message; "
            f"{cost['spans_per_message']} spans/message"
        )


def print_memory(result: dict[str, Any]) -> None:
    if "memory_growth" in result:
        growth = result["memory_growth"]
        flat = all(v <= 1.15 for v in growth.values())
        print(
            f"peak RSS after {largest_run(result)} campaigns / after {MEMORY_BASELINE}: "
            + ", ".join(f"{k} {v}" for k, v in growth.items())
            + f" ({'flat' if flat else 'NOT flat'}: target within 15%)"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--emulators", default="moto,localstack")
    parser.add_argument("--sizes", default="1000", help="campaign counts, e.g. 1000,10000")
    parser.add_argument(
        "--no-baselines", action="store_true", help="skip the raw loop and the poller"
    )
    parser.add_argument(
        "--no-tracing", action="store_true", help="skip the run with tracing on (OTLP export)"
    )
    args = parser.parse_args()
    configure_logging("console", "WARNING")
    if not mysql_reachable():
        raise SystemExit(
            "the pipeline benchmark needs MySQL at 127.0.0.1:3306 (DRIPR_TEST_MYSQL_URL)"
        )
    sizes = [int(s) for s in args.sizes.split(",")]
    results = []
    for kind in args.emulators.split(","):
        with emulator(kind) as endpoint:
            result = measure(
                kind,
                endpoint,
                sizes,
                baselines=not args.no_baselines,
                tracing=not args.no_tracing,
            )
        print_result(result)
        results.append(result)
    WORKDIR.mkdir(parents=True, exist_ok=True)
    (WORKDIR / "pipeline.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nFigures: {WORKDIR / 'pipeline.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
