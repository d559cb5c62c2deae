"""The API client: retries, validation of answers, and the key kept secret."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from producer import metrics
from producer.api import SkillableClient, retry_after_seconds
from producer.deadline import Deadline
from producer.errors import ApiError, BadResponseError

KEY = "s3cret-api-key"


def client(handler, *, retries: int = 3, sleeps: list | None = None) -> SkillableClient:
    return SkillableClient("http://api.test/api/v3", KEY, max_retries=retries,
                           transport=httpx.MockTransport(handler),
                           sleep=(sleeps.append if sleeps is not None else lambda s: None))


def answer(body: bytes, status: int = 200, **headers: str):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers=headers)
    return handler


def test_sends_minutes_and_key_header(skillable_fixtures: Path) -> None:
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=(skillable_fixtures / "example.json").read_bytes())

    results = client(handler).latest_results(15, Deadline(10))
    assert [r.LabInstanceId for r in results] == [349744, 349745]
    assert seen[0].url.path == "/api/v3/LatestResults"
    assert seen[0].url.params["minutes"] == "15"
    assert seen[0].headers["api_key"] == KEY


def test_error_status_fails_with_the_api_message(skillable_fixtures: Path) -> None:
    body = (skillable_fixtures / "error-status.json").read_bytes()
    with pytest.raises(BadResponseError, match="Status 0: The API key provided is not valid"):
        client(answer(body)).latest_results(5, Deadline(10))


def test_empty_answer_is_a_success(skillable_fixtures: Path) -> None:
    body = (skillable_fixtures / "empty.json").read_bytes()
    assert client(answer(body)).latest_results(5, Deadline(10)) == []


@pytest.mark.parametrize(("body", "match"), [
    (b"<!DOCTYPE html><html><body>Maintenance</body></html>", "not valid JSON.*Maintenance"),
    (b'{"Results": [{"LabInstanceId": 1', "not valid JSON"),
    (b'{"Results": [{"LabInstanceId": "x"}], "Status": 1}', r"wrong shape.*LabInstanceId"),
    (b'{"Results": {}, "Status": 1}', "wrong shape"),
    (b'[]', "wrong shape"),
    (b'{"Status": 1}', "without Results"),
    (b'{"Results": [], "Status": true}', "wrong shape"),
])
def test_unusable_bodies_fail_the_poll_naming_what_came_back(body: bytes, match: str) -> None:
    with pytest.raises(BadResponseError, match=match):
        client(answer(body, **{"content-type": "text/html"})).latest_results(5, Deadline(10))


def test_nulls_unknown_fields_and_integer_doubles_are_accepted(skillable_fixtures: Path) -> None:
    import json
    body = json.loads((skillable_fixtures / "example.json").read_text())
    body["Results"][0] |= {"Latitude": 47, "Brand": "new", "LabHostId": None}
    body["Extra"] = {"x": 1}
    [first, _] = client(answer(json.dumps(body).encode())).latest_results(5, Deadline(10))
    assert first.Latitude == 47.0 and isinstance(first.Latitude, float)
    assert first.LabHostId is None


def test_out_of_range_int32_is_rejected(skillable_fixtures: Path) -> None:
    import json
    body = json.loads((skillable_fixtures / "example.json").read_text())
    body["Results"][0]["LabProfileId"] = 2**31
    with pytest.raises(BadResponseError, match="LabProfileId"):
        client(answer(json.dumps(body).encode())).latest_results(5, Deadline(10))


def test_retries_5xx_and_429_honouring_retry_after(skillable_fixtures: Path) -> None:
    replies = iter([httpx.Response(503), httpx.Response(429, headers={"Retry-After": "7"}),
                    httpx.Response(200, content=(skillable_fixtures / "empty.json").read_bytes())])
    sleeps: list[float] = []
    before = metrics.API_RETRIES.labels("429")._value.get()
    assert client(lambda r: next(replies), sleeps=sleeps).latest_results(5, Deadline(60)) == []
    assert len(sleeps) == 2 and sleeps[1] >= 7
    assert metrics.API_RETRIES.labels("429")._value.get() == before + 1


def test_retries_are_bounded_in_count() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(500)

    with pytest.raises(ApiError, match="after 3 attempt") as caught:
        client(handler, retries=2).latest_results(5, Deadline(60))
    assert len(calls) == 3 and caught.value.status == 500


def test_connection_errors_are_retried_then_fail() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    with pytest.raises(ApiError, match="ConnectError"):
        client(handler, retries=1).latest_results(5, Deadline(60))


def test_client_errors_are_not_retried() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(404, text="no such command")

    with pytest.raises(ApiError, match="HTTP 404"):
        client(handler).latest_results(5, Deadline(60))
    assert len(calls) == 1


def test_retry_wait_beyond_the_deadline_gives_up() -> None:
    handler = answer(b"", 429, **{"Retry-After": "3600"})
    with pytest.raises(ApiError, match="retry time"):
        client(handler).latest_results(5, Deadline(30))


def test_the_key_never_appears_in_errors() -> None:
    body = f"<html>bad key {KEY}</html>".encode()
    with pytest.raises(BadResponseError) as caught:
        client(answer(body)).latest_results(5, Deadline(10))
    assert KEY not in str(caught.value)


@pytest.mark.parametrize(("value", "expected"), [
    ("5", 5.0), ("0", 0.0), (None, None), ("soon", None),
    ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
])
def test_retry_after_forms(value, expected) -> None:
    assert retry_after_seconds(value) == expected
