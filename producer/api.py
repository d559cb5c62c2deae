"""Client of the Skillable Lab on Demand API: ``LatestResults`` and ``Results``.

A thin shell around httpx. Retries connection errors, timeouts, 429 (honouring
``Retry-After``) and 5xx with exponential backoff and full jitter, bounded in
count and in time. Every answer is validated: an error ``Status``, a body that
is not JSON or JSON of the wrong shape raises an error naming what came back,
never an empty success. The API key travels only in the ``api_key`` header and
never appears in an error message.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import msgspec
import structlog

from producer import metrics, model
from producer.deadline import Deadline
from producer.errors import ApiError, BadResponseError, DeadlineExceeded

log = structlog.get_logger(__name__)

SNIPPET_CHARS = 160
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 30.0


class _Retry(Exception):
    """An attempt failed in a way worth another try."""

    def __init__(self, reason: str, message: str, status: int | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


class SkillableClient:
    """Fetches and validates lab results."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        connect_timeout: float = 10.0,
        read_timeout: float = 120.0,
        max_retries: int = 5,
        retry_max_seconds: float = 120.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._api_key = api_key
        self._max_retries = max_retries
        self._retry_max_seconds = retry_max_seconds
        self._sleep = sleep
        self._read_timeout = read_timeout
        self._connect_timeout = connect_timeout
        timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
        self._http = httpx.Client(
            base_url=base_url.rstrip("/") + "/",
            headers={"api_key": api_key, "Accept": "application/json"},
            timeout=timeout,
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def latest_results(self, minutes: int, deadline: Deadline) -> list[Any]:
        """Results that changed state within the last ``minutes``."""
        return self._fetch("LatestResults", {"minutes": minutes}, deadline)

    def results(self, start: int, end: int, deadline: Deadline) -> list[Any]:
        """Results that started or ended between ``start`` and ``end`` (epoch seconds)."""
        return self._fetch("Results", {"start": start, "end": end}, deadline)

    def _fetch(self, command: str, params: dict[str, int], deadline: Deadline) -> list[Any]:
        body, content_type = self._get_with_retries(command, params, deadline)
        return self._parse(command, body, content_type)

    def _get_with_retries(self, command: str, params: dict[str, int],
                          deadline: Deadline) -> tuple[bytes, str]:
        first = time.monotonic()
        for attempt in range(self._max_retries + 1):
            try:
                return self._get_once(command, params, deadline)
            except _Retry as retry:
                delay = self._backoff(attempt, retry.retry_after)
                spent = time.monotonic() - first
                out_of_tries = attempt >= self._max_retries
                out_of_time = (spent + delay > self._retry_max_seconds
                               or delay >= deadline.remaining())
                if out_of_tries or out_of_time:
                    why = "retries" if out_of_tries else "retry time"
                    raise ApiError(
                        f"{command} failed after {attempt + 1} attempt(s), out of {why}: "
                        f"{retry}", status=retry.status) from None
                metrics.API_RETRIES.labels(retry.reason).inc()
                log.warning("api_retry", command=command, attempt=attempt + 1,
                            reason=retry.reason, delay_s=round(delay, 3), error=str(retry))
                self._sleep(delay)
        raise AssertionError("unreachable")

    def _get_once(self, command: str, params: dict[str, int],
                  deadline: Deadline) -> tuple[bytes, str]:
        if deadline.expired():
            raise DeadlineExceeded(f"{command}: poll deadline passed before the request")
        started = time.monotonic()
        status = "error"
        try:
            # No single wait may outlast the poll's deadline.
            left = max(deadline.remaining(), 0.001)
            timeout = httpx.Timeout(min(self._read_timeout, left),
                                    connect=min(self._connect_timeout, left))
            with self._http.stream("GET", command, params=params,
                                   timeout=timeout) as response:
                status = str(response.status_code)
                self._check_status(command, response)
                body = self._read(command, response, deadline)
                return body, response.headers.get("content-type", "")
        except httpx.TimeoutException as exc:
            if deadline.expired():
                raise DeadlineExceeded(f"{command}: poll deadline passed waiting for the "
                                       "API") from None
            raise _Retry("timeout", f"{command}: {type(exc).__name__} from the API") from None
        except httpx.TransportError as exc:
            raise _Retry("connect", f"{command}: {type(exc).__name__}: {exc}") from None
        finally:
            metrics.API_REQUEST_DURATION.labels(command, status).observe(
                time.monotonic() - started)

    def _check_status(self, command: str, response: httpx.Response) -> None:
        code = response.status_code
        if code == 200:
            return
        if code == 429 or code >= 500:
            raise _Retry(str(code), f"{command}: HTTP {code}", status=code,
                         retry_after=retry_after_seconds(response.headers.get("retry-after")))
        response.read()
        raise ApiError(f"{command}: HTTP {code}: {self._snippet(response.content)}",
                       status=code)

    def _read(self, command: str, response: httpx.Response, deadline: Deadline) -> bytes:
        chunks = []
        for chunk in response.iter_bytes():
            chunks.append(chunk)
            if deadline.expired():
                raise DeadlineExceeded(
                    f"{command}: poll deadline passed while reading the answer "
                    f"({sum(map(len, chunks))} bytes so far)")
        return b"".join(chunks)

    def _parse(self, command: str, body: bytes, content_type: str) -> list[Any]:
        try:
            answer = model.decode_answer(body)
        except msgspec.ValidationError as exc:
            raise BadResponseError(f"{command} answered JSON of the wrong shape: {exc}") from None
        except msgspec.DecodeError as exc:
            raise BadResponseError(
                f"{command} answered HTTP 200 with a body that is not valid JSON "
                f"({exc}; content-type {content_type or 'none'}, {len(body)} bytes): "
                f"{self._snippet(body)}") from None
        if answer.Status != 1:
            raise BadResponseError(
                f"{command} answered Status {answer.Status}: {answer.Error or 'no error text'}")
        if answer.Results is None:
            raise BadResponseError(f"{command} answered Status 1 without Results")
        return answer.Results

    def _snippet(self, body: bytes) -> str:
        text = body[:SNIPPET_CHARS].decode("utf-8", "replace")
        text = text.replace(self._api_key, "***") if self._api_key else text
        return repr(text + ("…" if len(body) > SNIPPET_CHARS else ""))

    @staticmethod
    def _backoff(attempt: int, retry_after: float | None) -> float:
        ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**attempt)
        delay = random.uniform(ceiling / 2, ceiling)
        return max(delay, retry_after or 0.0)


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None
