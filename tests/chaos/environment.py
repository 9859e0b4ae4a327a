"""What a chaos run stands on: a database, an AWS emulator, and the proxies in front of them.

The services reach AWS through the fault proxy (faults.py switches AWS faults on there) and
MySQL through a TCP forwarder; stopping either proxy's process is, to the services, the AWS
endpoint or the database server going away, and starting it again on the same port is its
return. The harness itself talks to both directly.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from shared.devtools.emulator import free_port, moto_server, wait_for_http
from tests.support import mysql_reachable, scratch_mysql_database


class Relaunchable:
    """A helper process on a fixed port that can be stopped and started again."""

    def __init__(self, module: str, upstream: str, log_path: Path) -> None:
        self.module = module
        self.upstream = upstream
        self.port = free_port()
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    *("-m", self.module),
                    *("--upstream", self.upstream),
                    *("--port", str(self.port)),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._wait_listening()

    def _wait_listening(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"{self.module} did not listen on {self.port}")

    def stop(self) -> None:
        """SIGKILL: open connections are cut at once and new ones refused, as a dead server."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


@dataclass(frozen=True)
class Ground:
    database_url: str
    """The harness's own way in: the server itself."""
    services_database_url: str
    """What the services are given: through the TCP forwarder (MySQL), else the same."""
    emulator: str
    """The emulator itself: the harness reads and injects here."""
    proxy: str
    """What the services are given as AWS_ENDPOINT_URL: faults are switched on here."""
    aws_proxy: Relaunchable
    database_proxy: Relaunchable | None

    def set_faults(self, *faults: str) -> None:
        request = urllib.request.Request(
            f"{self.proxy}/_chaos/faults", data=json.dumps(list(faults)).encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=10):
            pass

    def fault_stats(self) -> dict[str, int]:
        with urllib.request.urlopen(f"{self.proxy}/_chaos/stats", timeout=10) as response:
            stats: dict[str, int] = json.load(response)
        return stats


@contextmanager
def ground(workdir: Path, database_url: str | None, emulator: str | None) -> Iterator[Ground]:
    """The given database and emulator, or MySQL (else SQLite) and a moto server of our own."""
    with ExitStack() as stack:
        database_url = database_url or os.environ.get("DATABASE_URL")
        if not database_url:
            if mysql_reachable():
                database_url = stack.enter_context(scratch_mysql_database())
            else:
                path = workdir / "chaos.db"
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{path}{suffix}").unlink(missing_ok=True)
                database_url = f"sqlite+aiosqlite:///{path}"
        emulator = emulator or os.environ.get("AWS_ENDPOINT_URL")
        if not emulator:
            emulator = stack.enter_context(moto_server())
        aws_proxy = stack.enter_context(fault_proxy(emulator, workdir / "fault-proxy.log"))
        proxy = aws_proxy.url
        url = make_url(database_url)
        database_proxy = None
        services_database_url = database_url
        if url.get_backend_name() == "mysql":
            upstream = f"{url.host or '127.0.0.1'}:{url.port or 3306}"
            database_proxy = Relaunchable(
                "tests.chaos.tcpproxy", upstream, workdir / "db-proxy.log"
            )
            stack.enter_context(_running(database_proxy))
            services_database_url = url.set(
                host="127.0.0.1", port=database_proxy.port
            ).render_as_string(False)
        yield Ground(
            database_url, services_database_url, emulator, proxy, aws_proxy, database_proxy
        )


@contextmanager
def fault_proxy(upstream: str, log_path: Path) -> Iterator[Relaunchable]:
    """The fault proxy in its own process, in front of `upstream`."""
    helper = Relaunchable("tests.chaos.faultproxy", upstream, log_path)
    with _running(helper):
        wait_for_http(f"{helper.url}/_chaos/stats")
        yield helper


@contextmanager
def _running(helper: Relaunchable) -> Iterator[Relaunchable]:
    helper.start()
    try:
        yield helper
    finally:
        helper.stop()
