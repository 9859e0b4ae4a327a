"""The control API under generated input: never a 500, always a status and a message.

Bodies are near-valid models with fields swapped for anything JSON can carry (wrong types, huge
numbers, lone surrogates, extreme dates), extra and missing fields; path and query parameters
get huge, negative and non-numeric values. The app runs in-process on the test's runtime.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import event, example, given
from hypothesis import strategies as st
from pydantic import SecretStr
from sqlalchemy import select

from services.control_api.app import create_app
from shared.adapters.db.models import Recipient
from shared.adapters.topology import TOPOLOGY
from shared.bootstrap import Runtime
from shared.domain.dependencies import BREAKERS
from shared.domain.statuses import CampaignStatus, SubStatus
from shared.domain.transitions import SUB_STATUS_COLUMNS
from shared.domain.unsubscribe import make_token
from shared.service_layer import sends
from tests.factories import make_campaign
from tests.fuzz.profiles import examples
from tests.fuzz.strategies import BIG, json_values, numbers, texts

TOKEN = "fuzz-operator-token-0123456789"

url_texts = st.text()
"""What a URL can carry: decoded query and path text is never a lone surrogate."""
path_ids = st.one_of(
    st.integers(min_value=-3, max_value=3),
    st.sampled_from([2**31, 2**63, BIG, -BIG]),
    url_texts,
    st.floats().map(str),
).map(lambda v: quote(str(v), safe="") or "0")
path_names = url_texts.map(lambda v: quote(v, safe="") or "x")
junk_query = st.one_of(numbers.map(str), url_texts)
QUERY = {
    "status": st.sampled_from(CampaignStatus).map(str),
    "sub_status": st.builds(
        "{}:{}".format, st.sampled_from(SUB_STATUS_COLUMNS), st.sampled_from(SubStatus)
    ),
    "error": st.booleans().map(str).map(str.lower),
    "paused": st.booleans().map(str).map(str.lower),
    "page": st.integers(1, 3).map(str),
    "page_size": st.integers(1, 500).map(str),
    "cycle": st.integers(0, 3).map(str),
    "limit": st.integers(1, 100).map(str),
}


def query(*names: str) -> st.SearchStrategy[dict[str, str]]:
    """Some of these query parameters, each valid or junk."""
    return st.fixed_dictionaries({}, optional={n: field(QUERY[n]) | junk_query for n in names})


datetimes = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.timezones()
).map(datetime.isoformat)
emails = st.emails()


def field(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A field's value: mostly one the model could take, else anything JSON carries."""
    return st.one_of(valid, valid, valid, json_values)


@st.composite
def body(draw: st.DrawFn, required: dict[str, Any], optional: dict[str, Any]) -> Any:
    """A valid JSON object, or one with a field replaced, dropped or added; or not an object."""
    document = draw(st.fixed_dictionaries(required, optional=optional))
    how = draw(st.sampled_from(["valid", "valid", "replace", "drop", "extra", "junk"]))
    keys = sorted({*required, *optional})
    if how == "replace":
        document[draw(st.sampled_from(keys))] = draw(json_values)
    elif how == "drop" and document:
        document.pop(draw(st.sampled_from(sorted(document))))
    elif how == "extra":
        document[draw(texts)] = draw(json_values)
    elif how == "junk":
        return draw(json_values)
    return document


names = st.text(min_size=1, max_size=40)
"""Text a model takes, from control characters to emoji (`json_values` has the rest)."""
recipients = st.lists(
    st.fixed_dictionaries({"email": emails}, optional={"name": names}),
    min_size=1,
    max_size=3,
    unique_by=lambda r: str(r["email"]).lower(),
)
campaign_fields = {
    "name": names,
    "agent_name": names,
    "agent_email": emails,
    "address": names,
    "market_area": names,
    "no_address_newsletter": st.booleans(),
    "requires_approval": st.booleans(),
    "cadence_days": st.integers(1, 365),
    "next_send_datetime": datetimes,
}
REQUIRED = ("name", "agent_name", "agent_email", "market_area", "address")
campaign_bodies = body(
    {k: v for k, v in campaign_fields.items() if k in REQUIRED} | {"recipients": recipients},
    {k: v for k, v in campaign_fields.items() if k not in REQUIRED},
)
edit_bodies = body({}, campaign_fields)
small = st.integers(0, 100)
batch_bodies = body({"campaign_ids": st.lists(small, min_size=1, max_size=4)}, {})
control_bodies = body({}, {"batch_size": small, "delay_ms": small, "cooldown_seconds": small})
redrive_bodies = body(
    {},
    {
        "campaign_id": numbers,
        "error_contains": texts,
        "older_than_seconds": small,
        "limit": small,
        "dry_run": st.just(True),  # a real redrive would re-publish: out of scope here
    },
)
threshold_bodies = body({"threshold": small}, {})

VALID_CAMPAIGN = {
    "name": "n",
    "agent_name": "a",
    "agent_email": "a@b.co",
    "market_area": "Boise, ID",
    "address": "1 Main St",
    "recipients": [{"email": "r@b.co"}],
}


@pytest.fixture
async def api(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    settings = runtime.settings.model_copy(update={"api_token": SecretStr(TOKEN)})
    app = create_app(settings, runtime)
    app.state.runtime = runtime  # ASGITransport runs no lifespan
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    headers = {"Authorization": f"Bearer {TOKEN}", "X-Operator": "fuzz"}
    async with httpx.AsyncClient(transport=transport, base_url="http://api", headers=headers) as c:
        yield c


async def answered(
    api: httpx.AsyncClient, method: str, url: str, payload: Any = None, **params: Any
) -> httpx.Response:
    """Send the request; it must get a non-5xx answer, and an error must say what was wrong."""
    content = None if payload is None else json.dumps(payload, allow_nan=True)
    response = await api.request(
        method,
        url,
        content=content,
        params=params,
        headers={"Content-Type": "application/json"} if content is not None else {},
    )
    event(f"{method} {response.status_code}")  # see --hypothesis-show-statistics
    where = f"{method} {url} {params or ''} {content or ''}"[:2000]
    assert response.status_code < 500, f"{where} -> {response.status_code}: {response.text[:500]}"
    if response.status_code >= 400 and "json" in response.headers.get("content-type", ""):
        assert response.json()["message"], where
    elif response.status_code >= 400:
        assert response.text.strip(), where
    return response


@examples(150)
@given(payload=campaign_bodies)
@example(payload={**VALID_CAMPAIGN, "name": "\ud800"})
@example(payload={**VALID_CAMPAIGN, "next_send_datetime": "9999-12-31T23:00:00-05:00"})
@example(payload={**VALID_CAMPAIGN, "next_send_datetime": "0001-01-01T00:00:00"})
async def test_create_campaign(api: httpx.AsyncClient, payload: Any) -> None:
    response = await answered(api, "POST", "/api/v1/campaigns", payload)
    if response.status_code == 201:
        assert response.json()["name"] == payload["name"]


@examples(120)
@given(payload=edit_bodies, campaign=st.just("existing") | path_ids)
@example(payload={"next_send_datetime": "0001-01-01T00:00:00+01:00"}, campaign="existing")
@example(payload={"address": "\x00\ud800"}, campaign="existing")
async def test_edit_campaign(
    api: httpx.AsyncClient, runtime: Runtime, payload: Any, campaign: str
) -> None:
    if campaign == "existing":
        campaign = str(await make_campaign(runtime.sessions))
    await answered(api, "PATCH", f"/api/v1/campaigns/{campaign}", payload)


@examples(120)
@given(
    campaign=path_ids,
    query=query("status", "sub_status", "error", "paused", "page", "page_size", "cycle"),
)
@example(campaign=str(BIG), query={"page": str(BIG)})
async def test_read_campaigns(api: httpx.AsyncClient, campaign: str, query: dict[str, str]) -> None:
    await answered(api, "GET", "/api/v1/campaigns", **query)
    await answered(api, "GET", f"/api/v1/campaigns/{campaign}")
    await answered(api, "GET", f"/api/v1/campaigns/{campaign}/send", **query)


@pytest.fixture
async def existing(runtime: Runtime) -> list[int]:
    """Campaigns that exist, so batch actions reach their state checks, not only a 404."""
    return [await make_campaign(runtime.sessions) for _ in range(3)]


@examples(120)
@given(
    action=st.sampled_from(["approve", "reject", "send_now", "retry"]) | path_names,
    payload=batch_bodies,
    real=st.booleans(),
)
@example(action="approve", payload={"campaign_ids": [BIG]}, real=False)
async def test_batch_actions(
    api: httpx.AsyncClient, existing: list[int], action: str, payload: Any, real: bool
) -> None:
    if real and isinstance(payload, dict) and isinstance(payload.get("campaign_ids"), list):
        ids = payload["campaign_ids"]
        payload = {**payload, "campaign_ids": [_pick(existing, i) for i in ids]}
    await answered(api, "POST", f"/api/v1/campaigns/actions/{action}", payload)


def _pick(existing: list[int], value: Any) -> Any:
    """An existing campaign's id for an integer, deterministically; anything else as it is."""
    return existing[value % len(existing)] if isinstance(value, int) else value


@pytest.fixture
async def send_id(runtime: Runtime) -> int:
    """A real send, so the send routes reach the database and its state checks."""
    campaign_id = await make_campaign(runtime.sessions, recipients=3)
    async with runtime.unit_of_work() as uow:
        controls = sends.Controls(batch_size=2, delay_ms=0, cooldown_seconds=0)
        send = await sends.start(uow, campaign_id, 1, controls)
        await uow.commit()
        return send.id


@examples(120)
@given(
    send=st.just("existing") | path_ids,
    payload=control_bodies,
    query=query("page", "page_size", "status"),
    actions=st.lists(st.sampled_from(["pause", "resume", "cancel"]), max_size=3),
)
@example(send="existing", payload={"batch_size": 1}, query={"page": str(BIG)}, actions=[])
async def test_sends(
    api: httpx.AsyncClient,
    send_id: int,
    send: str,
    payload: Any,
    query: dict[str, str],
    actions: list[str],
) -> None:
    send = str(send_id) if send == "existing" else send
    await answered(api, "GET", f"/api/v1/sends/{send}")
    await answered(api, "GET", f"/api/v1/sends/{send}/recipients", **query)
    for action in actions:
        await answered(api, "POST", f"/api/v1/sends/{send}/{action}")
    await answered(api, "PATCH", f"/api/v1/sends/{send}/controls", payload)


@examples(40)
@given(
    name=st.sampled_from([q.name for q in TOPOLOGY.queues]) | path_names,
    payload=redrive_bodies,
    limit=field(QUERY["limit"]) | junk_query,
)
async def test_dead_letter_queues(
    api: httpx.AsyncClient, name: str, payload: Any, limit: str
) -> None:
    await answered(api, "GET", f"/api/v1/queues/{name}/dlq", limit=limit)
    if isinstance(payload, dict) and payload.get("dry_run", True) is not True:
        payload = {**payload, "dry_run": True}
    await answered(api, "POST", f"/api/v1/queues/{name}/dlq/redrive", payload)


@examples(120)
@given(name=st.sampled_from(sorted(BREAKERS)) | path_names, payload=threshold_bodies)
async def test_breakers(api: httpx.AsyncClient, name: str, payload: Any) -> None:
    await answered(api, "PATCH", f"/api/v1/queue-management/breakers/{name}", payload)
    await answered(api, "POST", f"/api/v1/queue-management/breakers/{name}/reset")


@examples(120)
@given(
    token=url_texts | st.builds("{}.{}.{}".format, numbers, numbers, url_texts) | st.just("valid"),
    method=st.sampled_from(["GET", "POST"]),
)
@example(token=f"{BIG}.{BIG}.x", method="GET")
async def test_unsubscribe(
    api: httpx.AsyncClient, runtime: Runtime, token: str, method: str
) -> None:
    if token == "valid":
        campaign_id = await make_campaign(runtime.sessions, recipients=1)
        async with runtime.sessions() as session:
            recipient = await session.scalar(
                select(Recipient.id).where(Recipient.campaign_id == campaign_id)
            )
        assert recipient is not None
        token = make_token(
            runtime.settings.unsubscribe_secret.get_secret_value(), recipient, campaign_id
        )
    if method == "GET":
        response = await answered(api, "GET", "/unsubscribe", token=token)
    else:
        response = await api.post("/unsubscribe", data={"token": token})
        event(f"POST {response.status_code}")
    assert response.status_code in (200, 400), f"{method} /unsubscribe {token!r}: {response.text}"
