"""`make image-test`: the pipeline run from the image, every service a container.

Against the local MariaDB (a scratch database) and a moto server on this host: migrate and
provision from the image, one campaign seeded, every service started as its own container,
the campaign followed to its emails, then each container stopped with SIGTERM and checked to
have drained and exited 0. Prints what took how long; exits 1 on any failure.

Containers run with podman where there is no Docker engine (the flags these machines need are
in ../shared/recipes/containers-without-docker.md), else with docker.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from sqlalchemy import func, select

from shared.adapters.db.engine import create_engine, session_factory
from shared.adapters.db.models import Campaign, Delivery
from shared.devtools.emulator import free_port, moto_server
from shared.domain.statuses import CampaignStatus, DeliveryStatus
from shared.entrypoints.runner import SERVICES
from tests.factories import make_campaign
from tests.support import scratch_mysql_database

TOKEN = "image-test-operator-token-0123456789"


def engine_command() -> list[str]:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "info"], capture_output=True).returncode == 0:
        return [docker]
    return [
        "podman",
        "--storage-driver",
        "vfs",
        "--cgroup-manager=cgroupfs",
        "--events-backend=file",
        "--runtime",
        "runc",
    ]


class Containers:
    def __init__(self, image: str, env: dict[str, str]) -> None:
        self.engine = engine_command()
        self.image = image
        self.env = env
        self.started: list[str] = []

    def _run_flags(self, extra_env: dict[str, str]) -> list[str]:
        flags = ["--network", "host", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]
        for key, value in {**self.env, **extra_env}.items():
            flags += ["-e", f"{key}={value}"]
        return flags

    def once(self, *command: str) -> str:
        """`dripr <command>` in a container of its own, to its end."""
        done = subprocess.run(
            [
                *self.engine,
                "run",
                "--rm",
                *self._run_flags({}),
                "--entrypoint",
                "dripr",
                self.image,
                *command,
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            raise RuntimeError(f"dripr {' '.join(command)} failed:\n{done.stdout}{done.stderr}")
        return done.stdout

    def start(self, service: str, **extra_env: str) -> None:
        name = f"dripr-image-test-{service.replace('_', '-')}"
        subprocess.run([*self.engine, "rm", "-f", name], capture_output=True)
        subprocess.run(
            [
                *self.engine,
                "run",
                "-d",
                "--name",
                name,
                *self._run_flags(extra_env),
                self.image,
                service,
            ],
            check=True,
            capture_output=True,
            timeout=300,
        )
        self.started.append(name)

    def exec(self, name: str, *command: str) -> str:
        done = subprocess.run(
            [*self.engine, "exec", name, *command], capture_output=True, text=True, timeout=60
        )
        return done.stdout + done.stderr

    def stop(self, name: str) -> tuple[int, str]:
        """SIGTERM (the image's STOPSIGNAL), 30 s to drain; the exit code and the logs."""
        subprocess.run([*self.engine, "stop", "-t", "30", name], capture_output=True, timeout=60)
        code = subprocess.run(
            [*self.engine, "inspect", "--format", "{{.State.ExitCode}}", name],
            capture_output=True,
            text=True,
        ).stdout.strip()
        logs = subprocess.run([*self.engine, "logs", name], capture_output=True, text=True)
        return int(code or -1), logs.stdout + logs.stderr

    def remove_all(self) -> None:
        for name in self.started:
            subprocess.run([*self.engine, "rm", "-f", name], capture_output=True)


@contextmanager
def timed(label: str, timings: dict[str, float]) -> Iterator[None]:
    began = time.monotonic()
    yield
    timings[label] = round(time.monotonic() - began, 1)
    print(f"{label}: {timings[label]} s", flush=True)


async def campaign_sent(database_url: str, campaign_id: int, recipients: int) -> bool:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            campaign = await session.get(Campaign, campaign_id)
            sent = await session.scalar(
                select(func.count()).where(
                    Delivery.campaign_id == campaign_id, Delivery.status == DeliveryStatus.SENT
                )
            )
    finally:
        await engine.dispose()
    return (
        campaign is not None
        and campaign.campaign_status is CampaignStatus.DORMANT
        and campaign.cycle == 1
        and sent == recipients
    )


async def seed(database_url: str, recipients: int) -> int:
    engine = create_engine(database_url)
    try:
        return await make_campaign(session_factory(engine), recipients=recipients)
    finally:
        await engine.dispose()


def run(image: str, timeout: float) -> int:
    timings: dict[str, float] = {}
    failures: list[str] = []
    recipients = 3
    with scratch_mysql_database() as database_url, moto_server() as endpoint:
        env = {
            "DATABASE_URL": database_url.replace("localhost", "127.0.0.1"),
            "AWS_ENDPOINT_URL": endpoint,
            "DRIPR_ENV": "image",
            "DRIPR_WAIT_TIME_SECONDS": "1",
            "DRIPR_SCHEDULER_INTERVAL_SECONDS": "1",
            "DRIPR_SEND_COOLDOWN_SECONDS": "0",
            "DRIPR_SEND_DELAY_MS": "0",
            "DRIPR_SHUTDOWN_GRACE_SECONDS": "10",
        }
        containers = Containers(image, env)
        try:
            with timed("migrate from the image", timings):
                containers.once("migrate")
            with timed("provision from the image", timings):
                containers.once("provision")
            campaign_id = asyncio.run(seed(database_url, recipients))
            api_port = free_port()
            with timed("start 7 containers, and the campaign to its emails", timings):
                for service in SERVICES:
                    containers.start(service, DRIPR_API_TOKEN=TOKEN, DRIPR_API_PORT=str(api_port))
                deadline = time.monotonic() + timeout
                while not asyncio.run(campaign_sent(database_url, campaign_id, recipients)):
                    if time.monotonic() > deadline:
                        failures.append(f"campaign {campaign_id} not sent within {timeout:.0f} s")
                        break
                    time.sleep(2)
            with timed("the image's health check in each container, and the API", timings):
                for name in containers.started:
                    health = containers.exec(name, "dripr", "health")
                    if health.strip() != "healthy":
                        failures.append(f"{name}: dripr health said {health!r}")
                ready = httpx.get(f"http://127.0.0.1:{api_port}/ready", timeout=10)
                if ready.status_code != 200:
                    failures.append(f"control API /ready answered {ready.status_code}")
            with timed("SIGTERM and drain, each container", timings):
                for name in list(containers.started):
                    code, logs = containers.stop(name)
                    stopped = "consumer.stopped" in logs or "control-api" in name
                    stopped = stopped or "scheduler" in name
                    drained = "service.stopping" in logs and stopped and "Traceback" not in logs
                    print(f"  {name}: exit {code}, {'drained' if drained else 'NOT drained'}")
                    if code != 0 or not drained:
                        failures.append(f"{name} exited {code}; last log lines:\n{logs[-1500:]}")
        finally:
            containers.remove_all()
    total = sum(timings.values())
    print(f"total: {total:.0f} s")
    if failures:
        print("FAILED:\n" + "\n".join(failures))
        return 1
    print(f"PASSED: {recipients} emails sent by the pipeline running from {image}")
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default="localhost/dripr:local")
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args()
    sys.exit(run(args.image, args.timeout))


if __name__ == "__main__":
    main()
