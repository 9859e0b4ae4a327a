"""Hypothesis profiles for the fuzz suite: "ci" (the default) and "long" (`make fuzz`).

Both derandomize, so a failure in CI is the same failure on a laptop, and neither has a
deadline: a database round trip or an emulator call varies far more than any deadline allows.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

LONG_FACTOR = 20
"""How many times more examples each property gets under the "long" profile."""

SUPPRESSED = [HealthCheck.too_slow, HealthCheck.data_too_large]

for _name, _examples in (("ci", 300), ("long", 300 * LONG_FACTOR)):
    settings.register_profile(
        _name,
        max_examples=_examples,
        deadline=None,
        derandomize=True,
        database=None,
        print_blob=True,
        suppress_health_check=SUPPRESSED,
    )
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
settings.load_profile(PROFILE)


def examples(ci: int) -> settings:
    """`ci` examples under the ci profile, LONG_FACTOR times as many under "long".

    For properties whose examples are slow (a database or an emulator round trip each). Their
    fixtures are function-scoped, which is safe because every example builds what it needs.
    """
    return settings(
        max_examples=ci * (LONG_FACTOR if PROFILE == "long" else 1),
        suppress_health_check=[*SUPPRESSED, HealthCheck.function_scoped_fixture],
    )
