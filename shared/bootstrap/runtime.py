"""The one place a process wires its adapters: database, SQS, SNS, the publisher, the relay.

Services get the real ones from settings. Tests call `bootstrap()` with their own settings (an
emulator endpoint, a scratch database) and may hand in adapters of their own (an engine, SQS
and SNS clients, a publisher, providers), which are used as given and left for the caller to
close. Nothing is created at import time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from typing import Any
from uuid import UUID

from aiobotocore.session import AioSession
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared.adapters.aws import async_client, endpoint_unreachable
from shared.adapters.db.engine import (
    create_engine,
    create_reader,
    database_unreachable,
    session_factory,
)
from shared.adapters.db.uow import SqlUnitOfWork
from shared.adapters.outbox import OutboxRelay
from shared.adapters.providers.data import DataProvider
from shared.adapters.providers.llm import Writer
from shared.adapters.providers.mailer import Mailer
from shared.adapters.publisher import Publisher, SnsPublisher
from shared.adapters.topology import TOPOLOGY, Names, QueueSpec
from shared.config import Settings
from shared.consumer.consumer import Consumer, ConsumerOptions
from shared.consumer.handling import GiveUp, Handler
from shared.consumer.outage import Outage
from shared.domain.errors import NotProvisioned
from shared.domain.events import Event, StatusChange
from shared.observability.liveness import Heartbeats
from shared.observability.probes import Check
from shared.observability.tracing import trace_engine
from shared.service_layer.pausing import PauseGate
from shared.service_layer.steps import Step


class TopicNotProvisioned(NotProvisioned):
    pass


@dataclass(frozen=True)
class Adapters:
    """What a caller may hand `bootstrap()` instead of what settings would build."""

    engine: AsyncEngine | None = None
    sqs: Any = None
    sns: Any = None
    publisher: Publisher | None = None
    data_provider: DataProvider | None = None
    writer: Writer | None = None
    mailer: Mailer | None = None


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    sqs: Any
    sns: Any
    publisher: Publisher
    relay: OutboxRelay
    names: Names
    aws: AioSession
    stack: AsyncExitStack
    """Closes what services open on top (extra clients, providers) when the process ends."""
    given: Adapters = Adapters()
    """Adapters the caller handed in; the providers' wiring (providers.py) prefers them."""
    heartbeats: Heartbeats = field(default_factory=Heartbeats)
    """The process's loops, judged by the probe endpoint's /livez."""
    consumed: list[str] = field(default_factory=list)
    """URLs of the queues this process's consumers receive from (readiness checks them)."""
    reads: async_sessionmaker[AsyncSession] | None = None
    """Sessions for reads that need no transaction (engine.create_reader); else `sessions`."""

    @property
    def readers(self) -> async_sessionmaker[AsyncSession]:
        return self.reads or self.sessions

    def unit_of_work(
        self, consumer: str | None = None, event_id: UUID | None = None
    ) -> SqlUnitOfWork:
        return SqlUnitOfWork(
            self.sessions, self.relay, consumer=consumer, event_id=event_id, reads=self.readers
        )

    async def queue_url(self, spec: QueueSpec) -> str:
        response = await self.sqs.get_queue_url(QueueName=self.names.queue(spec))
        return str(response["QueueUrl"])

    async def consumer(
        self,
        spec: QueueSpec,
        handlers: dict[type[Event], Handler[SqlUnitOfWork]],
        on_give_up: GiveUp[SqlUnitOfWork] | None = None,
        **options: Any,
    ) -> Consumer[SqlUnitOfWork]:
        defaults = {
            "concurrency": self.settings.concurrency,
            "wait_time_seconds": self.settings.wait_time_seconds,
            "shutdown_grace_seconds": self.settings.shutdown_grace_seconds,
        }
        queue_url = await self.queue_url(spec)
        self.consumed.append(queue_url)
        return Consumer(
            name=spec.name,
            queue_url=queue_url,
            sqs=self.sqs,
            handlers=handlers,
            unit_of_work=self.unit_of_work,
            options=ConsumerOptions(**(defaults | options)),
            on_give_up=on_give_up,
            gate=PauseGate(self.readers, spec.depends_on).held if spec.pausable else None,
            heartbeats=self.heartbeats,
            outages=self.outages,
        )

    @cached_property
    def outages(self) -> tuple[Outage, ...]:
        """The process's watch on what every handler needs: the database, the AWS endpoint."""
        checks = self.readiness_checks()
        return (
            Outage("database", checks["database"], database_unreachable),
            Outage("aws", checks["aws"], endpoint_unreachable),
        )

    def readiness_checks(self) -> dict[str, Check]:
        """What /readyz asks: the database, and this process's queues (else its topic)."""

        async def database() -> None:
            async with self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))

        async def aws() -> None:
            for url in self.consumed:
                await self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
            if not self.consumed:
                topic_arn = getattr(self.publisher, "topic_arn", "")
                await self.sns.get_topic_attributes(TopicArn=topic_arn)

        return {"database": database, "aws": aws}

    async def step_consumer(self, spec: QueueSpec, step: Step) -> Consumer[SqlUnitOfWork]:
        """A consumer whose handler completes one pipeline step."""
        return await self.consumer(spec, {StatusChange: step.handle}, on_give_up=step.give_up)


@asynccontextmanager
async def bootstrap(
    settings: Settings | None = None, adapters: Adapters = Adapters()
) -> AsyncIterator[Runtime]:
    settings = settings or Settings()
    engine = adapters.engine or create_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
    )
    trace_engine(engine)
    reader = create_reader(engine.url.render_as_string(hide_password=False))
    if reader is not None:
        trace_engine(reader)
    try:
        async with AsyncExitStack() as stack:
            aws = AioSession()
            sqs = adapters.sqs or await stack.enter_async_context(
                async_client(aws, "sqs", settings)
            )
            sns = adapters.sns or await stack.enter_async_context(
                async_client(aws, "sns", settings)
            )
            names = Names(settings.env)
            publisher = adapters.publisher or await _sns_publisher(settings, sns, sqs, names)
            sessions = session_factory(engine)
            reads = session_factory(reader) if reader is not None else None
            relay = OutboxRelay(
                sessions,
                publisher,
                grace=timedelta(seconds=settings.outbox_grace_seconds),
                reads=reads,
            )
            yield Runtime(
                settings,
                engine,
                sessions,
                sqs,
                sns,
                publisher,
                relay,
                names,
                aws,
                stack,
                adapters,
                heartbeats=Heartbeats(settings.liveness_seconds),
                reads=reads,
            )
    finally:
        if reader is not None:
            await reader.dispose()
        if adapters.engine is None:
            await engine.dispose()


async def _sns_publisher(settings: Settings, sns: Any, sqs: Any, names: Names) -> SnsPublisher:
    topic_arn = settings.topic_arn or await find_topic(sns, names.topic(TOPOLOGY))
    return SnsPublisher(sns, topic_arn, sqs, names)


async def find_topic(sns: Any, name: str) -> str:
    """Look the topic up by name: services may publish to it but never create it."""
    token: str | None = None
    while True:
        page = await (sns.list_topics(NextToken=token) if token else sns.list_topics())
        for topic in page.get("Topics", []):
            if topic["TopicArn"].rsplit(":", 1)[-1] == name:
                return str(topic["TopicArn"])
        token = page.get("NextToken")
        if not token:
            raise TopicNotProvisioned(f"topic {name!r} does not exist: run `dripr provision` first")
