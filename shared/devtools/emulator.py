"""The embedded AWS emulator: moto in server mode, in its own process, spoken to over HTTP.

It is what `make run` starts when no AWS_ENDPOINT_URL is given, and what the tests start: the
services talk to it exactly as they would to AWS or LocalStack.
"""

from __future__ import annotations

import email
import email.policy
import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _moto_command() -> str:
    beside = Path(sys.executable).parent / "moto_server"
    found = str(beside) if beside.exists() else shutil.which("moto_server")
    if not found:
        raise RuntimeError(
            "moto_server not found: install the project with `pip install -e .[dev]`"
        )
    return found


@contextmanager
def moto_server(port: int | None = None) -> Iterator[str]:
    """Start moto on 127.0.0.1; yield its endpoint URL; stop it on exit."""
    port = port or free_port()
    process = subprocess.Popen(
        [_moto_command(), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{endpoint}/moto-api/")
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def reset_moto(endpoint: str) -> None:
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10):
        pass


def is_moto(endpoint: str) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=5):
            return True
    except Exception:
        return False


def reset_sent_emails(endpoint: str) -> None:
    """Forget the mail an emulator has accepted (moto: everything; LocalStack: its SES store)."""
    if is_moto(endpoint):
        reset_moto(endpoint)
        return
    request = urllib.request.Request(f"{endpoint}/_aws/ses", method="DELETE")
    with urllib.request.urlopen(request, timeout=10):
        pass


def moto_sent_emails(endpoint: str) -> list[dict[str, Any]]:
    """Every email the emulator's SES accepted, as dicts with id, source, destinations
    ({"ToAddresses": [...]}), subject, body (the parts' text, joined) and headers.

    moto keeps simple messages in that shape and raw ones as their MIME text; LocalStack keeps
    its own shape at /_aws/ses. Raw messages are parsed, so tests read the real headers.
    """
    if not is_moto(endpoint):
        with urllib.request.urlopen(f"{endpoint}/_aws/ses", timeout=10) as response:
            stored = json.load(response).get("messages", [])
        return [_localstack_message(m) for m in stored]
    with urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=10) as response:
        data = json.load(response).get("ses", {})
    simple: list[dict[str, Any]] = data.get("Message", [])
    raw = [
        _parsed(m["id"], m.get("source"), m["raw_data"], m.get("destinations"))
        for m in data.get("RawMessage", [])
    ]
    return [*simple, *raw]


def _localstack_message(stored: dict[str, Any]) -> dict[str, Any]:
    if "RawData" in stored:
        return _parsed(stored["Id"], stored.get("Source"), stored["RawData"], None)
    return {
        "id": stored["Id"],
        "source": stored["Source"],
        "destinations": stored["Destination"],
        "subject": stored.get("Subject"),
        "body": "\n".join(
            filter(None, (stored["Body"].get("html_part"), stored["Body"].get("text_part")))
        ),
        "headers": {},
    }


def _parsed(
    message_id: str, source: str | None, raw: str, destinations: list[str] | None
) -> dict[str, Any]:
    message = email.message_from_string(raw, policy=email.policy.default)
    parts = [
        part.get_content()
        for part in message.walk()
        if part.get_content_type() in ("text/plain", "text/html")
    ]
    to = sorted(set(destinations or [])) or [str(message["To"])]
    return {
        "id": message_id,
        "source": source or str(message["From"]),
        "destinations": {"ToAddresses": to},
        "subject": str(message["Subject"]),
        "body": "\n".join(parts),
        "headers": {key: str(value) for key, value in message.items()},
        "raw": raw,
    }
