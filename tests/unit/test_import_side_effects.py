"""Importing any module starts nothing: no thread, no socket, no event loop, no send."""

from __future__ import annotations

import subprocess
import sys
import textwrap

PROBE = textwrap.dedent(
    """
    import importlib, os, pkgutil, threading
    import shared, services, infra

    names = []
    for package in (shared, services, infra):
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            # __main__ runs a service, which is its purpose; migrations are Alembic's scripts
            if not module.name.endswith("__main__") and ".migrations" not in module.name:
                importlib.import_module(module.name)
                names.append(module.name)
    def target(fd):
        try:
            return os.readlink(f"/proc/self/fd/{fd}")
        except FileNotFoundError:  # the fd listdir itself used, closed already
            return ""

    sockets = [fd for fd in os.listdir("/proc/self/fd") if target(fd).startswith("socket:")]
    print(len(names), threading.active_count(), len(sockets))
    """
)


def test_importing_every_module_starts_nothing() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        check=True,
        env={"DATABASE_URL": "sqlite+aiosqlite:////nonexistent/never-opened.db"},
    )

    modules, threads, sockets = map(int, result.stdout.split())
    assert modules > 40
    assert (threads, sockets) == (1, 0)
    assert result.stderr == ""
