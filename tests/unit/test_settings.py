"""Settings that refuse to run unsafely against AWS, and AWS's own conventions kept."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from pydantic import ValidationError

from shared.adapters.aws import _client_kwargs
from shared.adapters.topology import TOPOLOGY
from shared.config import DEV_POSTAL_ADDRESS, DEV_UNSUBSCRIBE_SECRET, Settings, UnsafeSettings

GOOD_SECRET = "k" * 40
GOOD_TOKEN = "t" * 40


def production(**fields: object) -> Settings:
    values: dict[str, object] = {
        "aws_endpoint_url": None,
        "unsubscribe_secret": GOOD_SECRET,
        "public_base_url": "https://news.example.com",
        "api_token": GOOD_TOKEN,
        "postal_address": "Ada Agent Realty, 12 Main St, Springfield, IL 62701",
    }
    return Settings(**{**values, **fields})


def test_well_configured_settings_run_against_aws() -> None:
    production().refuse_unsafe()


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"unsubscribe_secret": DEV_UNSUBSCRIBE_SECRET}, "development value shipped with dripr"),
        ({"unsubscribe_secret": "s" * 20}, "DRIPR_UNSUBSCRIBE_SECRET has 20 bytes"),
        ({"public_base_url": "http://news.example.com"}, "must be https"),
        ({"api_token": "a" * 20}, "DRIPR_API_TOKEN has 20 characters"),
        ({"postal_address": DEV_POSTAL_ADDRESS}, "DRIPR_POSTAL_ADDRESS is the demo address"),
        ({"api_token": "change-me-to-a-long-secret"}, "an example from dripr's documentation"),
        ({"api_token": "local-operator-token-change-me"}, "an example from dripr's documentation"),
    ],
)
def test_an_unsafe_setting_is_refused_by_name_without_printing_it(
    fields: dict[str, object], named: str
) -> None:
    with pytest.raises(UnsafeSettings, match=named) as refused:
        production(**fields).refuse_unsafe()

    message = str(refused.value)
    for secret in (fields.get("unsubscribe_secret"), fields.get("api_token"), GOOD_TOKEN):
        assert secret is None or str(secret) not in message


def test_every_problem_is_named_at_once() -> None:
    unsafe = Settings(aws_endpoint_url=None)

    with pytest.raises(UnsafeSettings) as refused:
        unsafe.refuse_unsafe()

    assert "DRIPR_UNSUBSCRIBE_SECRET" in str(refused.value)
    assert "DRIPR_PUBLIC_BASE_URL" in str(refused.value)


def test_an_emulator_may_run_on_development_values() -> None:
    Settings(aws_endpoint_url="http://localhost:4566").refuse_unsafe()


def test_a_private_aws_endpoint_is_aws_not_an_emulator() -> None:
    vpce = "https://vpce-0abc.sqs.eu-west-1.vpce.amazonaws.com"
    private = production(aws_endpoint_url=vpce, aws_region="eu-west-1")

    assert not private.on_emulator
    kwargs = _client_kwargs("sqs", private)
    assert kwargs["endpoint_url"] == vpce
    assert "aws_access_key_id" not in kwargs  # the role's credentials, from the chain
    with pytest.raises(UnsafeSettings):
        production(aws_endpoint_url=vpce, unsubscribe_secret=DEV_UNSUBSCRIBE_SECRET).refuse_unsafe()


def test_the_region_and_credentials_come_from_the_standard_chain_against_aws() -> None:
    kwargs = _client_kwargs("sqs", production(aws_region=None))

    assert "region_name" not in kwargs and "aws_access_key_id" not in kwargs
    assert kwargs["config"].retries == {"total_max_attempts": 3, "mode": "standard"}


def test_an_emulator_gets_a_region_and_test_credentials_unless_some_are_set() -> None:
    emulator = Settings(aws_endpoint_url="http://127.0.0.1:5000", aws_region=None)
    keyed = Settings(aws_endpoint_url="http://127.0.0.1:5000", aws_access_key_id="AKIAREAL")

    assert _client_kwargs("sqs", emulator)["region_name"] == "us-east-1"
    assert _client_kwargs("sqs", emulator)["aws_access_key_id"] == "test"
    assert "aws_access_key_id" not in _client_kwargs("sqs", keyed)


def test_retries_are_configured_the_standard_way(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "5")
    monkeypatch.setenv("AWS_RETRY_MODE", "adaptive")

    retries = _client_kwargs("sqs", Settings())["config"].retries

    assert retries == {"total_max_attempts": 5, "mode": "adaptive"}


def test_secrets_do_not_print() -> None:
    settings = production()

    assert GOOD_SECRET not in repr(settings) and GOOD_TOKEN not in repr(settings)


def test_a_service_started_against_aws_on_shipped_values_exits_and_says_why() -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "DRIPR_")) and k != "DATABASE_URL"
    }
    done = subprocess.run(
        [sys.executable, "-m", "services.scheduler"],
        env={**env, "AWS_DEFAULT_REGION": "eu-west-1"},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 1
    assert "dripr scheduler: refusing to run against AWS" in done.stderr
    assert DEV_UNSUBSCRIBE_SECRET not in done.stderr


def test_a_database_password_from_a_secret_is_joined_to_a_url_without_one() -> None:
    settings = Settings(
        database_url="mysql+asyncmy://dripr@db.internal:3306/dripr", database_password="p@ss/w:rd"
    )

    assert settings.database_url == "mysql+asyncmy://dripr:p%40ss%2Fw%3Ard@db.internal:3306/dripr"
    assert "p@ss" not in repr(settings)
    kept = Settings(database_url="mysql+asyncmy://u:own@h/d", database_password="other")
    assert kept.database_url == "mysql+asyncmy://u:own@h/d"


def test_a_service_s_own_endpoint_variable_wins_over_the_shared_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SES", "http://127.0.0.1:7001")
    emulator = Settings(aws_endpoint_url="http://127.0.0.1:5000")

    assert _client_kwargs("ses", emulator)["endpoint_url"] == "http://127.0.0.1:7001"
    assert _client_kwargs("sqs", emulator)["endpoint_url"] == "http://127.0.0.1:5000"


@pytest.mark.parametrize("field", ["api_token", "unsubscribe_secret"])
def test_a_secret_too_short_to_accept_is_not_printed_in_the_error(field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(**{field: "hunter2"})

    assert "hunter2" not in str(refused.value)


def test_queues_are_tuned_one_by_one_and_the_rest_keep_the_topology_s(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "DRIPR_QUEUES",
        '{"email-sender": {"visibility_timeout": 45, "max_receive_count": 8},'
        ' "intro": {"retention_seconds": 3600, "dlq_retention_seconds": 86400}}',
    )
    topology = Settings().topology
    sender, intro = topology.queue("email-sender"), topology.queue("intro")
    assert (sender.visibility_timeout, sender.max_receive_count) == (45, 8)
    assert (sender.retention_seconds, sender.dlq_retention_seconds) == (345_600, 1_209_600)
    assert (intro.visibility_timeout, intro.retention_seconds) == (30, 3600)
    assert intro.dlq_retention_seconds == 86_400
    untouched = [spec.name for spec in topology.queues if spec in TOPOLOGY.queues]
    assert sorted(untouched) == sorted(
        spec.name for spec in TOPOLOGY.queues if spec.name not in ("email-sender", "intro")
    )


@pytest.mark.parametrize(
    ("wrong", "says"),
    [
        ('{"email_sender": {"visibility_timeout": 45}}', "no queue 'email_sender'; known: "),
        ('{"intro": {"visibility_timeout": 5}}', "greater than or equal to 10"),
        ('{"intro": {"visibility_timeout": 43201}}', "less than or equal to 43200"),
        ('{"intro": {"max_receive_count": 0}}', "greater than or equal to 1"),
        ('{"intro": {"retention_seconds": 1209601}}', "less than or equal to 1209600"),
        ('{"intro": {"visibilty_timeout": 60}}', "Extra inputs are not permitted"),
        (
            '{"intro": {"retention_seconds": 86400, "dlq_retention_seconds": 3600}}',
            "intro: dlq_retention_seconds 3600 is shorter than retention_seconds 86400",
        ),
        ('{"intro": 60}', "valid dictionary"),
    ],
)
def test_a_queue_tuning_outside_sqs_s_rules_is_refused(
    monkeypatch: pytest.MonkeyPatch, wrong: str, says: str
) -> None:
    monkeypatch.setenv("DRIPR_QUEUES", wrong)
    with pytest.raises(ValidationError, match=says):
        Settings()


def test_a_bad_setting_exits_2_naming_each_variable_not_with_a_traceback() -> None:
    for command in (["-m", "shared.entrypoints.cli", "provision"], ["-m", "services.intro"]):
        done = subprocess.run(
            [sys.executable, *command],
            env={
                **os.environ,
                "DRIPR_QUEUES": '{"intro": {"visibilty_timeout": 60}}',
                "DRIPR_CONCURRENCY": "0",
            },
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert "DRIPR_CONCURRENCY: Input should be greater than or equal to 1" in done.stderr
        assert (
            "DRIPR_QUEUES: intro: visibilty_timeout: Extra inputs are not permitted" in done.stderr
        )
