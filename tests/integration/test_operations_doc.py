"""docs/operations.md, run as written: the real `aws` CLI against the emulator server."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from infra.provision import Report
from services.intro.app import intro_step
from shared.adapters.providers.data import SampleDataProvider
from shared.adapters.providers.llm import TemplateWriter
from shared.adapters.topology import TOPOLOGY
from shared.bootstrap import Runtime
from shared.domain.statuses import SubStatus
from tests.factories import load, start
from tests.support import eventually, receive_all

DOC = Path(__file__).parents[2] / "docs" / "operations.md"
MARK = "# exercised by the tests: "


def exercised_blocks() -> dict[str, str]:
    blocks = re.findall(r"```sh\n(.*?)```", DOC.read_text(), flags=re.S)
    return {b.splitlines()[0][len(MARK) :].strip(): b for b in blocks if b.startswith(MARK)}


async def run_block(script: str, env: dict[str, str], cwd: Path) -> str:
    """Run a block after the doc's environment block, as a reader pasting both would."""
    setup = exercised_blocks()["environment"]
    result = await asyncio.to_thread(
        subprocess.run,
        ["bash", "-euo", "pipefail", "-c", setup + "\n" + script],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


async def test_every_command_in_the_operations_doc_works_and_the_pipeline_reacts(
    runtime: Runtime, topology: Report, tmp_path: Path
) -> None:
    blocks = exercised_blocks()
    assert set(blocks) == {"environment", "publish", "send", "dlq"}
    event = await start(runtime)
    for url in topology.queue_urls.values():
        await receive_all(runtime.sqs, url)
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        "AWS_ENDPOINT_URL": runtime.settings.aws_endpoint_url or "",
        "AWS_DEFAULT_REGION": runtime.settings.region or "us-east-1",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "DRIPR_ENV": runtime.settings.env,
        "CAMPAIGN_ID": str(event.campaign_id),
        "CYCLE": str(event.cycle),
    }
    consumer = await runtime.step_consumer(
        TOPOLOGY.queue("intro"), intro_step(SampleDataProvider(), TemplateWriter())
    )
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        looked_up = await run_block('echo "$TOPIC_ARN $INTRO_QUEUE_URL"', env, tmp_path)
        assert looked_up.split() == [runtime.publisher.topic_arn, topology.queue_urls["intro"]]
        await run_block(blocks["publish"], env, tmp_path)
        # The topic routed it to every WAITING_FOR_DATA queue, and the intro service acted on it.
        # (LocalStack delivers SNS to SQS asynchronously: the start event may arrive here too.)
        routed = await receive_all(runtime.sqs, topology.queue_urls["property"], wait=5)
        bodies = [json.loads(m["Body"]) for m in routed]
        assert [b["campaign_id"] for b in bodies if b["event_id"] != str(event.event_id)] == [
            event.campaign_id
        ]
        await eventually(lambda: _intro_ready(runtime, event.campaign_id), within=20)
        intro = (await load(runtime.sessions, event.campaign_id)).intro

        await run_block(blocks["send"], env, tmp_path)  # the same event again, to one queue
        await eventually(lambda: _empty(runtime, topology.queue_urls["intro"]), within=20)
        assert (await load(runtime.sessions, event.campaign_id)).intro == intro
        assert await receive_all(runtime.sqs, topology.queue_urls["property"]) == []

        await run_block(blocks["dlq"], env, tmp_path)
        dead = json.loads((tmp_path / "dead.json").read_text())["Messages"]
        reasons = [m["MessageAttributes"]["failure_reason"]["StringValue"] for m in dead]
        assert any(r.startswith("message body is not JSON") for r in reasons)
    finally:
        stop.set()
        await task


async def _intro_ready(runtime: Runtime, campaign_id: int) -> bool:
    return (await load(runtime.sessions, campaign_id)).intro_status is SubStatus.READY


async def _empty(runtime: Runtime, url: str) -> bool:
    attributes = (
        await runtime.sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )
    )["Attributes"]
    return set(attributes.values()) == {"0"}
