"""One typed settings object. Environment variable names live here and nowhere else.

Against real AWS (no emulator endpoint) `refuse_unsafe()` stops a service that would run on
development values: the unsubscribe secret shipped here, a short secret or token, links that
are not https. Secrets are `SecretStr`: they print as `**********`.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

from shared.adapters.topology import TOPOLOGY, QueueTuning, Topology
from shared.domain.errors import DriprError

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///.dripr/dripr.db"
DEV_UNSUBSCRIBE_SECRET = "dripr-dev-only-secret-change-me"
DEV_POSTAL_ADDRESS = "dripr demo · 1 Example Street · Springfield, IL 62701"
MIN_PRODUCTION_SECRET_BYTES = 32
EXAMPLE_API_TOKENS = frozenset({"change-me-to-a-long-secret", "local-operator-token-change-me"})
"""The tokens docs/ and the compose file show: fine on an emulator, refused against AWS."""
EMULATOR_REGION = "us-east-1"
"""Emulators need some region; against AWS the standard chain (env, profile) chooses it."""


def is_emulator(endpoint_url: str | None) -> bool:
    """An endpoint is set and it is not AWS's own (a private VPC endpoint is still AWS)."""
    if not endpoint_url:
        return False
    host = (urlsplit(endpoint_url).hostname or "").lower()
    return not host.endswith((".amazonaws.com", ".amazonaws.com.cn", ".api.aws"))


class UnsafeSettings(DriprError):
    """A setting that is fine on an emulator would be unsafe against real AWS."""


class Settings(BaseSettings):
    """Standard names where a standard exists (DATABASE_URL, AWS_*), DRIPR_* for the rest."""

    model_config = SettingsConfigDict(
        env_prefix="DRIPR_",
        extra="ignore",
        populate_by_name=True,
        hide_input_in_errors=True,  # a too-short secret must not be printed in the error
    )

    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        validation_alias="DATABASE_URL",
        repr=False,
        description="SQLAlchemy async URL: mysql+asyncmy://user:pass@host:3306/dripr in "
        "production, SQLite for the embedded default",
    )
    database_password: SecretStr | None = Field(
        None,
        description="joined to DATABASE_URL when it has none (ECS injects it from Secrets Manager)",
    )
    aws_endpoint_url: str | None = Field(
        None,
        validation_alias="AWS_ENDPOINT_URL",
        description="an emulator (LocalStack, moto); unset for AWS",
    )
    aws_region: str | None = Field(
        None,
        validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION"),
        description="unset: the standard chain (AWS_REGION, the profile's region)",
    )
    aws_max_attempts: int = Field(
        3,
        ge=1,
        validation_alias=AliasChoices("AWS_MAX_ATTEMPTS", "DRIPR_AWS_MAX_ATTEMPTS"),
        description="attempts per AWS call, retries included: the one retry layer (botocore's)",
    )
    aws_retry_mode: Literal["standard", "adaptive", "legacy"] = Field(
        "standard", validation_alias="AWS_RETRY_MODE", description="botocore's retry mode"
    )
    aws_access_key_id: str | None = Field(
        None,
        validation_alias="AWS_ACCESS_KEY_ID",
        repr=False,
        description="only looked at: with an emulator endpoint and none set, `test` is used",
    )

    env: str = Field("dev", pattern=r"^[a-z0-9][a-z0-9-]{0,20}$", description="name prefix")
    topic_arn: str | None = Field(None, description="skip the topic lookup by name")

    log_format: Literal["auto", "json", "console"] = Field(
        "auto", description="json in containers; auto: JSON unless a terminal"
    )
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING or ERROR")

    probe_port: int = Field(
        9464, ge=0, le=65535, description="each service's /metrics, /livez, /readyz; 0: none"
    )
    probe_host: str = Field("0.0.0.0", description="where the probe endpoint listens")  # nosec B104
    queue_watch_seconds: float = Field(
        30.0, gt=0, description="how often the control API reads queue depths for its gauges"
    )
    liveness_seconds: float = Field(120.0, gt=0, description="a loop silent this long fails /livez")

    concurrency: int = Field(10, ge=1, le=100, description="handlers in flight per consumer")
    db_pool_size: int = Field(10, ge=1, le=200, description="database connections kept open")
    db_max_overflow: int = Field(
        10, ge=0, le=200, description="extra connections allowed while busy (MySQL only)"
    )
    wait_time_seconds: int = Field(10, ge=0, le=20, description="SQS long-poll wait")
    queues: dict[str, QueueTuning] = Field(
        default_factory=dict,
        description="queue → what `dripr provision` sets on it, over the defaults (JSON, e.g. "
        '{"intro": {"visibility_timeout": 60, "max_receive_count": 3}}); the keys are in the '
        "queue tuning table below",
    )
    shutdown_grace_seconds: float = Field(
        20.0, ge=0, description="on SIGTERM, how long handlers in flight may finish"
    )
    scheduler_interval_seconds: float = Field(
        5.0, gt=0, description="the scheduler's tick: due campaigns, the outbox sweep"
    )
    outbox_grace_seconds: float = Field(10.0, ge=0, description="age before the sweep republishes")

    data_provider: Literal["sample", "http"] = Field(
        "sample", description="sample (embedded) or http (the property-data REST API)"
    )
    data_api_url: str | None = Field(None, description="base URL of the property-data REST API")
    data_api_key: SecretStr | None = Field(None, description="sent as X-Api-Key")
    data_kinds: str | None = Field(
        None, description="comma-separated data queues one data_fetcher runs (default: all)"
    )
    data_timeout_seconds: float = Field(10.0, gt=0, description="per property-data request")

    llm: Literal["template", "bedrock"] = Field(
        "template", description="template (embedded) or bedrock"
    )
    bedrock_model_id: str = Field(
        "anthropic.claude-3-5-haiku-20241022-v1:0",
        description="the model the intro and home report invoke",
    )
    bedrock_endpoint_url: str | None = Field(
        None,
        validation_alias=AliasChoices(
            "DRIPR_BEDROCK_ENDPOINT_URL", "AWS_ENDPOINT_URL_BEDROCK_RUNTIME"
        ),
        description="emulators have no Bedrock, so it has an endpoint of its own",
    )
    llm_timeout_seconds: float = Field(60.0, gt=0, description="per Bedrock call")

    api_token: SecretStr | None = Field(
        None, min_length=16, description="operators' bearer token (32+ characters against AWS)"
    )
    api_host: str = Field("127.0.0.1", description="where the control API listens")
    api_port: int = Field(8000, ge=1, le=65535, description="the control API's port")
    api_forwarded_allow_ips: str = Field(
        "127.0.0.1",
        description="proxies whose X-Forwarded-Proto/For are believed (a TLS-terminating load "
        "balancer: its addresses, or * when only it can reach the API); cookies stay Secure",
    )
    api_docs: bool = Field(True, description="serve the API's docs page at /docs")
    api_max_body_bytes: int = Field(
        2 * 1024 * 1024,
        ge=1024,
        le=100 * 1024 * 1024,
        description="larger request bodies are refused (413) before they are read",
    )

    breaker_ignore: str = Field(
        "",
        description="comma-separated error texts a breaker does not count (e.g. Throttling)",
    )

    sender_email: str = Field(
        "newsletters@dripr.example",
        description="SES source address; provisioning verifies its domain",
    )
    postal_address: str = Field(
        DEV_POSTAL_ADDRESS,
        min_length=1,
        description="the sender's postal address, in every email's footer (CAN-SPAM)",
    )
    unsubscribe_mailto: str | None = Field(
        None, description="an address for List-Unsubscribe's mailto, beside the https link"
    )
    ses_configuration_set: str | None = Field(
        None,
        description="SES configuration set every email goes out with; default: the one "
        "provisioning creates (`<env>-dripr`), whose events feed the feedback service",
    )
    send_batch_size: int = Field(50, ge=1, le=1000, description="default for new sends")
    send_delay_ms: int = Field(100, ge=0, le=60_000, description="between two emails of a batch")
    send_cooldown_seconds: int = Field(5, ge=0, le=3600, description="between two batches")
    send_max_attempts: int = Field(3, ge=1, le=10, description="per recipient, transient errors")
    send_retry_base_seconds: float = Field(0.5, ge=0, description="first backoff of a retry")
    send_claim_timeout_seconds: float = Field(
        300.0, gt=0, description="a SENDING claim older than this was left by a dead sender"
    )
    send_claim_resend: bool = Field(
        True,
        description="resend a claim SES sent no Send event for within the claim timeout "
        "(the configuration set's Send events must flow); false: mark it FAILED",
    )
    send_rate_cap: float | None = Field(
        None, gt=0, le=10_000, description="emails/s for the whole account, every sender together"
    )
    send_rate_from_quota: bool | None = Field(
        None,
        description="also keep under SES's MaxSendRate, read at start and refreshed; "
        "unset: yes against AWS, no on an emulator (moto reports 1/s)",
    )
    send_quota_refresh_seconds: float = Field(
        300.0, gt=0, description="how often the sender rereads SES's MaxSendRate"
    )
    send_rate_headroom: float = Field(
        0.9,
        ge=0.5,
        le=1.0,
        description="pace at this share of the rate, room for the jitter of a request's arrival",
    )
    feedback_transient_bounce_limit: int = Field(
        3, ge=1, le=100, description="soft bounces in a row that suppress an address"
    )
    guard_bounce_rate: float = Field(
        0.05, gt=0, le=1, description="a send's hard-bounce rate that pauses it (SES reviews at 5%)"
    )
    guard_complaint_rate: float = Field(
        0.001, gt=0, le=1, description="a send's complaint rate that pauses it (SES: 0.1%)"
    )
    guard_min_sent: int = Field(100, ge=1, description="emails sent before the guard judges")
    public_base_url: str = Field(
        "http://localhost:8000",
        description="base of the unsubscribe links; https against AWS",
    )
    unsubscribe_secret: SecretStr = Field(
        SecretStr(DEV_UNSUBSCRIBE_SECRET),
        min_length=16,
        description="signs unsubscribe links (32+ bytes, not the shipped value, against AWS)",
    )

    @field_validator("queues")
    @classmethod
    def _known_queues(cls, value: dict[str, QueueTuning]) -> dict[str, QueueTuning]:
        TOPOLOGY.tuned(value)
        return value

    @property
    def topology(self) -> Topology:
        """The queues as `dripr provision` makes them: the topology with DRIPR_QUEUES applied."""
        return TOPOLOGY.tuned(self.queues)

    @model_validator(mode="after")
    def _join_database_password(self) -> Settings:
        if self.database_password is not None:
            url = make_url(self.database_url)
            if url.password is None:
                password = self.database_password.get_secret_value()
                self.database_url = url.set(password=password).render_as_string(False)
        return self

    @property
    def on_emulator(self) -> bool:
        """Whether AWS_ENDPOINT_URL names an emulator (see `is_emulator`)."""
        return is_emulator(self.aws_endpoint_url)

    @property
    def region(self) -> str | None:
        """The configured region; on an emulator, a default one; else None (botocore's chain)."""
        return self.aws_region or (EMULATOR_REGION if self.on_emulator else None)

    def refuse_unsafe(self) -> None:
        """Raise `UnsafeSettings` naming every setting that is unsafe against real AWS."""
        if self.on_emulator:
            return
        problems = []
        secret = self.unsubscribe_secret.get_secret_value()
        if secret == DEV_UNSUBSCRIBE_SECRET:
            problems.append(
                "DRIPR_UNSUBSCRIBE_SECRET is the development value shipped with dripr, so anyone "
                "could sign an unsubscribe link for any recipient"
            )
        elif len(secret.encode()) < MIN_PRODUCTION_SECRET_BYTES:
            problems.append(
                f"DRIPR_UNSUBSCRIBE_SECRET has {len(secret.encode())} bytes; it needs at least "
                f"{MIN_PRODUCTION_SECRET_BYTES} (e.g. `openssl rand -base64 48`)"
            )
        if urlsplit(self.public_base_url).scheme != "https":
            problems.append(
                f"DRIPR_PUBLIC_BASE_URL is {self.public_base_url!r}; the links in every email "
                "must be https"
            )
        if self.postal_address == DEV_POSTAL_ADDRESS:
            problems.append(
                "DRIPR_POSTAL_ADDRESS is the demo address; commercial email must carry the "
                "sender's real postal address"
            )
        token = self.api_token.get_secret_value() if self.api_token else None
        if token in EXAMPLE_API_TOKENS:
            problems.append(
                "DRIPR_API_TOKEN is an example from dripr's documentation; generate one "
                "(`openssl rand -base64 48`)"
            )
        elif token is not None and len(token) < MIN_PRODUCTION_SECRET_BYTES:
            problems.append(
                f"DRIPR_API_TOKEN has {len(token)} characters; it needs at least "
                f"{MIN_PRODUCTION_SECRET_BYTES} against AWS"
            )
        if problems:
            raise UnsafeSettings(
                "refusing to run against AWS (no emulator endpoint): " + "; ".join(problems)
            )


class ClientSettings(BaseSettings):
    """What the `dripr` operator commands read: where the control API is and who is calling.

    Apart from `Settings` because a client holds no server secret: its token is checked by the
    API, not by a length rule here.
    """

    model_config = SettingsConfigDict(
        env_prefix="DRIPR_",
        extra="ignore",
        populate_by_name=True,
        hide_input_in_errors=True,  # a too-short secret must not be printed in the error
    )

    api_url: str = "http://127.0.0.1:8000"
    api_token: str | None = Field(None, repr=False)
    operator: str | None = Field(
        None,
        validation_alias=AliasChoices("DRIPR_OPERATOR", "USER"),
        description="who acts, for the audit log (X-Operator)",
    )
