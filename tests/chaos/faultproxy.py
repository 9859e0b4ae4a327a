"""An HTTP proxy in front of the AWS emulator that fails chosen AWS actions on demand.

The services are pointed at the proxy instead of the emulator, so a fault reaches them the way
a real AWS outage would: as an HTTP 503 with an AWS error document, after botocore's own
retries. Faults are switched at run time through `/_chaos/faults`; `/_chaos/stats` counts what
was failed. Run it as its own process: `python -m tests.chaos.faultproxy --upstream URL --port N`.
"""

from __future__ import annotations

import argparse
from collections import Counter
from urllib.parse import parse_qs

from aiohttp import ClientSession, ClientTimeout, web

FAULTS = {
    "sns_publish": ("sns", {"Publish", "PublishBatch"}),
    "ses_send": ("ses", {"SendEmail", "SendRawEmail"}),
}
"""Fault name → (service, the AWS actions it fails)."""

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


def action_of(headers: dict[str, str], body: bytes) -> str | None:
    """The AWS action: the JSON protocol names it in a header, the query protocol in the body."""
    target = headers.get("x-amz-target")
    if target:
        return target.rsplit(".", 1)[-1]
    if body[:7] == b"Action=" or b"&Action=" in body:
        values = parse_qs(body.decode("utf-8", "replace")).get("Action")
        return values[0] if values else None
    return None


def aws_error(code: str, message: str) -> web.Response:
    body = (
        "<ErrorResponse><Error><Type>Receiver</Type>"
        f"<Code>{code}</Code><Message>{message}</Message></Error>"
        "<RequestId>chaos</RequestId></ErrorResponse>"
    )
    return web.Response(status=503, text=body, content_type="text/xml")


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.active: set[str] = set()
        self.failed: Counter[str] = Counter()
        self._http: ClientSession | None = None

    async def start(self, app: web.Application) -> None:
        self._http = ClientSession(timeout=ClientTimeout(total=None), auto_decompress=False)

    async def stop(self, app: web.Application) -> None:
        if self._http is not None:
            await self._http.close()

    async def faults(self, request: web.Request) -> web.Response:
        if request.method == "POST":
            wanted = set(await request.json())
            unknown = wanted - FAULTS.keys()
            if unknown:
                return web.json_response({"unknown": sorted(unknown)}, status=400)
            self.active = wanted
        return web.json_response(sorted(self.active))

    async def stats(self, request: web.Request) -> web.Response:
        return web.json_response(dict(self.failed))

    async def forward(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        action = action_of(headers, body)
        for fault in self.active:
            service, actions = FAULTS[fault]
            if action in actions:
                self.failed[fault] += 1
                return aws_error("ServiceUnavailable", f"chaos: {service} is down")
        assert self._http is not None
        async with self._http.request(
            request.method,
            f"{self.upstream}{request.rel_url}",
            data=body,
            headers={k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP},
            allow_redirects=False,
        ) as upstream:
            payload = await upstream.read()
            reply = web.Response(status=upstream.status, body=payload)
            for key, value in upstream.headers.items():
                if key.lower() not in HOP_BY_HOP and key.lower() != "content-encoding":
                    reply.headers[key] = value
            if "content-encoding" in upstream.headers:
                reply.headers["Content-Encoding"] = upstream.headers["content-encoding"]
            return reply


def make_app(upstream: str) -> web.Application:
    proxy = FaultProxy(upstream)
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.on_startup.append(proxy.start)
    app.on_cleanup.append(proxy.stop)
    app.router.add_route("*", "/_chaos/faults", proxy.faults)
    app.router.add_get("/_chaos/stats", proxy.stats)
    app.router.add_route("*", "/{tail:.*}", proxy.forward)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    web.run_app(
        make_app(args.upstream), host="127.0.0.1", port=args.port, print=None, access_log=None
    )


if __name__ == "__main__":
    main()
