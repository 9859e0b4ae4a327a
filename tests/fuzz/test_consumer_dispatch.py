"""The consumer runtime's handling of one message, on the fake SQS that keeps SQS's rules
(tests/fakes.py).

Whatever the body, the attributes or the handler's outcome, a message ends handled (deleted),
released for a retry, or in the DLQ with a reason SQS accepts; nothing escapes to the loop.
"""

from __future__ import annotations

from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from shared.consumer.consumer import Consumer, ConsumerOptions
from shared.consumer.outcomes import Reject, Retry
from shared.domain.events import StatusChange
from shared.domain.statuses import CampaignStatus
from shared.service_layer.unit_of_work import AlreadyProcessed
from tests.fakes import RuleKeepingSqs, sqs_text
from tests.fuzz.strategies import bodies, texts

MAX_RECEIVES = 5


class StandInUnitOfWork:
    """The handlers here never open it: what they do is the outcome drawn."""


OUTCOMES = ("ok", "reject", "retry", "raise", "already_processed")


def handler_doing(outcome: str, text: str) -> Any:
    async def handle(event: StatusChange, uow: Any) -> None:
        if outcome == "reject":
            raise Reject(text)
        if outcome == "retry":
            raise Retry(text, delay=0.5)
        if outcome == "raise":
            raise RuntimeError(text)
        if outcome == "already_processed":
            raise AlreadyProcessed()

    return handle


attribute_names = st.from_regex(r"\A[A-Za-z0-9_\-.]{1,20}\Z").filter(
    lambda n: not n.startswith(("AWS.", "Amazon."))
)
attribute_values = st.one_of(
    texts.map(sqs_text).filter(bool).map(lambda v: {"DataType": "String", "StringValue": v}),
    st.integers().map(lambda v: {"DataType": "Number", "StringValue": str(v)}),
    st.binary(min_size=1).map(lambda v: {"DataType": "Binary", "BinaryValue": v}),
    st.sampled_from(CampaignStatus).map(
        lambda v: {"DataType": "String.to_status", "StringValue": v.value}
    ),
)
messages = st.fixed_dictionaries(
    {
        "MessageId": st.uuids().map(str),
        "ReceiptHandle": st.text("abcdef0123456789", min_size=8, max_size=8),
        "Body": bodies.map(sqs_text).filter(bool),
        "MessageAttributes": st.dictionaries(attribute_names, attribute_values, max_size=10),
        "Attributes": st.fixed_dictionaries(
            {"ApproximateReceiveCount": st.integers(1, MAX_RECEIVES).map(str)}
        ),
    }
)

MANY_ATTRIBUTES = {
    "MessageId": "m-1",
    "ReceiptHandle": "r-1",
    "Body": "not json",
    "MessageAttributes": {f"a{i}": {"DataType": "String", "StringValue": "x"} for i in range(7)},
}
CONTROL_CHARACTER_KEY = {
    "MessageId": "m-2",
    "ReceiptHandle": "r-2",
    "Body": '{"event_type": "SEND_BATCH", "\\u0000": 1}',
}


@given(
    message=messages,
    outcome=st.sampled_from(OUTCOMES),
    text=texts,
)
@example(message=MANY_ATTRIBUTES, outcome="ok", text="")  # 11 attributes to the DLQ
@example(message=CONTROL_CHARACTER_KEY, outcome="ok", text="")  # NUL in the reason
@example(
    message={
        **MANY_ATTRIBUTES,
        "Body": StatusChange(
            campaign_id=1, cycle=1, from_status="DORMANT", to_status="WAITING_FOR_DATA"
        ).model_dump_json(),
    },
    outcome="reject",
    text="\x00\ud800",
)  # a handler's exception text that SQS refuses
async def test_every_message_is_handled_released_or_dead_lettered_with_a_reason(
    message: dict[str, Any], outcome: str, text: str
) -> None:
    sqs = RuleKeepingSqs(max_receive_count=MAX_RECEIVES)
    consumer = Consumer(
        "intro",
        RuleKeepingSqs.QUEUE,
        sqs,
        {StatusChange: handler_doing(outcome, text)},
        lambda _name, _event_id: StandInUnitOfWork(),  # type: ignore[arg-type, return-value]
        ConsumerOptions(backoff_base_seconds=0.01),
    )
    await consumer.prepare()

    await consumer.handling.dispatch(message)  # the runtime's own errors would surface here
    await consumer.deleter.close()

    receipt = message["ReceiptHandle"]
    if sqs.dead_letters:
        (attributes,) = sqs.dead_letters
        assert attributes["failure_reason"]["StringValue"].strip()
        assert attributes["source_message_id"]["StringValue"] == message["MessageId"]
        assert sqs.deleted == [receipt] and sqs.released == []
    else:
        handled, released = sqs.deleted == [receipt], sqs.released == [receipt]
        assert handled != released, (sqs.deleted, sqs.released)
        assert released == (outcome in ("retry", "raise"))
