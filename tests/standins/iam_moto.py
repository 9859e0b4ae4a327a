"""moto's server with IAM enforced, authorizing against the resources AWS authorizes against.

`INITIAL_NO_AUTH_ACTION_COUNT` makes moto check every request's credentials and policies after
that many unauthenticated actions (enough to create an admin). moto then matches each action
against the resource its service handler names, and three handlers name none, so moto checks
them against "*" and a policy scoped to real ARNs is refused where AWS would allow it:

- SNS Publish: AWS authorizes on the topic (`TopicArn`);
- SQS GetQueueUrl: on the queue named by `QueueName` (moto reads only `QueueUrl`);
- SES SendEmail / SendRawEmail: on the sending identity (the `Source` address's domain).

And SQS's batch actions are authorized by their single actions' permissions (the SQS developer
guide: DeleteMessageBatch needs sqs:DeleteMessage; IAM has no sqs:DeleteMessageBatch action),
where moto asks for the batch action itself.

This stand-in does both, and nothing else differs from `moto_server`. Run it as
`python -m tests.standins.iam_moto PORT`.
"""

from __future__ import annotations

import os
import sys

NO_AUTH_ACTIONS = 3
"""create_user, put_user_policy and create_access_key for the admin; everything else is checked."""

# moto reads this when it is imported, so it is set before the imports below.
os.environ.setdefault("INITIAL_NO_AUTH_ACTION_COUNT", str(NO_AUTH_ACTIONS))

from moto.iam.access_control import IAMRequest  # noqa: E402
from moto.server import main as moto_main  # noqa: E402
from moto.ses.responses import EmailResponse  # noqa: E402
from moto.sns.responses import SNSResponse  # noqa: E402
from moto.sqs.responses import SQSResponse  # noqa: E402


def _topic(self: SNSResponse) -> str:
    return str(self._get_param("TopicArn") or self._get_param("TargetArn") or "*")


def _sending_identity(self: EmailResponse) -> str:
    source = str(self._get_param("Source") or "")
    if not source:
        return "*"
    domain = source.rsplit("@", 1)[-1].strip(">").lower()
    return f"arn:aws:ses:{self.region}:{self.current_account}:identity/{domain}"


_queue_of_url = SQSResponse._get_queue_name


def _queue_name(self: SQSResponse) -> str:
    named = self._get_param("QueueName")
    return str(named) if named else _queue_of_url(self)


class _SqsRequest(IAMRequest):
    BATCHES = {
        "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
        "sqs:SendMessageBatch": "sqs:SendMessage",
        "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
    }

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._action = self.BATCHES.get(self._action, self._action)


def _authorize_sqs(self: SQSResponse, resource: str = "*") -> None:
    self._authenticate_and_authorize_action(_SqsRequest, resource)


def install() -> None:
    SNSResponse._determine_resource = _topic  # type: ignore[attr-defined]
    EmailResponse._determine_resource = _sending_identity  # type: ignore[attr-defined]
    SQSResponse._get_queue_name = _queue_name  # type: ignore[method-assign]
    SQSResponse._authenticate_and_authorize_normal_action = _authorize_sqs  # type: ignore[method-assign]


if __name__ == "__main__":
    install()
    moto_main(["-H", "127.0.0.1", "-p", sys.argv[1]])
