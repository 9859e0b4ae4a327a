"""The dashboard reads and acts through the control API itself, in process.

Every page and button goes through the same /api/v1 endpoints as the `dripr` CLI, with the
configured bearer token and the signed-in operator as X-Operator: the same validation, the same
409 refusals, the same audit rows. Nothing here touches the database directly.
"""

from __future__ import annotations

from typing import Any

import httpx
from starlette.types import ASGIApp

from shared.domain.errors import DriprError
from shared.domain.operators import to_header


class Refused(DriprError):
    """The API said no; `message` is the API's own text, shown to the operator as it is."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class Api:
    def __init__(self, app: ASGIApp, token: str, operator: str) -> None:
        self._http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://dashboard.internal",
            headers={"Authorization": f"Bearer {token}", "X-Operator": to_header(operator)},
            timeout=60,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def get(self, path: str, **params: Any) -> Any:
        query = {k: v for k, v in params.items() if v is not None and v != ""}
        return await self._call("GET", path, params=query)

    async def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return await self._call("POST", path, json=body)

    async def patch(self, path: str, body: dict[str, Any]) -> Any:
        return await self._call("PATCH", path, json=body)

    async def delete(self, path: str) -> Any:
        return await self._call("DELETE", path)

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self._http.request(method, f"/api/v1{path}", **kwargs)
        if response.status_code >= 400:
            try:
                message = str(response.json().get("message") or response.text)
            except ValueError:
                message = response.text or response.reason_phrase
            raise Refused(response.status_code, message)
        return response.json()
