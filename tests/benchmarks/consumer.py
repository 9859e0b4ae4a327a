"""Benchmark: the consumer runtime with a no-op handler against a raw receive/delete loop,
and against Celery 5 on its SQS transport (what a user would otherwise pick).

All run on the same moto server in the same run, over HTTP, fed in rounds so the queue stays
shallow (moto rescans a queue on every call, which would dominate the figures). Prints
messages/s for each and the ratios; the targets: the runtime at least 0.8 of the raw loop at
10 concurrent handlers, and at least 3x Celery's best pool on these cores
(tests/benchmarks/celery_side.py). Run with `make bench-consumer`; JSON to
.dripr/bench/consumer.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from aiobotocore.session import AioSession

from infra.provision import provision
from shared.adapters.aws import async_client
from shared.adapters.db.engine import create_engine, session_factory
from shared.adapters.db.uow import SqlUnitOfWork
from shared.adapters.topology import TOPOLOGY
from shared.config import Settings
from shared.consumer.consumer import Consumer, ConsumerOptions
from shared.devtools.emulator import moto_server
from shared.domain.events import StatusChange
from shared.logging import configure_logging
from tests.benchmarks import celery_side

QUEUE = TOPOLOGY.queue("intro")
OUTPUT = Path(".dripr/bench/consumer.json")


async def fill(sqs: Any, url: str, count: int) -> None:
    body = StatusChange(campaign_id=1, cycle=1, from_status="DORMANT", to_status="WAITING_FOR_DATA")
    entries = [
        {
            "Id": str(i),
            "MessageBody": body.model_copy(update={"event_id": uuid.uuid4()}).model_dump_json(),
        }
        for i in range(count)
    ]
    await asyncio.gather(
        *(
            sqs.send_message_batch(QueueUrl=url, Entries=entries[i : i + 10])
            for i in range(0, count, 10)
        )
    )


async def raw_loop(sqs: Any, url: str, count: int, concurrency: int) -> float:
    """The ceiling: receive up to 10, delete them in one batch call, `concurrency` loops at once."""
    done = 0

    async def worker() -> None:
        nonlocal done
        while done < count:
            response = await sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1
            )
            messages = response.get("Messages", [])
            if messages:
                await sqs.delete_message_batch(
                    QueueUrl=url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                        for i, m in enumerate(messages)
                    ],
                )
                done += len(messages)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(max(1, concurrency // 10))))
    return time.perf_counter() - started


async def runtime_loop(
    sqs: Any, url: str, count: int, concurrency: int, database_url: str
) -> float:
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    handled = 0
    finished = asyncio.Event()

    async def no_op(event: StatusChange, uow: SqlUnitOfWork) -> None:
        nonlocal handled
        handled += 1
        if handled >= count:
            finished.set()

    consumer = Consumer(
        "bench",
        url,
        sqs,
        {StatusChange: no_op},
        lambda consumer, event_id: SqlUnitOfWork(sessions),  # no marker: measure the runtime alone
        ConsumerOptions(concurrency=concurrency, wait_time_seconds=1),
    )
    stop = asyncio.Event()
    started = time.perf_counter()
    task = asyncio.create_task(consumer.run(stop))
    await finished.wait()
    await _until_empty(sqs, url)
    elapsed = time.perf_counter() - started
    stop.set()
    await task
    await engine.dispose()
    return elapsed


async def _until_empty(sqs: Any, url: str) -> None:
    while True:
        attributes = (
            await sqs.get_queue_attributes(
                QueueUrl=url,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                ],
            )
        )["Attributes"]
        if (
            attributes["ApproximateNumberOfMessages"]
            == attributes["ApproximateNumberOfMessagesNotVisible"]
            == "0"
        ):
            return
        await asyncio.sleep(0.005)


async def measure(
    endpoint: str, rounds: int, per_round: int, concurrency: int, celery: bool = True
) -> dict[str, Any]:
    settings = Settings(aws_endpoint_url=endpoint, env="bench", aws_max_attempts=1)
    report = provision(settings)
    url = report.queue_urls[QUEUE.name]
    database_url = f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    raw: list[float] = []
    runtime: list[float] = []
    async with async_client(AioSession(), "sqs", settings) as sqs:
        await sqs.set_queue_attributes(
            QueueUrl=url, Attributes={"ReceiveMessageWaitTimeSeconds": "0"}
        )
        for _ in range(rounds):  # interleave so drift on the machine hits both alike
            await fill(sqs, url, per_round)
            raw.append(per_round / await raw_loop(sqs, url, per_round, concurrency))
            await fill(sqs, url, per_round)
            runtime.append(
                per_round / await runtime_loop(sqs, url, per_round, concurrency, database_url)
            )
    raw_rate, runtime_rate = statistics.median(raw), statistics.median(runtime)
    result: dict[str, Any] = {
        "emulator": "moto server",
        "messages": rounds * per_round * 2,
        "concurrency": concurrency,
        "raw_loop_msgs_per_s": round(raw_rate, 1),
        "runtime_msgs_per_s": round(runtime_rate, 1),
        "ratio": round(runtime_rate / raw_rate, 3),
        "target_ratio": 0.8,
    }
    if celery:
        found = await asyncio.to_thread(celery_side.best, endpoint, rounds, per_round)
        result["celery"] = found
        result["runtime_vs_celery_backlog"] = round(
            runtime_rate / found["best"]["backlog_tasks_per_s"], 2
        )
        result["target_vs_celery"] = 3.0
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--per-round", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--endpoint", help="an emulator already running; default: start moto")
    parser.add_argument("--no-celery", action="store_true", help="skip the Celery worker")
    args = parser.parse_args()
    configure_logging("console", "WARNING")
    options = (args.rounds, args.per_round, args.concurrency, not args.no_celery)
    if args.endpoint:
        result = asyncio.run(measure(args.endpoint, *options))
    else:
        with moto_server() as endpoint:
            result = asyncio.run(measure(endpoint, *options))
    for key, value in result.items():
        if key != "celery":
            print(f"{key:<26} {value}")
    for tried in result.get("celery", {}).get("tried", []):
        print(
            f"celery {tried['pool']:>8} x{tried['concurrency']:<3} backlog "
            f"{tried['backlog_tasks_per_s']} tasks/s, live {tried['live_tasks_per_s']} tasks/s"
        )
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(result, indent=2) + "\n")
    verdict = "meets" if result["ratio"] >= result["target_ratio"] else "MISSES"
    print(f"runtime/raw = {result['ratio']:.2f}: {verdict} the 0.8 target")
    if "runtime_vs_celery_backlog" in result:
        times = result["runtime_vs_celery_backlog"]
        print(f"runtime/Celery = {times}x: {'meets' if times >= 3 else 'MISSES'} the 3x target")
    print(f"Figures: {OUTPUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
