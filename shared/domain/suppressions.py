"""Suppressed addresses: how they are keyed, and why a delivery to one is skipped."""

from __future__ import annotations

from shared.domain.feedback import SuppressionReason


def normalise(email: str) -> str:
    """The key a suppression is stored and looked up by: one address, however it was typed."""
    return email.strip().lower()


def skip_reason(reason: SuppressionReason) -> str:
    """What a skipped delivery's error says, so the operator sees why nobody mailed it."""
    return {
        SuppressionReason.BOUNCE: "suppressed: the address bounced permanently",
        SuppressionReason.COMPLAINT: "suppressed: the recipient complained (marked as spam)",
        SuppressionReason.TRANSIENT_BOUNCES: "suppressed: the address kept bouncing",
    }[reason]
