"""`dripr` operator commands: clients of the control API, with tables or `--json`.

The API's URL comes from `--api-url` (or DRIPR_API_URL) and the token from DRIPR_API_TOKEN;
errors print the API's message and exit non-zero.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn

from services.control_api.cli.client import ApiCallError, ApiClient
from services.control_api.cli.render import render, summary, tsv
from shared.config import ClientSettings

Handler = Callable[[ApiClient, argparse.Namespace], Any]


def add_parsers(commands: Any) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--api-url", default=ClientSettings().api_url)
    common.add_argument("--json", action="store_true", help="print JSON for scripts")

    campaigns = commands.add_parser("campaigns", help="list, show and create campaigns")
    actions = campaigns.add_subparsers(dest="campaign_action", required=True)
    listing = actions.add_parser("list", parents=[common], help="campaigns, filtered and paged")
    listing.add_argument("--status")
    listing.add_argument("--sub-status", help="column:VALUE, e.g. intro_status:ERROR")
    listing.add_argument("--error", action="store_true", help="only campaigns with an error")
    listing.add_argument("--paused", action="store_true", help="only paused campaigns")
    listing.add_argument("--page", type=int, default=1)
    listing.add_argument("--page-size", type=int, default=50)
    listing.set_defaults(call=_list_campaigns)
    show = actions.add_parser("show", parents=[common], help="one campaign in full")
    show.add_argument("campaign_id", type=int)
    show.set_defaults(call=_show_campaign)
    create = actions.add_parser("create", parents=[common], help="a campaign and its recipients")
    create.add_argument("--name", required=True)
    create.add_argument("--agent-name", required=True)
    create.add_argument("--agent-email", required=True)
    create.add_argument("--address")
    create.add_argument("--market-area", required=True)
    create.add_argument("--no-address", action="store_true", help="a no-address newsletter")
    create.add_argument("--requires-approval", action="store_true")
    create.add_argument("--cadence-days", type=int, default=30)
    create.add_argument(
        "--first-send",
        type=_when,
        metavar="WHEN",
        help="when the first cycle starts: 2026-12-24T09:00:00Z, 2026-12-24T09:00+01:00, or a "
        "date (midnight UTC); default now",
    )
    create.add_argument("--recipient", action="append", required=True, metavar="EMAIL")
    create.set_defaults(call=_create_campaign)

    for action, text in (
        ("approve", "approve campaigns waiting for manual approval"),
        ("reject", "reject campaigns waiting for manual approval (the cycle ends unsent)"),
        ("send-now", "start the cycle of dormant campaigns now"),
        ("retry", "re-queue the failed step of campaigns in ERROR"),
    ):
        command = commands.add_parser(action, parents=[common], help=text)
        command.add_argument("campaign_ids", type=int, nargs="+", metavar="CAMPAIGN_ID")
        command.set_defaults(call=_batch, action=action.replace("-", "_"))

    send = commands.add_parser("sends", help="see and steer sends")
    send_actions = send.add_subparsers(dest="send_action", required=True)
    for name, text in (
        ("progress", "counts and controls; --watch shows a bar until it ends"),
        ("pause", "deliver nothing more until resumed"),
        ("resume", "continue a paused send where it stopped"),
        ("cancel", "stop for good; the rest stay pending; the cycle ends"),
    ):
        action_parser = send_actions.add_parser(name, parents=[common], help=text)
        action_parser.add_argument("send_id", type=int)
        if name == "progress":
            action_parser.add_argument("--watch", action="store_true")
        action_parser.set_defaults(call=_send_action)
    recipients = send_actions.add_parser("recipients", parents=[common], help="page by page")
    recipients.add_argument("send_id", type=int)
    recipients.add_argument("--page", type=int, default=1)
    recipients.add_argument("--page-size", type=int, default=50)
    recipients.add_argument("--status")
    recipients.set_defaults(call=_send_recipients)
    controls = send_actions.add_parser("controls", parents=[common], help="batch/delay/cooldown")
    controls.add_argument("send_id", type=int)
    controls.add_argument("--batch-size", type=int)
    controls.add_argument("--delay-ms", type=int)
    controls.add_argument("--cooldown-seconds", type=int)
    controls.set_defaults(call=_send_controls)

    suppressions = commands.add_parser(
        "suppressions", help="addresses SES's feedback took off every list; lift one"
    )
    suppression_actions = suppressions.add_subparsers(dest="suppression_action", required=True)
    listed = suppression_actions.add_parser("list", parents=[common], help="newest first")
    listed.add_argument("--email", help="part of the address")
    listed.add_argument("--reason", choices=("BOUNCE", "COMPLAINT", "TRANSIENT_BOUNCES"))
    listed.add_argument("--lifted", action="store_true", help="the lifted ones instead")
    listed.add_argument("--page", type=int, default=1)
    listed.add_argument("--page-size", type=int, default=50)
    listed.set_defaults(call=_list_suppressions)
    lift = suppression_actions.add_parser(
        "lift", parents=[common], help="let the next send mail the address again"
    )
    lift.add_argument("email")
    lift.set_defaults(
        call=lambda api, a: api.call("DELETE", f"/api/v1/suppressions/{quote(a.email, safe='@')}")
    )

    queues = commands.add_parser(
        "queues", parents=[common], help="queue depths; `status` and `resume` manage the pipeline"
    )
    queues.add_argument("what", nargs="?", choices=("depths", "status", "resume"), default="depths")
    queues.set_defaults(call=_queues)

    breakers = commands.add_parser("breakers", parents=[common], help="circuit breakers")
    breakers.add_argument("what", nargs="?", choices=("list", "reset"), default="list")
    breakers.add_argument("name", nargs="?", help="the breaker to reset")
    breakers.set_defaults(call=_breakers)

    dlq = commands.add_parser("dlq", help="dead letters: peek and redrive")
    dlq_actions = dlq.add_subparsers(dest="dlq_action", required=True)
    peek = dlq_actions.add_parser("peek", parents=[common], help="messages and their reasons")
    peek.add_argument("queue")
    peek.add_argument("--limit", type=int, default=10)
    peek.set_defaults(
        call=lambda api, a: api.call(
            "GET", f"/api/v1/queues/{a.queue}/dlq", params={"limit": a.limit}
        )
    )
    redrive = dlq_actions.add_parser("redrive", parents=[common], help="back through the topic")
    redrive.add_argument("queue")
    redrive.add_argument("--campaign", type=int)
    redrive.add_argument("--error-contains")
    redrive.add_argument("--older-than-seconds", type=float)
    redrive.add_argument("--limit", type=int, default=100)
    redrive.add_argument("--dry-run", action="store_true", help="say what would be redriven")
    redrive.set_defaults(call=_redrive)


EXIT_FAILED = 1
"""The call failed: the API answered an error, or could not be reached."""
EXIT_USAGE = 2
"""argparse's: the command line itself is wrong."""
EXIT_REFUSED = 3
"""The call went through, but part of it was refused (a campaign not in the right status):
what was refused is printed, and scripts can tell it from a failure or a typo."""


def run(args: argparse.Namespace) -> int:
    settings = ClientSettings()
    api = ApiClient(args.api_url, settings.api_token, settings.operator)
    try:
        result = args.call(api, args)
    except ApiCallError as exc:
        print(f"error: {exc}")
        return EXIT_FAILED
    finally:
        api.close()
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    elif sys.stdout.isatty():
        Console().print(render(result))
    else:  # piped or redirected: plain lines, no table to squeeze; the count on stderr
        print(tsv(result))
        if (line := summary(result)) is not None:
            print(line, file=sys.stderr)
    refused = result.get("refused") if isinstance(result, dict) else None
    return EXIT_REFUSED if refused else 0


def _list_campaigns(api: ApiClient, args: argparse.Namespace) -> Any:
    params = {"page": args.page, "page_size": args.page_size}
    if args.status:
        params["status"] = args.status
    if args.sub_status:
        params["sub_status"] = args.sub_status
    if args.error:
        params["error"] = "true"
    if args.paused:
        params["paused"] = "true"
    return api.call("GET", "/api/v1/campaigns", params=params)


def _show_campaign(api: ApiClient, args: argparse.Namespace) -> Any:
    return api.call("GET", f"/api/v1/campaigns/{args.campaign_id}")


def _create_campaign(api: ApiClient, args: argparse.Namespace) -> Any:
    body = {
        "name": args.name,
        "agent_name": args.agent_name,
        "agent_email": args.agent_email,
        "address": args.address,
        "market_area": args.market_area,
        "no_address_newsletter": args.no_address,
        "requires_approval": args.requires_approval,
        "cadence_days": args.cadence_days,
        "recipients": [{"email": email} for email in args.recipient],
    }
    if args.first_send is not None:
        body["next_send_datetime"] = args.first_send
    return api.call("POST", "/api/v1/campaigns", json=body)


def _when(text: str) -> str:
    """An ISO 8601 moment with its zone, or a date (midnight UTC), as the API takes it."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 date or time") from None
    if len(text) == 10:  # a date alone
        moment = moment.replace(tzinfo=UTC)
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} has no zone: add Z for UTC or an offset such as +01:00"
        )
    return moment.isoformat()


def _batch(api: ApiClient, args: argparse.Namespace) -> Any:
    path = f"/api/v1/campaigns/actions/{args.action}"
    return api.call("POST", path, json={"campaign_ids": args.campaign_ids})


def _send_action(api: ApiClient, args: argparse.Namespace) -> Any:
    path = f"/api/v1/sends/{args.send_id}"
    if args.send_action != "progress":
        return api.call("POST", f"{path}/{args.send_action}")
    progress = api.call("GET", path)
    if getattr(args, "watch", False) and not args.json:
        progress = _watch(api, path, progress)
    return progress


def _watch(api: ApiClient, path: str, progress: dict[str, Any]) -> dict[str, Any]:
    columns = (
        TextColumn("send {task.fields[send_id]}"),
        BarColumn(),
        TextColumn("{task.description}"),
    )
    with Progress(*columns) as bar:
        task = bar.add_task("", total=progress["total"] or 1, send_id=progress["send_id"])
        while True:
            done = progress["sent"] + progress["failed"] + progress["skipped"]
            bar.update(
                task, completed=done, description=f"{done}/{progress['total']} {progress['status']}"
            )
            if progress["status"] in ("COMPLETED", "CANCELLED", "PAUSED"):
                return progress
            time.sleep(1)
            progress = api.call("GET", path)


def _send_recipients(api: ApiClient, args: argparse.Namespace) -> Any:
    params: dict[str, Any] = {"page": args.page, "page_size": args.page_size}
    if args.status:
        params["status"] = args.status
    return api.call("GET", f"/api/v1/sends/{args.send_id}/recipients", params=params)


def _send_controls(api: ApiClient, args: argparse.Namespace) -> Any:
    body = {
        key: value
        for key, value in {
            "batch_size": args.batch_size,
            "delay_ms": args.delay_ms,
            "cooldown_seconds": args.cooldown_seconds,
        }.items()
        if value is not None
    }
    return api.call("PATCH", f"/api/v1/sends/{args.send_id}/controls", json=body)


def _list_suppressions(api: ApiClient, args: argparse.Namespace) -> Any:
    params = {"page": args.page, "page_size": args.page_size, "lifted": args.lifted}
    params |= {k: v for k, v in (("email", args.email), ("reason", args.reason)) if v}
    return api.call("GET", "/api/v1/suppressions", params=params)


def _queues(api: ApiClient, args: argparse.Namespace) -> Any:
    if args.what == "status":
        return api.call("GET", "/api/v1/queue-management/status")
    if args.what == "resume":
        return api.call("POST", "/api/v1/queue-management/resume")
    return api.call("GET", "/api/v1/queues")


def _breakers(api: ApiClient, args: argparse.Namespace) -> Any:
    if args.what == "reset":
        if not args.name:
            raise ApiCallError(0, "name the breaker to reset: property-data, bedrock or ses")
        return api.call("POST", f"/api/v1/queue-management/breakers/{args.name}/reset")
    return api.call("GET", "/api/v1/queue-management/breakers")


def _redrive(api: ApiClient, args: argparse.Namespace) -> Any:
    body = {
        "campaign_id": args.campaign,
        "error_contains": args.error_contains,
        "older_than_seconds": args.older_than_seconds,
        "limit": args.limit,
        "dry_run": args.dry_run,
    }
    return api.call("POST", f"/api/v1/queues/{args.queue}/dlq/redrive", json=body)
