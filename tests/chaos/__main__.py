"""`python -m tests.chaos`: the concurrent-campaigns run under faults (`make chaos`)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from shared.logging import configure_logging
from tests.chaos.report import as_text
from tests.chaos.run import ChaosOptions, run_chaos


def main() -> int:
    defaults = ChaosOptions()
    parser = argparse.ArgumentParser(prog="python -m tests.chaos", description=__doc__)
    parser.add_argument("--campaigns", type=int, default=defaults.campaigns)
    parser.add_argument("--recipients", type=int, default=defaults.recipients)
    parser.add_argument("--cycles", type=int, default=defaults.cycles)
    parser.add_argument("--replicas", type=int, default=defaults.replicas)
    parser.add_argument("--kills", type=int, default=defaults.kills)
    parser.add_argument("--bad-messages", type=int, default=defaults.bad_messages)
    parser.add_argument(
        "--endpoint-outage-seconds",
        type=float,
        default=defaults.endpoint_outage_seconds,
        help="how long the AWS endpoint refuses connections (0: not at all)",
    )
    parser.add_argument(
        "--database-outage-seconds",
        type=float,
        default=defaults.database_outage_seconds,
        help="how long the database is unreachable (0: not at all)",
    )
    parser.add_argument(
        "--visibility-timeout",
        type=int,
        help="set every queue's visibility timeout first (default: as provisioned, 30 s)",
    )
    parser.add_argument(
        "--on-breaker",
        choices=("stop", "resume"),
        default=defaults.on_breaker,
        help="stop: report and end gracefully when the breaker pauses the pipeline; "
        "resume: reset and resume as an operator would, and carry on",
    )
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--timeout", type=float, default=defaults.timeout)
    parser.add_argument("--workdir", type=Path, default=defaults.workdir)
    parser.add_argument("--database-url", help="default: a scratch MySQL database, else SQLite")
    parser.add_argument("--emulator", help="AWS endpoint (LocalStack); default: a moto server")
    args = parser.parse_args()
    configure_logging("console", "WARNING")
    logging.getLogger("asyncmy").setLevel(logging.ERROR)  # INSERT IGNORE's duplicate warnings
    options = ChaosOptions(
        campaigns=args.campaigns,
        recipients=args.recipients,
        cycles=args.cycles,
        replicas=args.replicas,
        kills=args.kills,
        bad_messages=args.bad_messages,
        endpoint_outage_seconds=args.endpoint_outage_seconds,
        database_outage_seconds=args.database_outage_seconds,
        visibility_timeout=args.visibility_timeout,
        on_breaker=args.on_breaker,
        seed=args.seed,
        timeout=args.timeout,
        workdir=args.workdir,
        database_url=args.database_url,
        emulator=args.emulator,
    )
    report = run_chaos(options)
    print()
    print(as_text(report))
    print(f"\nReport: {options.workdir}/chaos-report.txt and chaos-report.json")
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
