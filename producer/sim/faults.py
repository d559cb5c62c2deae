"""Faults the Skillable API simulator injects into its API answers.

A fault plan holds a probability for each fault and a schedule of faults
for the next requests. Each API request (never a /_sim/ control request)
asks the plan for one fault: the schedule goes first, then one uniform draw
picks a fault by its probability, or none. Draws come from a seeded random
stream, so a fault suite that sends the same requests sees the same faults.

Faults that rewrite the answer are applied here (`apply_fault`); the ones
that act on the connection (`reset`, `timeout`, `slow`) are the server's.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from random import Random
from typing import Any

import orjson

FAULTS = (
    "429",
    "500",
    "502",
    "503",
    "reset",
    "timeout",
    "slow",
    "status0",
    "html",
    "truncated",
)
CONNECTION_FAULTS = frozenset({"reset", "timeout", "slow"})

STATUS0_ERROR = "An unexpected error occurred while processing the request."

_HTML_PAGE = (
    "<!DOCTYPE html>\r\n<html>\r\n<head><title>{title}</title></head>\r\n"
    "<body>\r\n<h1>{title}</h1>\r\n<p>{text}</p>\r\n</body>\r\n</html>\r\n"
)


class FaultConfigError(ValueError):
    """A fault setting names an unknown fault or has an invalid value."""


@dataclass(frozen=True, slots=True)
class Reply:
    """An HTTP answer before it is written: status, body and headers."""

    status: int
    body: bytes
    content_type: str = "application/json; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = field(default=())


class FaultPlan:
    """Which faults to inject, how often, and how long the slow ones last."""

    def __init__(
        self,
        probabilities: Mapping[str, float] | None = None,
        *,
        schedule: Iterable[str] = (),
        retry_after: int = 1,
        slow_interval: float = 1.0,
        timeout_seconds: float = 120.0,
        seed: int = 0,
    ) -> None:
        self._lock = threading.Lock()
        self._rng = Random(f"skillable-sim:{seed}:faults")
        self._probabilities: dict[str, float] = {}
        self._schedule: deque[str] = deque()
        self.retry_after = retry_after
        self.slow_interval = slow_interval
        self.timeout_seconds = timeout_seconds
        self.set_probabilities(probabilities or {})
        self.set_schedule(schedule)

    def draw(self) -> str | None:
        """The fault for the next API request, or None for a normal answer."""
        with self._lock:
            if self._schedule:
                return self._schedule.popleft()
            if not self._probabilities:
                return None
            point = self._rng.random()
            for name, probability in self._probabilities.items():
                point -= probability
                if point < 0:
                    return name
            return None

    def set_probabilities(self, probabilities: Mapping[str, float]) -> None:
        checked = {name: _probability(name, p) for name, p in probabilities.items()}
        if sum(checked.values()) > 1.0 + 1e-9:
            raise FaultConfigError("fault probabilities add up to more than 1")
        with self._lock:
            self._probabilities = {n: p for n, p in checked.items() if p > 0}

    def set_schedule(self, names: Iterable[str]) -> None:
        """Replace the faults that the next requests get, in order."""
        checked = [_fault_name(name) for name in names]
        with self._lock:
            self._schedule = deque(checked)

    def clear(self) -> None:
        """No more faults: no probabilities, nothing scheduled."""
        with self._lock:
            self._probabilities = {}
            self._schedule.clear()

    def configure(self, settings: Mapping[str, Any]) -> None:
        """Apply a POST /_sim/faults body; keys left out keep their value."""
        unknown = set(settings) - {
            "faults",
            "next",
            "retry_after",
            "slow_interval",
            "timeout_seconds",
        }
        if unknown:
            raise FaultConfigError(f"unknown fault settings: {sorted(unknown)}")
        if "faults" in settings:
            self.set_probabilities(_mapping(settings["faults"], "faults"))
        if "next" in settings:
            self.set_schedule(_names(settings["next"]))
        if "retry_after" in settings:
            self.retry_after = int(_number(settings["retry_after"], "retry_after"))
        if "slow_interval" in settings:
            self.slow_interval = _number(settings["slow_interval"], "slow_interval")
        if "timeout_seconds" in settings:
            self.timeout_seconds = _number(
                settings["timeout_seconds"], "timeout_seconds"
            )

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {
                "faults": dict(self._probabilities),
                "next": list(self._schedule),
                "retry_after": self.retry_after,
                "slow_interval": self.slow_interval,
                "timeout_seconds": self.timeout_seconds,
            }


def parse_fault_option(text: str) -> tuple[str, float]:
    """Parse a NAME=PROBABILITY command-line option, e.g. `429=0.2`."""
    name, sep, value = text.partition("=")
    if not sep:
        raise FaultConfigError(f"expected NAME=PROBABILITY, got {text!r}")
    try:
        probability = float(value)
    except ValueError:
        message = f"probability of {name} is not a number: {value!r}"
        raise FaultConfigError(message) from None
    return _fault_name(name), _probability(name, probability)


def apply_fault(name: str, reply: Reply, retry_after: int) -> Reply:
    """The answer that replaces (or mangles) `reply` under an answer fault."""
    if name == "429":
        headers = (("Retry-After", str(retry_after)),)
        return Reply(429, b"Too Many Requests", "text/plain; charset=utf-8", headers)
    if name == "500":
        return Reply(500, b'{"Message":"An error has occurred."}')
    if name in ("502", "503"):
        return _html_reply(int(name))
    if name == "status0":
        body = {"Results": [], "Status": 0, "Error": STATUS0_ERROR}
        return Reply(200, orjson.dumps(body))
    if name == "html":
        return _html_reply(200)
    if name == "truncated":
        return Reply(200, reply.body[: max(1, len(reply.body) // 2)])
    raise FaultConfigError(f"{name} is not an answer fault")


def _html_reply(status: int) -> Reply:
    titles = {
        200: ("Server Error", "An error occurred while processing your request."),
        502: ("502 Bad Gateway", "The proxy server received an invalid response."),
        503: ("503 Service Unavailable", "The service is temporarily unavailable."),
    }
    title, text = titles[status]
    page = _HTML_PAGE.format(title=title, text=text)
    return Reply(status, page.encode(), "text/html; charset=utf-8")


def _fault_name(name: object) -> str:
    if name not in FAULTS:
        raise FaultConfigError(
            f"unknown fault {name!r}; known faults: {', '.join(FAULTS)}"
        )
    return str(name)


def _probability(name: str, value: object) -> float:
    _fault_name(name)
    probability = _number(value, f"probability of {name}")
    if not 0.0 <= probability <= 1.0:
        raise FaultConfigError(f"probability of {name} must be within 0..1")
    return probability


def _number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise FaultConfigError(f"{what} must be a non-negative number")
    return float(value)


def _mapping(value: object, what: str) -> Mapping[str, float]:
    if not isinstance(value, Mapping):
        raise FaultConfigError(f"{what} must be an object of fault name to probability")
    return value


def _names(value: object) -> list[str]:
    if isinstance(value, str) or not isinstance(value, list):
        raise FaultConfigError("next must be a list of fault names")
    return value
