"""`dripr`: the command line for running and operating the pipeline."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence

import argcomplete

from shared.config import Settings
from shared.entrypoints.settings import load_settings
from shared.logging import configure_logging


def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    from shared.adapters.db.migrate import upgrade

    upgrade(settings.database_url, args.revision)
    print(f"database at revision {args.revision}")
    return 0


def _provision(args: argparse.Namespace, settings: Settings) -> int:
    from infra.provision import main as provision_main

    return provision_main(["--env", settings.env])


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from shared.entrypoints.runner import serve

    asyncio.run(serve(args.service, settings))
    return 0


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from shared.devtools.demo.run import DemoOptions, run_demo

    options = DemoOptions(
        campaigns=args.campaigns,
        recipients=args.recipients,
        external=args.external,
        keep_running=args.keep_running,
        timeout=args.timeout,
    )
    return run_demo(options, settings)


def _health(args: argparse.Namespace, settings: Settings) -> int:
    """A container health check: the database and the AWS endpoint answer, the topic exists."""
    from sqlalchemy import text

    from shared.bootstrap import bootstrap

    async def check() -> int:
        try:
            async with bootstrap(settings) as runtime, runtime.sessions() as session:
                await session.execute(text("SELECT 1"))
        except Exception as exc:
            print(f"unhealthy: {type(exc).__name__}: {exc}")
            return 1
        print("healthy")
        return 0

    return asyncio.run(check())


def _probe(args: argparse.Namespace, settings: Settings) -> int:
    """A container health check: ask this container's own probe endpoint (`/livez` or `/readyz`)."""
    import httpx

    url = f"http://127.0.0.1:{settings.probe_port}/{args.check}"
    try:
        response = httpx.get(url, timeout=args.timeout)
    except httpx.HTTPError as exc:
        print(f"{url}: no answer: {exc}")
        return 1
    print(response.text)
    return 0 if response.status_code == 200 else 1


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("dripr")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    from shared.entrypoints.runner import SERVICES

    parser = argparse.ArgumentParser(
        prog="dripr",
        description="Event-driven newsletter pipeline.",
        epilog="Exit status: 0 done; 1 failed (the API's error, or unreachable; a probe red); "
        "2 usage error or an invalid setting; 3 done in part, the rest refused (printed).",
    )
    parser.add_argument("--version", action="version", version=f"dripr {_version()}")
    parser.add_argument("--env", help="resource name prefix (DRIPR_ENV)")
    commands = parser.add_subparsers(dest="command", required=True)

    migrate = commands.add_parser("migrate", help="upgrade the database schema (Alembic)")
    migrate.add_argument("revision", nargs="?", default="head")
    migrate.set_defaults(func=_migrate)

    provision = commands.add_parser("provision", help="create or update the SNS/SQS topology")
    provision.set_defaults(func=_provision)

    run = commands.add_parser("run", help="run one service until SIGTERM")
    run.add_argument("service", choices=sorted(SERVICES))
    run.set_defaults(func=_run)

    health = commands.add_parser("health", help="exit 0 if the database and AWS answer")
    health.set_defaults(func=_health)

    probe = commands.add_parser(
        "probe",
        help="exit 0 if this host's service answers its probe (the image's health check)",
        description="GET http://127.0.0.1:$DRIPR_PROBE_PORT/<check>: livez (every loop of the "
        "service going round) or readyz (its database and queues answer).",
    )
    probe.add_argument("check", nargs="?", choices=["livez", "readyz"], default="livez")
    probe.add_argument("--timeout", type=float, default=5.0, help="seconds to wait (default 5)")
    probe.set_defaults(func=_probe)

    demo = commands.add_parser(
        "demo",
        help="run the whole pipeline locally and show it working (the `make run` job)",
        description="Start an embedded AWS emulator (moto server) and SQLite (unless DATABASE_URL "
        "is set), migrate, provision, seed demo campaigns, run every service as its own process, "
        "approve what needs approval as an operator would, and print each campaign's path.",
    )
    demo.add_argument("--campaigns", type=int, default=12, help="demo campaigns (default 12)")
    demo.add_argument("--recipients", type=int, default=3, help="recipients each (default 3)")
    demo.add_argument(
        "--keep-running",
        action="store_true",
        help="keep the services running after the first cycle, until Ctrl-C",
    )
    demo.add_argument(
        "--external",
        action="store_true",
        help="use AWS_ENDPOINT_URL (e.g. LocalStack) and DATABASE_URL as given; start nothing",
    )
    demo.add_argument("--timeout", type=float, default=300.0, help="give up after this (s)")
    demo.set_defaults(func=_demo)

    from services.control_api.cli.commands import add_parsers

    add_parsers(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argcomplete.autocomplete(parser)  # answers the shell's completion request, else nothing
    args = parser.parse_args(argv)
    if hasattr(args, "call"):  # an operator command: a client of the control API
        from services.control_api.cli.commands import run as run_operator_command

        return run_operator_command(args)
    settings = load_settings() if args.env is None else load_settings(env=args.env)
    configure_logging(settings.log_format, settings.log_level)
    return int(args.func(args, settings))


if __name__ == "__main__":
    raise SystemExit(main())
