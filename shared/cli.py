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


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from shared.demo.run import DemoOptions, run_demo

    options = DemoOptions(
        campaigns=args.campaigns,
        recipients=args.recipients,
        external=args.external,
        keep_running=args.keep_running,
        timeout=args.timeout,
    )
    return run_demo(options, settings)


def _batch(args: argparse.Namespace, settings: Settings) -> int:
    from shared.bootstrap import bootstrap
    from shared.operations import UnknownCampaigns, apply_batch

    async def run() -> int:
        async with bootstrap(settings) as runtime:
            try:
                result = await apply_batch(runtime.unit_of_work(), args.action, args.campaign_ids)
            except UnknownCampaigns as exc:
                print(f"error: {exc}; nothing changed")
                return 1
        print(f"{args.action}: {len(result.updated)} updated, STATUS_CHANGE queued for each")
        for campaign_id, reason in result.refused.items():
            print(f"  refused {campaign_id}: {reason}")
        return 0 if not result.refused else 2

    return asyncio.run(run())


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

    from shared.cli_sends import add_parser as add_sends

    add_sends(commands)

    for action, text in (
        ("approve", "approve campaigns waiting for manual approval"),
        ("reject", "reject campaigns waiting for manual approval (the cycle ends unsent)"),
        ("send-now", "start the cycle of dormant campaigns now"),
        ("retry", "re-queue the failed step of campaigns in ERROR"),
    ):
        command = commands.add_parser(action, help=text)
        command.add_argument("campaign_ids", type=int, nargs="+", metavar="CAMPAIGN_ID")
        command.set_defaults(func=_batch, action=action.replace("-", "_"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings() if args.env is None else Settings(env=args.env)
    configure_logging(settings.log_format, settings.log_level)
    return int(args.func(args, settings))


if __name__ == "__main__":
    raise SystemExit(main())
