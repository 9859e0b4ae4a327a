"""A TCP forwarder in front of the database server, so a chaos run can take the server away.

The services connect through it; stopping its process is what they see when the server stops
(every connection dropped, new ones refused), without stopping a MariaDB other work shares.
Run it as its own process: `python -m tests.chaos.tcpproxy --upstream HOST:PORT --port N`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def serve(upstream_host: str, upstream_port: int, port: int) -> None:
    async def forward(client_reader: asyncio.StreamReader, client: asyncio.StreamWriter) -> None:
        try:
            server_reader, server = await asyncio.open_connection(upstream_host, upstream_port)
        except OSError:
            client.close()
            return
        await asyncio.gather(_pipe(client_reader, server), _pipe(server_reader, client))

    listener = await asyncio.start_server(forward, "127.0.0.1", port, reuse_address=True)
    async with listener:
        await listener.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True, help="HOST:PORT")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    host, _, upstream_port = args.upstream.rpartition(":")
    asyncio.run(serve(host, int(upstream_port), args.port))


if __name__ == "__main__":
    main()
