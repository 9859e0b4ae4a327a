"""`dripr`: the command line for running and operating the pipeline."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence

from shared.config import Settings
from shared.logging import configure_logging


def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    from shared.db.migrate import upgrade

    upgrade(settings.database_url, args.revision)
    print(f"database at revision {args.revision}")
    return 0


def _provision(args: argparse.Namespace, settings: Settings) -> int:
    from infra.provision import main as provision_main

    return provision_main(["--env", settings.env])


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from shared.runner import serve

    asyncio.run(serve(args.service, settings))
    return 0


def build_parser() -> argparse.ArgumentParser:
    from shared.runner import SERVICES

    parser = argparse.ArgumentParser(prog="dripr", description="Event-driven newsletter pipeline.")
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings() if args.env is None else Settings(env=args.env)
    configure_logging(settings.log_format, settings.log_level)
    return int(args.func(args, settings))


if __name__ == "__main__":
    raise SystemExit(main())
