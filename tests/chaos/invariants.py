"""What must hold after a chaos run, read from the database, the DLQs and the emulator's mail."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from shared.adapters.db.models import Campaign, Delivery, Email, OutboxEvent, Recipient
from shared.adapters.topology import TOPOLOGY
from shared.bootstrap import Runtime
from shared.consumer import redrive
from shared.devtools.demo.seed import DemoCampaign
from shared.domain.statuses import CampaignStatus, DeliveryStatus
from tests.chaos.faults import BAD_MARKER

CYCLE = [
    "WAITING_FOR_DATA",
    "WAITING_FOR_HOME_ANALYSIS",
    "READY_TO_CREATE_EMAIL",
    "READY_TO_SEND_EMAIL",
    "SENDING",
    "DORMANT",
]
APPROVAL_CYCLE = [*CYCLE[:3], "WAITING_FOR_MANUAL_APPROVAL", *CYCLE[3:]]
EXPECTED_PATHS = {
    "standard": CYCLE,
    "no-address": CYCLE,
    "approval": APPROVAL_CYCLE,
    "bad-address": ["WAITING_FOR_DATA", "ERROR"],
}


@dataclass
class Check:
    name: str
    passed: bool | None
    """None: not checked in this run (its detail says why)."""
    detail: str


@dataclass
class Evidence:
    """What the report shows besides the checks."""

    paths: dict[int, dict[int, list[str]]] = field(default_factory=dict)
    kinds: dict[int, str] = field(default_factory=dict)
    final: dict[int, str] = field(default_factory=dict)
    emails_per_recipient: dict[str, int] = field(default_factory=dict)
    recipients: dict[str, int] = field(default_factory=dict)
    dead_letters: list[dict[str, Any]] = field(default_factory=list)


async def read_paths(runtime: Runtime) -> dict[int, dict[int, list[str]]]:
    """Each campaign's STATUS_CHANGEs, per cycle, in the order they were recorded."""
    paths: dict[int, dict[int, list[str]]] = defaultdict(lambda: defaultdict(list))
    async with runtime.sessions() as session:
        rows = await session.execute(
            select(OutboxEvent.campaign_id, OutboxEvent.cycle, OutboxEvent.to_status)
            .where(OutboxEvent.event_type == "STATUS_CHANGE")
            .order_by(OutboxEvent.id)
        )
        for campaign_id, cycle, to_status in rows:
            paths[campaign_id or 0][cycle or 0].append(to_status or "?")
    return {c: dict(by_cycle) for c, by_cycle in paths.items()}


async def read_dead_letters(runtime: Runtime) -> list[dict[str, Any]]:
    letters: list[dict[str, Any]] = []
    for spec in TOPOLOGY.queues:
        for letter in await redrive.peek(runtime.sqs, runtime.names, spec, limit=1000):
            letters.append(
                {
                    "queue": spec.name,
                    "reason": letter.reason,
                    "failed_consumer": letter.failed_consumer,
                    "receive_count": letter.receive_count,
                    "campaign_id": letter.campaign_id,
                    "body": letter.body[:300],
                }
            )
    return letters


async def check_all(
    runtime: Runtime,
    demo: list[DemoCampaign],
    cycles: int,
    markers: dict[str, str],
    sent_mail: list[dict[str, Any]],
    liveness: bool,
) -> tuple[list[Check], Evidence]:
    """Every invariant; `liveness` False when the run ended early (a breaker, by design)."""
    evidence = Evidence(kinds={c.id: c.kind for c in demo})
    evidence.paths = await read_paths(runtime)
    evidence.dead_letters = await read_dead_letters(runtime)
    checks = [
        await _no_campaign_stuck(runtime, evidence, cycles, liveness),
        await _no_status_change_lost(runtime, evidence, liveness),
        await _one_email_per_cycle(runtime),
        *await _mail_checks(runtime, evidence, sent_mail, liveness),
        _bad_messages_dead_lettered(evidence, markers),
        _no_good_message_dead_lettered(evidence),
    ]
    return checks, evidence


async def _no_campaign_stuck(
    runtime: Runtime, evidence: Evidence, cycles: int, liveness: bool
) -> Check:
    stuck = []
    async with runtime.sessions() as session:
        for campaign in await session.scalars(select(Campaign).order_by(Campaign.id)):
            status = campaign.campaign_status
            evidence.final[campaign.id] = (
                f"{status.value} cycle {campaign.cycle}"
                + (f" paused: {campaign.paused_reason}" if campaign.paused else "")
                + (f" error: {campaign.error_reason}" if campaign.error_reason else "")
            )
            expected_error = evidence.kinds.get(campaign.id) == "bad-address"
            done = (
                status is CampaignStatus.ERROR and campaign.error_reason and expected_error
            ) or (status is CampaignStatus.DORMANT and campaign.cycle == cycles)
            if not done:
                stuck.append(f"{campaign.id}: {evidence.final[campaign.id]}")
    if not liveness:
        return Check(
            "no campaign stuck",
            None,
            f"not checked: the run ended when a breaker paused the pipeline "
            f"({len(stuck)} campaigns were mid-cycle, paused, as designed)",
        )
    return Check(
        "no campaign stuck",
        not stuck,
        "every campaign finished its cycles (or stopped in ERROR with its reason)"
        if not stuck
        else "; ".join(stuck[:20]),
    )


async def _no_status_change_lost(runtime: Runtime, evidence: Evidence, liveness: bool) -> Check:
    async with runtime.sessions() as session:
        unpublished = await session.scalar(
            select(func.count()).where(OutboxEvent.published_at.is_(None))
        )
    wrong = []
    for campaign_id, kind in evidence.kinds.items():
        expected = EXPECTED_PATHS[kind]
        for cycle, path in sorted(evidence.paths.get(campaign_id, {}).items()):
            complete = path == expected
            prefix = path == expected[: len(path)]
            if not (complete or (not liveness and prefix)):
                wrong.append(f"{campaign_id} cycle {cycle}: {'>'.join(path)}")
    events = sum(len(p) for by_cycle in evidence.paths.values() for p in by_cycle.values())
    passed = not wrong and not unpublished
    detail = (
        f"{events} STATUS_CHANGEs, all published; every path as its kind expects"
        if passed
        else f"{unpublished} unpublished; wrong paths: {'; '.join(wrong[:20])}"
    )
    return Check("no STATUS_CHANGE lost", passed, detail)


async def _one_email_per_cycle(runtime: Runtime) -> Check:
    async with runtime.sessions() as session:
        rows = await session.execute(
            select(Email.campaign_id, Email.cycle, func.count())
            .group_by(Email.campaign_id, Email.cycle)
            .having(func.count() > 1)
        )
        doubles = [f"{c} cycle {y}: {n}" for c, y, n in rows]
    return Check(
        "one email built per campaign and cycle",
        not doubles,
        "no campaign built its newsletter twice" if not doubles else "; ".join(doubles),
    )


async def _mail_checks(
    runtime: Runtime, evidence: Evidence, sent_mail: list[dict[str, Any]], liveness: bool
) -> list[Check]:
    async with runtime.sessions() as session:
        recipients = list(await session.scalars(select(Recipient)))
        deliveries = list(await session.scalars(select(Delivery)))
        finished_cycles = {
            c.id: c.cycle
            for c in await session.scalars(select(Campaign))
            if c.campaign_status is CampaignStatus.DORMANT
        }
    per_address = Counter(a for m in sent_mail for a in m["destinations"]["ToAddresses"])
    evidence.emails_per_recipient = dict(sorted(per_address.items()))
    by_id = Counter(m["id"] for m in sent_mail)

    twice = []
    recorded: set[str] = set()
    for delivery in deliveries:
        if delivery.status is DeliveryStatus.SENT:
            if by_id.get(delivery.provider_message_id or "", 0) != 1:
                twice.append(f"delivery {delivery.id}: provider id not sent exactly once")
            recorded.add(delivery.provider_message_id or "")
    unrecorded = Counter(
        m["destinations"]["ToAddresses"][0] for m in sent_mail if m["id"] not in recorded
    )
    failed_claims = Counter(d.email for d in deliveries if d.status is DeliveryStatus.FAILED)
    for address, extra in unrecorded.items():
        if extra > failed_claims[address]:  # an email only a killed claim can explain, at most
            twice.append(f"{address}: {extra} emails no delivery accounts for")
    per_cycle = Counter((d.recipient_id, d.cycle) for d in deliveries)
    twice += [
        f"recipient {r} cycle {y}: {n} deliveries" for (r, y), n in per_cycle.items() if n > 1
    ]

    unsubscribed = [r.email for r in recipients if r.unsubscribed_at and per_address[r.email]]
    by_recipient = defaultdict(set)
    for delivery in deliveries:
        if delivery.status is DeliveryStatus.SENT or (
            delivery.status is DeliveryStatus.FAILED and delivery.error
        ):
            by_recipient[delivery.recipient_id].add(delivery.cycle)
    unaccounted = []
    for recipient in recipients:
        if recipient.unsubscribed_at:
            continue
        cycles = set(range(1, finished_cycles.get(recipient.campaign_id, 0) + 1))
        if evidence.kinds.get(recipient.campaign_id) == "bad-address":
            cycles = set()
        missing = cycles - by_recipient[recipient.id]
        if missing:
            unaccounted.append(f"{recipient.email} cycles {sorted(missing)}")
    failed = [d for d in deliveries if d.status is DeliveryStatus.FAILED]
    evidence.recipients = {
        "recipients": len(recipients),
        "unsubscribed": sum(1 for r in recipients if r.unsubscribed_at),
        "emails accepted by SES": len(sent_mail),
        "deliveries sent": sum(1 for d in deliveries if d.status is DeliveryStatus.SENT),
        "deliveries failed": len(failed),
        "emails sent but unrecorded (sender killed between send and record)": sum(
            unrecorded.values()
        ),
    }
    reasons = Counter((d.error or "")[:80] for d in failed)
    return [
        Check(
            "no recipient mailed twice in a cycle",
            not twice,
            f"{len(sent_mail)} emails to {len(per_address)} addresses, none twice in a cycle"
            if not twice
            else "; ".join(twice[:20]),
        ),
        Check(
            "no unsubscribed recipient mailed",
            not unsubscribed,
            "none" if not unsubscribed else ", ".join(unsubscribed[:20]),
        ),
        Check(
            "every subscribed recipient sent to or failed with a reason, each finished cycle",
            not unaccounted if liveness else None,
            (
                "all accounted for"
                + (f"; failed: {dict(reasons)}" if reasons else "")
                + ("" if liveness else " (partial run: not all cycles finished)")
            )
            if not unaccounted
            else "; ".join(unaccounted[:20]),
        ),
    ]


def _bad_messages_dead_lettered(evidence: Evidence, markers: dict[str, str]) -> Check:
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for letter in evidence.dead_letters:
        for marker in markers:
            if _has_marker(letter["body"], marker):
                found[marker].append(letter)
    problems = []
    for marker, queue in markers.items():
        letters = found.get(marker, [])
        if len(letters) != 1:
            problems.append(f"{marker} (sent to {queue}): {len(letters)} dead letters")
        elif not letters[0]["reason"] or letters[0]["reason"] == redrive.NO_REASON:
            problems.append(f"{marker}: dead-lettered without a reason")
    return Check(
        "every bad message dead-lettered with a reason",
        not problems,
        f"{len(markers)} malformed/foreign messages, each in its DLQ with a reason"
        if not problems
        else "; ".join(problems[:20]),
    )


def _no_good_message_dead_lettered(evidence: Evidence) -> Check:
    good = [
        f"{letter['queue']}: {letter['reason']}"
        for letter in evidence.dead_letters
        if BAD_MARKER not in letter["body"]
    ]
    return Check(
        "no real event dead-lettered",
        not good,
        "the DLQs hold only the injected bad messages" if not good else "; ".join(good[:20]),
    )


def _has_marker(body: str, marker: str) -> bool:
    """`chaos-bad-1` must not match inside `chaos-bad-12`."""
    start = body.find(marker)
    while start != -1:
        end = start + len(marker)
        if end == len(body) or not body[end].isdigit():
            return True
        start = body.find(marker, end)
    return False
