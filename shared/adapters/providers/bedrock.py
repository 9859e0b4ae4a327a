"""The Amazon Bedrock writer: fills the prompts in `prompts/` and calls the Converse API.

Converse is model-agnostic, so switching models is a `model_id` change, not a code change. Every
failure is reported as `TransientError` or `PermanentError` so the consumer runtime decides about
retries; the client itself is built to make exactly one attempt.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
    ReadTimeoutError,
)

from shared.adapters.providers.llm import prompt
from shared.config import EMULATOR_REGION, is_emulator
from shared.domain.dependencies import Dependency
from shared.domain.errors import PermanentError, TransientError

DEPENDENCY = Dependency.BEDROCK
# The request itself is wrong or not allowed: retrying cannot help.
PERMANENT_CODES = frozenset(
    {"ValidationException", "AccessDeniedException", "ResourceNotFoundException"}
)
# Bedrock is busy or unwell. ModelErrorException (424) is the model failing on this call.
TRANSIENT_CODES = frozenset(
    {"ThrottlingException", "ServiceUnavailableException", "InternalServerException"}
    | {"ModelTimeoutException", "ModelNotReadyException", "ModelErrorException"}
)
# The model refused to answer: asking again with the same prompt gets the same refusal.
REFUSED_STOP_REASONS = frozenset({"content_filtered", "guardrail_intervened"})
# HTTPClientError is the base of ReadTimeoutError and ConnectionClosedError, and aiobotocore's
# catch-all for other transport failures.
NETWORK_ERRORS = (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, HTTPClientError)


def bedrock_client_kwargs(
    region: str | None,
    endpoint_url: str | None,
    timeout: float,
    *,
    has_credentials: bool = False,
) -> dict[str, Any]:
    """Kwargs for `AioSession().create_client("bedrock-runtime", ...)`: one bounded attempt."""
    kwargs: dict[str, Any] = {
        "config": Config(
            connect_timeout=timeout,
            read_timeout=timeout,
            # Retries belong to the consumer runtime. botocore's "max_attempts" counts retries
            # (1 would mean two attempts); "total_max_attempts" counts attempts.
            retries={"total_max_attempts": 1, "mode": "standard"},
        ),
    }
    if region or is_emulator(endpoint_url):
        kwargs["region_name"] = region or EMULATOR_REGION
    if endpoint_url:
        kwargs["endpoint_url"] = endpoint_url
    if is_emulator(endpoint_url) and not has_credentials:
        # Stand-ins accept any credentials; AWS (a private endpoint too) uses the chain.
        kwargs["aws_access_key_id"] = "test"
        kwargs["aws_secret_access_key"] = "test"
    return kwargs


class BedrockWriter:
    """Writes the intro and the home report with a Bedrock model through the Converse API."""

    name = "bedrock"

    def __init__(
        self, client: Any, model_id: str, *, max_tokens: int = 600, temperature: float = 0.4
    ) -> None:
        # The caller owns the client (an open aiobotocore "bedrock-runtime" client).
        self._client = client
        self.model_id = model_id
        self._inference = {"maxTokens": max_tokens, "temperature": temperature}
        self._system = prompt("system").template.strip()

    async def intro(
        self, *, area: str, local_market: dict[str, Any], mortgage_rate: float, agent_name: str
    ) -> str:
        text = prompt("intro").substitute(
            area=area,
            local_market=json.dumps(local_market, sort_keys=True),
            mortgage_rate=f"{mortgage_rate:.2f}",
            agent_name=agent_name,
        )
        return await self._converse(text)

    async def home_report(self, *, property_data: dict[str, Any]) -> str:
        text = prompt("home_report").substitute(
            property_data=json.dumps(property_data, sort_keys=True)
        )
        return await self._converse(text)

    async def _converse(self, text: str) -> str:
        """One Converse call, its failures sorted into transient and permanent."""
        try:
            response: dict[str, Any] = await self._client.converse(
                modelId=self.model_id,
                system=[{"text": self._system}],
                messages=[{"role": "user", "content": [{"text": text}]}],
                inferenceConfig=self._inference,
            )
        except ClientError as exc:
            raise _classify(exc) from exc
        except NETWORK_ERRORS as exc:
            raise TransientError(DEPENDENCY, f"{type(exc).__name__}: {exc}") from exc
        stop = response.get("stopReason")
        if stop in REFUSED_STOP_REASONS:
            raise PermanentError(
                DEPENDENCY, f"{self.model_id} refused to answer: stopReason={stop}"
            )
        content = response.get("output", {}).get("message", {}).get("content", [])
        reply = "".join(block.get("text", "") for block in content).strip()
        if not reply:
            raise PermanentError(
                DEPENDENCY, f"{self.model_id} returned no text (stopReason={stop})"
            )
        return reply


def _classify(exc: ClientError) -> TransientError | PermanentError:
    """Known codes first; an unknown code is transient only on 5xx or 429."""
    error = exc.response.get("Error", {})
    code = str(error.get("Code", "Unknown"))
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
    message = f"{code} (HTTP {status}): {error.get('Message', '')}"
    if code in TRANSIENT_CODES or (
        code not in PERMANENT_CODES and (status >= 500 or status == 429)
    ):
        return TransientError(DEPENDENCY, message)
    return PermanentError(DEPENDENCY, message)
