"""The chaos run's report: the same facts as text for a person and JSON for a machine."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tests.chaos.faults import Fault
from tests.chaos.invariants import Check, Evidence

SHORT = {
    "WAITING_FOR_DATA": "DATA",
    "WAITING_FOR_HOME_ANALYSIS": "HOME",
    "READY_TO_CREATE_EMAIL": "MAIL",
    "WAITING_FOR_MANUAL_APPROVAL": "OK?",
    "READY_TO_SEND_EMAIL": "SEND",
    "SENDING": "SENDING",
    "DORMANT": "D",
    "ERROR": "ERR",
}


@dataclass
class ChaosReport:
    options: dict[str, str]
    database: str
    emulator: str
    outcome: str
    elapsed_seconds: float
    faults: list[Fault]
    fault_counts: dict[str, int]
    checks: list[Check]
    evidence: Evidence | None
    exits: dict[str, int | None] = field(default_factory=dict)
    recovery: list[dict[str, object]] = field(default_factory=list)
    """Per fault kind and service: p50 and max seconds to finish the interrupted work."""

    @property
    def passed(self) -> bool:
        return all(check.passed is not False for check in self.checks)

    def failed(self) -> list[Check]:
        return [check for check in self.checks if check.passed is False]


def as_text(report: ChaosReport) -> str:
    lines = [
        "dripr chaos run",
        f"  outcome: {report.outcome} after {report.elapsed_seconds}s; database {report.database}; "
        f"emulator {report.emulator}",
        "  options: " + ", ".join(f"{k}={v}" for k, v in report.options.items()),
        "",
        f"Faults injected ({len(report.faults)}): "
        + ", ".join(f"{k}={n}" for k, n in sorted(report.fault_counts.items())),
    ]
    lines += [f"  [{f.at:6.1f}s] {f.kind}: {f.detail}" for f in report.faults]
    evidence = report.evidence
    if evidence is not None:
        lines += ["", "Campaign paths (D=DORMANT; one line per campaign, cycles separated by |):"]
        for campaign_id in sorted(evidence.kinds):
            cycles = evidence.paths.get(campaign_id, {})
            path = " | ".join(">".join(SHORT.get(s, s) for s in cycles[c]) for c in sorted(cycles))
            lines.append(
                f"  {campaign_id:>5} {evidence.kinds[campaign_id]:<11} {path or '-'}"
                f"   now {evidence.final.get(campaign_id, '?')}"
            )
        per = Counter(evidence.emails_per_recipient.values())
        lines += [
            "",
            "Emails per recipient: "
            + ", ".join(f"{n} address(es) got {k}" for k, n in sorted(per.items())),
        ]
        lines += [f"  {k}: {v}" for k, v in evidence.recipients.items()]
        lines += ["", f"Dead-letter queues ({len(evidence.dead_letters)} messages):"]
        lines += [
            f"  {d['queue']}: {d['reason']} | {d['body'][:90]}" for d in evidence.dead_letters
        ]
    if report.recovery:
        lines += [
            "",
            "Recovery: seconds until the work a fault interrupted was done, after the restart or"
            " the dependency's return (and after the kill or the outage's start):",
        ]
        lines += [
            f"  {r['fault']:<16} {r['service']:<15} x{r['faults']:<3} "
            f"{r['interrupted_events']:>4} events  p50 {r['p50_after_end_s']:>5}s  "
            f"max {r['max_after_end_s']:>5}s   (from the start: p50 {r['p50_after_start_s']}s, "
            f"max {r['max_after_start_s']}s)"
            for r in report.recovery
        ]
    lines += ["", "Invariants:"]
    for check in report.checks:
        mark = {True: "PASS", False: "FAIL", None: "n/a "}[check.passed]
        lines.append(f"  {mark} {check.name}: {check.detail}")
    lines += ["", "RESULT: " + ("PASSED" if report.passed else "FAILED")]
    return "\n".join(lines)


def as_json(report: ChaosReport) -> dict[str, Any]:
    data = asdict(report)
    data["passed"] = report.passed
    return data


def write_report(report: ChaosReport, workdir: Path) -> tuple[Path, Path]:
    workdir.mkdir(parents=True, exist_ok=True)
    text_path, json_path = workdir / "chaos-report.txt", workdir / "chaos-report.json"
    text_path.write_text(as_text(report) + "\n")
    json_path.write_text(json.dumps(as_json(report), indent=2, default=str) + "\n")
    return text_path, json_path
