"""Celery 5 on its SQS transport, driven as a user would run it, on the benchmarks' emulator.

`drain` measures a worker's throughput on no-op tasks: a backlog sent before the worker starts
(timed from its "ready" line until the queue is empty), then a live phase (the worker idle, the
tasks sent by eight producer threads, timed from the first send). `chain_handoffs` runs
three-hop chains at random moments and measures each hop's hand-off (one task's end to the
next one's start): what a pipeline built on Celery chains would wait per hop. The worker is
`celery worker` in a process of its own, with the pool and concurrency given.
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3

POOLS = (("prefork", 2), ("prefork", 4), ("threads", 10))
"""What these two cores allow: a process per core (and two per core), or threads in one."""


def broker_url(endpoint: str) -> str:
    address = urlsplit(endpoint)
    return f"sqs://test:test@{address.hostname}:{address.port}"


def _environment(endpoint: str, hops: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DRIPR_CELERY_BROKER": broker_url(endpoint),
        "DRIPR_CELERY_HOPS": str(hops),
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }


@contextmanager
def worker(endpoint: str, pool: str, concurrency: int, hops: Path) -> Iterator[float]:
    """A Celery worker process; yields the moment it said it was ready."""
    log = Path(tempfile.mkstemp(prefix="celery-worker-", suffix=".log")[1])
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "celery", "-A", "tests.benchmarks.celery_app", "worker"),
                *("--pool", pool, "--concurrency", str(concurrency), "--loglevel", "INFO"),
                *("--without-gossip", "--without-mingle", "--without-heartbeat"),
            ],
            env=_environment(endpoint, hops),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while " ready." not in log.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the Celery worker did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.05)
        yield time.monotonic()
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.unlink(missing_ok=True)


def _sqs(endpoint: str) -> Any:
    return boto3.client(
        "sqs",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def _queue_url(endpoint: str) -> str:
    from tests.benchmarks.celery_app import QUEUE

    sqs = _sqs(endpoint)
    return str(sqs.create_queue(QueueName=QUEUE)["QueueUrl"])


def _until_empty(endpoint: str, url: str, within: float = 600) -> float:
    sqs = _sqs(endpoint)
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        attributes = sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        if (
            attributes["ApproximateNumberOfMessages"]
            == "0"
            == (attributes["ApproximateNumberOfMessagesNotVisible"])
        ):
            return time.monotonic()
        time.sleep(0.05)  # moto is one process: asking it more often slows the worker
    raise RuntimeError("the Celery worker did not drain its queue")


def _send(endpoint: str, count: int, producers: int = 8) -> float:
    """Send `count` no-op tasks through Celery's own producer; the moment the first went."""
    from tests.benchmarks.celery_app import app

    app.conf.broker_url = broker_url(endpoint)
    started = time.monotonic()
    share = [count // producers + (1 if i < count % producers else 0) for i in range(producers)]

    def produce(n: int) -> None:
        with app.producer_or_acquire() as producer:
            for _ in range(n):
                app.send_task("bench.noop", producer=producer)

    with ThreadPoolExecutor(producers) as threads:
        list(threads.map(produce, share))
    return started


def drain(
    endpoint: str, rounds: int, per_round: int, pool: str, concurrency: int
) -> dict[str, Any]:
    """Backlog and live throughput of one worker configuration, in tasks per second: the
    median of `rounds`, each `per_round` deep (moto scans the whole queue on every receive, so
    a deep queue would measure moto), a worker started afresh for each backlog."""
    url = _queue_url(endpoint)
    hops = Path(tempfile.mkdtemp()) / "hops.txt"
    backlog, live = [], []
    for _ in range(rounds):
        _send(endpoint, per_round)
        with worker(endpoint, pool, concurrency, hops) as ready:
            backlog.append(per_round / (_until_empty(endpoint, url) - ready))
            started = _send(endpoint, per_round)
            live.append(per_round / (_until_empty(endpoint, url) - started))
    return {
        "pool": pool,
        "concurrency": concurrency,
        "tasks": 2 * rounds * per_round,
        "backlog_tasks_per_s": round(statistics.median(backlog), 1),
        "live_tasks_per_s": round(statistics.median(live), 1),
    }


def best(endpoint: str, rounds: int, per_round: int) -> dict[str, Any]:
    """Every configuration of POOLS, and the one with the fastest backlog drain."""
    tried = [drain(endpoint, rounds, per_round, pool, c) for pool, c in POOLS]
    return {"tried": tried, "best": max(tried, key=lambda r: r["backlog_tasks_per_s"])}


def chain_handoffs(
    endpoint: str, chains: int = 60, over_seconds: float = 30.0, pool: str = "threads"
) -> dict[str, Any]:
    """Three-hop chains started at random moments over `over_seconds`; hop hand-off latency."""
    from celery import chain

    from tests.benchmarks.celery_app import app, hop

    app.conf.broker_url = broker_url(endpoint)
    _queue_url(endpoint)
    hops = Path(tempfile.mkdtemp()) / "hops.txt"
    hops.touch()
    with worker(endpoint, pool, 10, hops):
        moments = sorted(random.uniform(0, over_seconds) for _ in range(chains))
        began = time.monotonic()
        ids = [uuid.uuid4().hex for _ in range(chains)]
        lock = threading.Lock()
        for moment, chain_id in zip(moments, ids, strict=True):
            time.sleep(max(0.0, began + moment - time.monotonic()))
            with lock:
                chain(*(hop.si(chain_id, i) for i in range(3))).apply_async()
        deadline = time.monotonic() + 120
        while len(hops.read_text().splitlines()) < 3 * chains:
            if time.monotonic() > deadline:
                raise RuntimeError("the Celery chains did not finish")
            time.sleep(0.1)
    ends: dict[tuple[str, int], float] = {}
    starts: dict[tuple[str, int], float] = {}
    for line in hops.read_text().splitlines():
        chain_id, index, start, end = line.split()
        starts[(chain_id, int(index))] = float(start)
        ends[(chain_id, int(index))] = float(end)
    waits = sorted((starts[(c, i + 1)] - ends[(c, i)]) * 1000 for c in ids for i in range(2))
    return {
        "chains": chains,
        "hops": len(waits),
        "pool": pool,
        "handoff_p50_ms": round(statistics.median(waits), 1),
        "handoff_p95_ms": round(waits[int(0.95 * (len(waits) - 1))], 1),
    }
