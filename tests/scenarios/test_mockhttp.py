"""The mocked HTTP services: matching, typed bodies, delays and failures on the mock clock."""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import pytest

from ivrd.flow import Flow, load_flow
from ivrd.scenarios.mockhttp import MockServices, SeenRequest, base_urls
from ivrd.scenarios.models import HttpReply

from .conftest import FLOWS

pytestmark = pytest.mark.anyio

CRM = "https://crm.acme.example/api/v2"


@pytest.fixture(scope="module")
def acme() -> Flow:
    return load_flow(FLOWS / "acme-main.yaml").require()


def reply(**fields: Any) -> HttpReply:
    return HttpReply.model_validate(fields)


def services(flow: Flow, replies: dict[str, list[HttpReply]]) -> MockServices:
    return MockServices(flow, {k: tuple(v) for k, v in replies.items()}, {"CRM_TOKEN": "t"})


async def test_services_are_found_by_name_and_url_path_method_and_times(acme: Flow) -> None:
    mock = services(
        acme,
        {
            "crm": [
                reply(method="GET", path="/accounts/1*", times=1, status=404),
                reply(method="GET", path="accounts/*", json={"vip": True}),
                reply(method="POST", status=201, text="made"),
            ],
            "https://other.example/v1": [reply(status=202)],
        },
    )
    async with httpx.AsyncClient(transport=mock) as client:
        first = await client.get(f"{CRM}/accounts/123?fields=vip")
        second = await client.get(f"{CRM}/accounts/123")
        posted = await client.post(f"{CRM}/calls", json={"uuid": "x"})
        other = await client.get("https://other.example/v1/things")
        with pytest.raises(httpx.ConnectError, match="no mock matches"):
            await client.get("https://crm.acme.example/api/v20/accounts/1")
    assert (first.status_code, second.status_code, second.json()) == (404, 200, {"vip": True})
    assert (posted.status_code, posted.text) == (201, "made")
    assert other.status_code == 202
    assert [str(seen) for seen in mock.seen] == [
        f"GET {CRM}/accounts/123?fields=vip -> 404",
        f"GET {CRM}/accounts/123 -> 200",
        f"POST {CRM}/calls -> 201",
        "GET https://other.example/v1/things -> 202",
        "GET https://crm.acme.example/api/v20/accounts/1 -> refused (no mock matches)",
    ]


async def test_a_slow_service_times_out_at_the_requests_timeout(acme: Flow) -> None:
    seen: list[SeenRequest] = []
    mock = MockServices(
        acme,
        {"crm": (reply(path="/slow", delay="10s"), reply(path="/ok", delay="1500ms"))},
        {},
        on_request=seen.append,
    )
    async with httpx.AsyncClient(transport=mock) as client:
        start = anyio.current_time()
        ok = await client.get(f"{CRM}/ok", timeout=2)
        assert anyio.current_time() - start == pytest.approx(1.5)
        start = anyio.current_time()
        with pytest.raises(httpx.ReadTimeout):
            await client.get(f"{CRM}/slow", timeout=2)
        assert anyio.current_time() - start == pytest.approx(2.0)
    assert ok.status_code == 200
    assert [request.answer for request in seen] == ["200", "timeout"]


async def test_failures(acme: Flow) -> None:
    mock = services(
        acme, {"crm": [reply(path="/down", failure="refused"), reply(failure="timeout")]}
    )
    async with httpx.AsyncClient(transport=mock) as client:
        with pytest.raises(httpx.ConnectError, match="refused"):
            await client.get(f"{CRM}/down")
        start = anyio.current_time()
        with pytest.raises(httpx.ReadTimeout):
            await client.get(f"{CRM}/anything", timeout=3)
        assert anyio.current_time() - start == pytest.approx(3.0)


def test_base_urls_of_the_flow_and_its_subflows() -> None:
    pin = load_flow(FLOWS / "pin-check.yaml").require()
    assert base_urls(pin, {}) == {"bank": ["https://core.bank.example/v1"]}
