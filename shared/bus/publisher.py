"""The one publisher: events onto the STATUS_CHANGE topic, attributes set for filter policies."""

from __future__ import annotations

from typing import Any

from shared.bus.retrying import with_retries
from shared.events import Event


class SnsPublisher:
    def __init__(self, sns: Any, topic_arn: str) -> None:
        self._sns = sns
        self.topic_arn = topic_arn

    async def publish(self, event: Event) -> None:
        await with_retries(
            self._sns.publish,
            TopicArn=self.topic_arn,
            Message=event.model_dump_json(),
            MessageAttributes=string_attributes(event.message_attributes()),
        )


def string_attributes(values: dict[str, str]) -> dict[str, dict[str, str]]:
    return {key: {"DataType": "String", "StringValue": value} for key, value in values.items()}
