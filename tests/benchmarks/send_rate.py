"""Benchmark: one sending rate for the account, across sender replicas and sends.

Starts a moto server and a database (a scratch MariaDB database when one answers at
127.0.0.1:3306, else SQLite), provisions, builds three campaigns' emails, and runs two sender
replicas as separate processes (`python -m services.email_sender`, as deployed) with
`DRIPR_SEND_RATE_CAP=N`. The three sends run at once, unthrottled by their own controls (big
batches, no delay, no cooldown), so only the shared limiter holds them back.

SES itself is a stand-in speaking its query API (tests/standins/ses_query.py, reached through
`AWS_ENDPOINT_URL_SES`), because it records when each email arrived, which is what SES's rate
counts; moto keeps no time. From those arrivals it reports the achieved aggregate rate and the
most emails that arrived in any one-second window (sliding, to the microsecond), which must
stay at or under N, and that every send completed. Run with `make bench-send-rate`
(`ARGS="--cap 20"`); it prints one JSON line and exits non-zero if the cap was exceeded or a
send did not complete.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from infra.provision import provision
from shared.adapters.db.migrate import upgrade_async
from shared.adapters.db.models import Delivery, Send
from shared.bootstrap import bootstrap
from shared.config import Settings
from shared.devtools.demo.processes import ServiceProcess, service_environment
from shared.devtools.emulator import moto_server
from shared.domain.statuses import SendStatus
from tests.benchmarks.send import _campaign
from tests.standins.ses_query import ses_standin
from tests.support import mysql_reachable, scratch_mysql_database


def busiest_second(stamps: list[float]) -> int:
    """The most stamps in any window [t, t + 1s), t ranging over the stamps themselves."""
    return max((bisect.bisect_left(stamps, t + 1.0) - i for i, t in enumerate(stamps)), default=0)


@contextlib.contextmanager
def database() -> Iterator[str]:
    if mysql_reachable():
        with scratch_mysql_database() as url:
            yield url
        return
    yield f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'rate.db'}"


async def measure(
    endpoint: str, database_url: str, cap: float, sends: int, recipients: int, replicas: int
) -> dict[str, Any]:
    settings = Settings(
        database_url=database_url,
        aws_endpoint_url=endpoint,
        env="rate",
        wait_time_seconds=1,
        log_level="WARNING",
        send_batch_size=recipients,
        send_delay_ms=0,
        send_cooldown_seconds=0,
    )
    await upgrade_async(database_url)
    provision(settings)
    logs = Path(tempfile.mkdtemp())
    async with ses_standin() as ses, bootstrap(settings) as runtime:
        environment = service_environment(
            settings, DRIPR_SEND_RATE_CAP=str(cap), AWS_ENDPOINT_URL_SES=ses.url
        )
        senders = [
            ServiceProcess("email_sender", environment, logs, replica=n) for n in range(replicas)
        ]
        for sender in senders:
            sender.start()
        try:
            events = [await _campaign(runtime, recipients, f"rate {n}") for n in range(sends)]
            started = time.perf_counter()
            for event in events:
                await runtime.publisher.publish(event)
            deadline = started + 30 + 3 * sends * recipients / cap
            while time.perf_counter() < deadline:
                async with runtime.sessions() as session:
                    statuses = list(await session.scalars(select(Send.status)))
                if len(statuses) == sends and set(statuses) == {SendStatus.COMPLETED}:
                    break
                await asyncio.sleep(0.2)
            elapsed = time.perf_counter() - started
            async with runtime.sessions() as session:
                per_send = dict(
                    (
                        await session.execute(
                            select(Delivery.send_id, func.count()).group_by(Delivery.send_id)
                        )
                    ).all()
                )
                statuses = list(await session.scalars(select(Send.status)))
        finally:
            for sender in senders:
                sender.stop()
        stamps = sorted(ses.accepted)
        throttled = ses.throttled
    span = stamps[-1] - stamps[0] if len(stamps) > 1 else 0.0
    busiest = busiest_second(stamps)
    completed = sum(1 for s in statuses if s is SendStatus.COMPLETED)
    return {
        "cap_per_s": cap,
        "replicas": replicas,
        "sends": sends,
        "emails": len(stamps),
        "throttled": throttled,
        "completed_sends": completed,
        "seconds": round(elapsed, 2),
        "aggregate_rate_per_s": round((len(stamps) - 1) / span, 2) if span else None,
        "busiest_one_second_window": busiest,
        "per_send": {str(k): int(v) for k, v in sorted(per_send.items())},
        "database": database_url.split(":", 1)[0],
        "within_cap": busiest <= cap,
        "logs": str(logs),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cap", type=float, default=20.0, help="emails/s for the account")
    parser.add_argument("--sends", type=int, default=3)
    parser.add_argument("--recipients", type=int, default=80, help="per send")
    parser.add_argument("--replicas", type=int, default=2)
    args = parser.parse_args()
    with moto_server() as endpoint, database() as url:
        figures = asyncio.run(
            measure(endpoint, url, args.cap, args.sends, args.recipients, args.replicas)
        )
    print(json.dumps(figures))
    ok = figures["within_cap"] and figures["completed_sends"] == args.sends
    print("within the cap" if ok else "CAP EXCEEDED or a send did not complete", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
