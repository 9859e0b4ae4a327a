"""The control API's client, as the `dripr` operator commands use it."""

from __future__ import annotations

from typing import Any

import httpx

from shared.domain.errors import DriprError
from shared.domain.operators import to_header


class ApiCallError(DriprError):
    """The API said no, or could not be reached; the message is the API's own."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class ApiClient:
    def __init__(self, base_url: str, token: str | None, actor: str | None = None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if actor:
            headers["X-Operator"] = to_header(actor)
        self._http = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=60)

    def close(self) -> None:
        self._http.close()

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiCallError(
                0, f"cannot reach the control API at {self._http.base_url}: {exc}"
            ) from exc
        if response.status_code >= 400:
            try:
                message = response.json().get("message") or response.text
            except ValueError:
                message = response.text or response.reason_phrase
            raise ApiCallError(response.status_code, f"{message} (HTTP {response.status_code})")
        return response.json()
