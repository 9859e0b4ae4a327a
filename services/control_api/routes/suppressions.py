"""Suppressions: the addresses SES's feedback took off every list, and lifting them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from services.control_api.deps import Operator, Page, RuntimeDep
from services.control_api.errors import OPERATOR_ERRORS
from shared.domain.feedback import SuppressionReason
from shared.service_layer import suppressions
from shared.views import suppressions as suppression_views

router = APIRouter(prefix="/api/v1", tags=["suppressions"], responses=OPERATOR_ERRORS)

ADDRESS = r"^[^@ \t\n\r\f\v]+@[^@ \t\n\r\f\v]+$"
"""Spelled out, not \\s: Python and JSON Schema (ECMA) regexes disagree on what \\s is."""
Email = Annotated[str, Path(min_length=3, max_length=320, pattern=ADDRESS)]


@router.get("/suppressions")
async def list_suppressions(
    runtime: RuntimeDep,
    _: Operator,
    page: Page = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
    email: Annotated[str | None, Query(max_length=320, description="part of the address")] = None,
    reason: SuppressionReason | None = None,
    lifted: Annotated[bool, Query(description="the lifted ones instead")] = False,
) -> suppression_views.SuppressionPage:
    async with runtime.sessions() as session:
        return await suppression_views.suppressions(
            session, page=page, page_size=page_size, email=email, reason=reason, lifted=lifted
        )


@router.delete("/suppressions/{email}")
async def lift_suppression(
    email: Email, runtime: RuntimeDep, who: Operator
) -> suppression_views.SuppressionRow:
    """Lift it: the next send mails the address again (404 if it is not suppressed)."""
    return await suppressions.lift(runtime.unit_of_work(), email, who)
