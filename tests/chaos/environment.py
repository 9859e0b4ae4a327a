"""What a chaos run stands on: a database, an AWS emulator, and the fault proxy in front of it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from shared.devtools.emulator import free_port, moto_server, wait_for_http
from tests.support import mysql_reachable, scratch_mysql_database


@dataclass(frozen=True)
class Ground:
    database_url: str
    emulator: str
    """The emulator itself: the harness reads and injects here."""
    proxy: str
    """What the services are given as AWS_ENDPOINT_URL: faults are switched on here."""

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
        proxy = stack.enter_context(fault_proxy(emulator, workdir / "fault-proxy.log"))
        yield Ground(database_url, emulator, proxy)


@contextmanager
def fault_proxy(upstream: str, log_path: Path) -> Iterator[str]:
    """The fault proxy in its own process, in front of `upstream`; yields its endpoint."""
    port = free_port()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.chaos.faultproxy",
                *("--upstream", upstream),
                "--port",
                str(port),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{endpoint}/_chaos/stats")
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
