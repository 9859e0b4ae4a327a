"""Services as separate OS processes, the way they are deployed: one per container."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from shared.config import Settings
from shared.devtools.emulator import free_port
from shared.entrypoints.runner import SERVICES

PIPELINE = tuple(name for name in SERVICES if name != "control_api")
"""Every service but the operators' API: what runs the campaigns."""


def service_environment(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment a service container would get, built from one Settings object."""
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": settings.database_url,
            "DRIPR_ENV": settings.env,
            "DRIPR_LOG_FORMAT": "json",
            "DRIPR_WAIT_TIME_SECONDS": str(settings.wait_time_seconds),
            "DRIPR_SCHEDULER_INTERVAL_SECONDS": str(settings.scheduler_interval_seconds),
            "DRIPR_OUTBOX_GRACE_SECONDS": str(settings.outbox_grace_seconds),
            "AWS_MAX_ATTEMPTS": str(settings.aws_max_attempts),
            "DRIPR_SHUTDOWN_GRACE_SECONDS": str(settings.shutdown_grace_seconds),
            "DRIPR_SEND_CLAIM_TIMEOUT_SECONDS": str(settings.send_claim_timeout_seconds),
            "DRIPR_SEND_BATCH_SIZE": str(settings.send_batch_size),
            "DRIPR_SEND_DELAY_MS": str(settings.send_delay_ms),
            "DRIPR_SEND_COOLDOWN_SECONDS": str(settings.send_cooldown_seconds),
            "PYTHONUNBUFFERED": "1",
        }
    )
    if settings.region:
        env["AWS_DEFAULT_REGION"] = settings.region
    if settings.aws_endpoint_url:
        env["AWS_ENDPOINT_URL"] = settings.aws_endpoint_url
    env.update(extra)
    return env


class ServiceProcess:
    """`python -m services.<name>` with its log in a file; start, stop, kill, restart."""

    def __init__(
        self, name: str, env: dict[str, str], log_dir: Path, replica: int | None = None
    ) -> None:
        self.name = name
        self.label = name if replica is None else f"{name}#{replica}"
        self.log_path = log_dir / (f"{name}.log" if replica is None else f"{name}-{replica}.log")
        self.process: subprocess.Popen[bytes] | None = None
        self.probe_port = free_port()
        """Its /metrics, /livez and /readyz: every process on this host needs a port of its own."""
        self.env = {**env, "DRIPR_PROBE_PORT": str(self.probe_port)}

    @property
    def probe_url(self) -> str:
        return f"http://127.0.0.1:{self.probe_port}"

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", f"services.{self.name}"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, as a container stop sends; SIGKILL if it overstays the grace period."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL: a crash, with no chance to finish or hand anything back."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def start_pipeline(settings: Settings, log_dir: Path, **extra: str) -> dict[str, ServiceProcess]:
    env = service_environment(settings, **extra)
    processes = {name: ServiceProcess(name, env, log_dir) for name in PIPELINE}
    for process in processes.values():
        process.start()
    return processes
