"""What each HTTP endpoint of the Skillable API simulator answers.

Each handler takes the parsed request and returns a `Reply`; the server
only moves bytes. API commands follow the Skillable conventions: an answer
is always HTTP 200 with `Status` 1, or `Status` 0 and an `Error` text, and
the key comes in the `api_key` header. Paths and query parameter names
match case-insensitively, with or without the `/api/v3` prefix of the real
base URL. Control endpoints live under `/_sim/` and need no key.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from producer.sim.faults import FaultConfigError, Reply
from producer.sim.world import SEVEN_DAYS_SECONDS, Simulator

Query = Mapping[str, list[str]]

INVALID_API_KEY = "The API key provided is not valid."
MAX_MINUTES = 10080

_INTEGER = re.compile(r"-?[0-9]+")
_API_PREFIX = "/api/v3"


class BadParameter(ValueError):
    """A query parameter is missing or invalid; the text names it."""


def api_reply(
    sim: Simulator, method: str, path: str, query: Query, api_key: str | None
) -> Reply:
    """Answer a request to the simulated API (anything outside /_sim/)."""
    command = _API_COMMANDS.get(_command_name(path))
    if command is None:
        return _not_found(path)
    if method != "GET":
        return _method_not_allowed(method)
    if api_key != sim.api_key:
        return _api_error(INVALID_API_KEY)
    try:
        results = command(sim, _lower_keys(query))
    except BadParameter as error:
        return _api_error(str(error))
    return Reply(200, _json({"Results": results, "Status": 1, "Error": None}))


def control_reply(
    sim: Simulator, method: str, path: str, query: Query, body: bytes
) -> Reply:
    """Answer a /_sim/ control request."""
    handler = _CONTROL.get(path.rstrip("/"))
    if handler is None:
        return Reply(404, _json({"error": f"no control endpoint {path}"}))
    allowed, answer = handler
    if method not in allowed:
        allow = ", ".join(sorted(allowed))
        return Reply(405, _json({"error": f"use {allow}"}), headers=(("Allow", allow),))
    try:
        return Reply(200, _json(answer(sim, method, query, body)))
    except (BadParameter, FaultConfigError) as error:
        return Reply(400, _json({"error": str(error)}))


# API commands.


def _latest_results(sim: Simulator, query: Query) -> list[dict[str, Any]]:
    minutes = _integer_parameter(query, "minutes")
    if not 1 <= minutes <= MAX_MINUTES:
        raise BadParameter(
            f"The minutes parameter must be between 1 and {MAX_MINUTES} (7 days)."
        )
    return sim.latest_results(minutes)


def _results(sim: Simulator, query: Query) -> list[dict[str, Any]]:
    start = _integer_parameter(query, "start")
    end = _integer_parameter(query, "end")
    if end < start:
        raise BadParameter(
            "The end parameter must not be earlier than the start parameter."
        )
    if end - start > SEVEN_DAYS_SECONDS:
        raise BadParameter("The time range between start and end cannot exceed 7 days.")
    return sim.results(start, end)


_API_COMMANDS: dict[str, Callable[[Simulator, Query], list[dict[str, Any]]]] = {
    "latestresults": _latest_results,
    "results": _results,
}


def _command_name(path: str) -> str:
    name = path.rstrip("/").lower()
    if name.startswith(_API_PREFIX):
        name = name[len(_API_PREFIX) :]
    return name.lstrip("/")


def _integer_parameter(query: Query, name: str) -> int:
    values = query.get(name)
    if not values or values[0] == "":
        raise BadParameter(f"The {name} parameter is required.")
    text = values[0].strip()
    if not _INTEGER.fullmatch(text):
        raise BadParameter(
            f"The {name} parameter must be an integer, not {values[0]!r}."
        )
    return int(text)


def _lower_keys(query: Query) -> dict[str, list[str]]:
    return {key.lower(): values for key, values in query.items()}


def _api_error(message: str) -> Reply:
    return Reply(200, _json({"Results": [], "Status": 0, "Error": message}))


def _method_not_allowed(method: str) -> Reply:
    message = f"The requested resource does not support http method '{method}'."
    return Reply(405, _json({"Message": message}), headers=(("Allow", "GET"),))


def _not_found(path: str) -> Reply:
    message = f"No HTTP resource was found that matches the request URI '{path}'."
    return Reply(404, _json({"Message": message}))


# Control endpoints.


def _freeze(sim: Simulator, method: str, query: Query, body: bytes) -> dict[str, Any]:
    sim.freeze()
    return _status(sim, method, query, body)


def _advance(sim: Simulator, method: str, query: Query, body: bytes) -> dict[str, Any]:
    values = query.get("seconds") or [""]
    try:
        seconds = float(values[0])
    except ValueError:
        raise BadParameter("seconds must be a number") from None
    if not 0 <= seconds < float("inf"):
        raise BadParameter("seconds must be a non-negative number")
    return {"now": sim.advance(seconds), "frozen": sim.frozen}


def _history(sim: Simulator, method: str, query: Query, body: bytes) -> dict[str, Any]:
    wanted = query.get("id")
    lab_instance_id = None
    if wanted:
        if not _INTEGER.fullmatch(wanted[0]):
            raise BadParameter("id must be a LabInstanceId")
        lab_instance_id = int(wanted[0])
    history = sim.history(lab_instance_id)
    states = {str(key): value for key, value in history.instances.items()}
    return {"instances": states, "now": history.now}


def _faults(sim: Simulator, method: str, query: Query, body: bytes) -> dict[str, Any]:
    if method == "POST":
        sim.faults.configure(_json_object(body))
    elif method == "DELETE":
        sim.faults.clear()
    return sim.faults.describe()


def _status(sim: Simulator, method: str, query: Query, body: bytes) -> dict[str, Any]:
    return {
        "now": sim.now(),
        "frozen": sim.frozen,
        "speed": sim.clock.speed,
        "seed": sim.seed,
        "rate": sim.rate,
        "start_time": sim.start_time,
        "lab_instances": sim.lab_instance_count,
    }


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        settings = orjson.loads(body or b"{}")
    except orjson.JSONDecodeError as error:
        raise BadParameter(f"the body is not JSON: {error}") from None
    if not isinstance(settings, dict):
        raise BadParameter("the body must be a JSON object")
    return settings


_ControlHandler = Callable[[Simulator, str, Query, bytes], dict[str, Any]]
_CONTROL: dict[str, tuple[frozenset[str], _ControlHandler]] = {
    "/_sim/freeze": (frozenset({"GET", "POST"}), _freeze),
    "/_sim/advance": (frozenset({"POST"}), _advance),
    "/_sim/history": (frozenset({"GET"}), _history),
    "/_sim/faults": (frozenset({"GET", "POST", "DELETE"}), _faults),
    "/_sim/status": (frozenset({"GET"}), _status),
}


def _json(value: object) -> bytes:
    return orjson.dumps(value)
