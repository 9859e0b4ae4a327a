"""Retries for the runtime's own AWS calls (acknowledge, release, dead-letter, publish).

These calls are the bookkeeping around a handler, and a blip on the endpoint must not turn a
finished message into a redelivery or hide a released one for a whole visibility timeout. Only
errors that another try can fix are retried: connection problems, throttling and 5xx.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential


def transient(exc: BaseException) -> bool:
    if isinstance(exc, ClientError):
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
        code = str(exc.response.get("Error", {}).get("Code", ""))
        return status >= 500 or status == 429 or "Throttl" in code
    return isinstance(exc, BotoCoreError | OSError | TimeoutError)


async def with_retries(call: Callable[..., Awaitable[Any]], /, **kwargs: Any) -> Any:
    retrying = AsyncRetrying(
        stop=stop_after_attempt(4),
        wait=wait_exponential(multiplier=0.2, max=2.0),
        retry=retry_if_exception(transient),
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            return await call(**kwargs)
    raise AssertionError("unreachable: tenacity either returns or re-raises")
