"""The Celery side of the benchmarks: what a user would otherwise run, on the same emulator.

A Celery 5 app on its SQS transport (kombu's, the one Celery documents for SQS) with two tasks:
`noop` for the throughput of the worker runtime, and `hop` for the hand-off latency of a
chain, each hop appending when it started and ended to a file. The broker comes from
`DRIPR_CELERY_BROKER` (`sqs://test:test@127.0.0.1:PORT`), so the worker this module runs as
(`celery -A tests.benchmarks.celery_app worker`) and the benchmark that feeds it agree.
"""

from __future__ import annotations

import os
import time

from celery import Celery

QUEUE = "bench-celery"

app = Celery(
    "dripr-bench", broker=os.environ.get("DRIPR_CELERY_BROKER", "sqs://test:test@127.0.0.1:5000")
)
app.conf.update(
    task_default_queue=QUEUE,
    broker_transport_options={
        "region": "us-east-1",
        # Celery's fastest settings here: long polls of a second (as dripr's runtime in the
        # consumer benchmark) and no sleep between polls.
        "wait_time_seconds": int(os.environ.get("DRIPR_CELERY_WAIT", "1")),
        "polling_interval": 0,
        "visibility_timeout": 30,
    },
    worker_prefetch_multiplier=10,
    worker_hijack_root_logger=False,
    task_ignore_result=True,
    broker_connection_retry_on_startup=True,
)


@app.task(name="bench.noop")
def noop() -> None:
    """Nothing: what is measured is receiving, running and acknowledging a task."""


@app.task(name="bench.hop")
def hop(chain_id: str, index: int) -> None:
    """One hop of a three-hop chain: its start and end, for the hand-off between hops."""
    started = time.time()
    path = os.environ["DRIPR_CELERY_HOPS"]
    with open(path, "a") as out:  # one short line per hop: appends do not interleave
        out.write(f"{chain_id} {index} {started:.6f} {time.time():.6f}\n")
