import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from shared.adapters.retrying import transient, with_retries


def _client_error(status: int, code: str) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "ChangeMessageVisibility",
    )


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (EndpointConnectionError(endpoint_url="http://x"), True),
        (_client_error(500, "InternalFailure"), True),
        (_client_error(400, "ThrottlingException"), True),
        (_client_error(400, "ReceiptHandleIsInvalid"), False),
        (_client_error(404, "NotFound"), False),
        (ValueError("bug"), False),
    ],
)
def test_only_errors_another_try_can_fix_are_transient(error: Exception, expected: bool) -> None:
    assert transient(error) is expected


async def test_a_blip_is_retried_and_a_client_error_is_not() -> None:
    calls: list[str] = []

    async def flaky(**kwargs: str) -> str:
        calls.append(kwargs["QueueUrl"])
        if len(calls) < 3:
            raise EndpointConnectionError(endpoint_url="http://x")
        return "ok"

    assert await with_retries(flaky, QueueUrl="q") == "ok"
    assert calls == ["q", "q", "q"]

    async def refused(**kwargs: str) -> str:
        calls.append("refused")
        raise _client_error(400, "ReceiptHandleIsInvalid")

    with pytest.raises(ClientError):
        await with_retries(refused)
    assert calls.count("refused") == 1
