"""BedrockWriter through a real aiobotocore client and real HTTP, against the Bedrock stand-in."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiobotocore.session import AioSession
from botocore.exceptions import ClientError

from shared.adapters.providers.bedrock import BedrockWriter, bedrock_client_kwargs
from shared.adapters.providers.llm import prompt
from shared.domain.errors import PermanentError, TransientError
from tests.standins.bedrock_runtime import BedrockStandin, bedrock_standin

MODEL_ID = "anthropic.claude-3-haiku-20240307-v1:0"
MARKET = {"median_price": 512000, "median_price_change_12m_pct": 3.4, "median_days_on_market": 21}
PROPERTY = {"formatted_address": "12 Elm St, Springfield", "current_value": 640000, "bedrooms": 3}


@asynccontextmanager
async def open_client(url: str, read_timeout: float = 10.0) -> AsyncIterator[Any]:
    kwargs = bedrock_client_kwargs("us-east-1", url, read_timeout)
    async with AioSession().create_client("bedrock-runtime", **kwargs) as client:
        yield client


@pytest.fixture
async def standin() -> AsyncIterator[BedrockStandin]:
    async with bedrock_standin() as standin:
        yield standin


@pytest.fixture
async def writer(standin: BedrockStandin) -> AsyncIterator[BedrockWriter]:
    async with open_client(standin.url) as client:
        yield BedrockWriter(client, MODEL_ID, max_tokens=321, temperature=0.2)


async def write_intro(writer: BedrockWriter) -> str:
    return await writer.intro(
        area="Springfield", local_market=MARKET, mortgage_rate=6.5, agent_name="Dana Reyes"
    )


async def test_intro_sends_the_filled_prompt_and_returns_the_reply(
    writer: BedrockWriter, standin: BedrockStandin
) -> None:
    standin.reply = lambda user_prompt: f"  Springfield is steady. ({len(user_prompt)})\n"

    text = await write_intro(writer)

    [call] = standin.calls
    assert text == f"Springfield is steady. ({len(call.prompt)})"
    assert call.model_id == MODEL_ID
    assert call.system == prompt("system").template.strip()
    assert "Market area: Springfield" in call.prompt
    assert json.dumps(MARKET, sort_keys=True) in call.prompt
    assert "6.50%" in call.prompt
    assert "Agent: Dana Reyes" in call.prompt
    assert "$" + "area" not in call.prompt
    assert call.body["inferenceConfig"] == {"maxTokens": 321, "temperature": 0.2}
    assert call.body["messages"][0]["role"] == "user"


async def test_home_report_returns_the_default_reply(
    writer: BedrockWriter, standin: BedrockStandin
) -> None:
    text = await writer.home_report(property_data=PROPERTY)

    [call] = standin.calls
    assert text == f'Stand-in reply to "{call.prompt[:40]}".'
    assert json.dumps(PROPERTY, sort_keys=True) in call.prompt
    assert call.model_id == MODEL_ID


async def test_an_inference_profile_arn_reaches_the_stand_in_intact(
    standin: BedrockStandin,
) -> None:
    arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-haiku"
    async with open_client(standin.url) as client:
        await BedrockWriter(client, arn).home_report(property_data=PROPERTY)
    assert standin.calls[0].model_id == arn


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (429, "ThrottlingException"),
        (500, "InternalServerException"),
        (503, "ServiceUnavailableException"),
        (408, "ModelTimeoutException"),
        (500, "SomethingNewException"),
    ],
)
async def test_throttling_and_server_errors_are_transient(
    writer: BedrockWriter, standin: BedrockStandin, status: int, error_type: str
) -> None:
    standin.fail_next(1, status=status, error_type=error_type, message="slow down")

    with pytest.raises(TransientError) as caught:
        await write_intro(writer)

    assert error_type in str(caught.value)
    assert "slow down" in str(caught.value)
    assert caught.value.dependency == "bedrock"
    assert len(standin.calls) == 1  # the client made one attempt: retries are the runtime's
    assert await write_intro(writer)  # the fault was served once


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (400, "ValidationException"),
        (403, "AccessDeniedException"),
        (404, "ResourceNotFoundException"),
    ],
)
async def test_request_errors_are_permanent(
    writer: BedrockWriter, standin: BedrockStandin, status: int, error_type: str
) -> None:
    standin.fail_next(1, status=status, error_type=error_type, message="bad model id")

    with pytest.raises(PermanentError) as caught:
        await writer.home_report(property_data=PROPERTY)

    assert error_type in str(caught.value)
    assert "bad model id" in str(caught.value)


async def test_botocore_parses_the_stand_in_error_into_a_client_error(
    standin: BedrockStandin,
) -> None:
    standin.fail_next(1, status=429, error_type="ThrottlingException", message="too many")
    async with open_client(standin.url) as client:
        with pytest.raises(ClientError) as caught:
            await client.converse(
                modelId=MODEL_ID, messages=[{"role": "user", "content": [{"text": "hi"}]}]
            )
    error = caught.value.response
    assert error["Error"] == {"Code": "ThrottlingException", "Message": "too many"}
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert isinstance(caught.value, client.exceptions.ThrottlingException)


@pytest.mark.parametrize("stop_reason", ["content_filtered", "guardrail_intervened"])
async def test_a_refusal_is_permanent(
    writer: BedrockWriter, standin: BedrockStandin, stop_reason: str
) -> None:
    standin.stop_reason = stop_reason

    with pytest.raises(PermanentError, match=stop_reason):
        await write_intro(writer)


async def test_an_empty_reply_is_permanent(writer: BedrockWriter, standin: BedrockStandin) -> None:
    standin.reply = lambda _: "   "

    with pytest.raises(PermanentError, match="no text"):
        await writer.home_report(property_data=PROPERTY)


async def test_a_read_timeout_is_transient(standin: BedrockStandin) -> None:
    standin.delay = 5.0
    async with open_client(standin.url, read_timeout=0.3) as client:
        with pytest.raises(TransientError, match="ReadTimeoutError"):
            await write_intro(BedrockWriter(client, MODEL_ID))


async def test_a_closed_port_is_transient() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with open_client(f"http://127.0.0.1:{port}", read_timeout=2.0) as client:
        with pytest.raises(TransientError, match="EndpointConnectionError"):
            await write_intro(BedrockWriter(client, MODEL_ID))
