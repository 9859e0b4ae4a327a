"""`dripr sends …`: see and steer a send (progress, recipients, pause, resume, cancel, controls)."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from shared import sends
from shared.bootstrap import bootstrap
from shared.config import Settings
from shared.statuses import DeliveryStatus


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("sends", help="see and steer sends: progress, pause, resume…")
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    actions = parser.add_subparsers(dest="send_action", required=True)
    for name, text in (
        ("progress", "sent, failed, skipped and pending counts, and the controls"),
        ("pause", "deliver nothing more until resumed"),
        ("resume", "continue a paused send where it stopped"),
        ("cancel", "stop for good; the rest stay pending for audit and the cycle ends"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument("send_id", type=int)
    listing = actions.add_parser("recipients", help="recipients and their status, page by page")
    listing.add_argument("send_id", type=int)
    listing.add_argument("--page", type=int, default=1)
    listing.add_argument("--page-size", type=int, default=50)
    listing.add_argument("--status", choices=[s.value for s in DeliveryStatus])
    controls = actions.add_parser("controls", help="change batch size, delay or cooldown")
    controls.add_argument("send_id", type=int)
    controls.add_argument("--batch-size", type=int)
    controls.add_argument("--delay-ms", type=int)
    controls.add_argument("--cooldown-seconds", type=int)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        result = asyncio.run(_act(args, settings))
    except (sends.SendNotFound, sends.SendStateError, ValueError) as exc:
        print(f"error: {exc}")
        return 1
    if args.json:
        print(json.dumps(result.model_dump(mode="json"), indent=2))
    else:
        Console().print(_table(result))
    return 0


async def _act(args: argparse.Namespace, settings: Settings) -> BaseModel:
    async with bootstrap(settings) as runtime:
        uow = runtime.unit_of_work()
        match args.send_action:
            case "progress":
                async with runtime.sessions() as session:
                    return await sends.progress(session, args.send_id)
            case "recipients":
                async with runtime.sessions() as session:
                    status = DeliveryStatus(args.status) if args.status else None
                    return await sends.recipients(
                        session,
                        args.send_id,
                        page=args.page,
                        page_size=args.page_size,
                        status=status,
                    )
            case "pause":
                return await sends.pause(uow, args.send_id)
            case "resume":
                return await sends.resume(uow, args.send_id)
            case "cancel":
                return await sends.cancel(uow, args.send_id)
            case "controls":
                changes = sends.ControlChanges(
                    batch_size=args.batch_size,
                    delay_ms=args.delay_ms,
                    cooldown_seconds=args.cooldown_seconds,
                )
                return await sends.change_controls(uow, args.send_id, changes)
    raise ValueError(f"unknown action {args.send_action}")


def _table(result: BaseModel) -> Table:
    if isinstance(result, sends.RecipientPage):
        pages = max(1, -(-result.total // result.page_size))
        table = Table(title=f"Send {result.send_id}: page {result.page} of {pages}")
        for column in ("delivery", "email", "status", "attempts", "message id / error"):
            table.add_column(column)
        for row in result.items:
            detail = row.provider_message_id or row.error or ""
            table.add_row(
                str(row.delivery_id), row.email, row.status.value, str(row.attempts), detail
            )
        return table
    table = Table(title="Send progress", show_header=False)
    for key, value in result.model_dump().items():
        table.add_row(key, "" if value is None else str(value))
    return table
