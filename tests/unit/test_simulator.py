"""Tests of the Skillable API simulator, through real HTTP against start_in_thread.

Most tests stop the simulated clock (speed 0) and move it with
/_sim/advance, so they are exact and fast. What the API returns is checked
against the API's documents: the Avro schema of a result for field names,
order and types, the fixtures for the envelope and the error text.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from producer.simulator import (
    COMPLETION_STATUSES,
    DEFAULT_API_KEY,
    RESULT_FIELDS,
    SimServer,
    Simulator,
    add_arguments,
    start_in_thread,
)

ROOT = Path(__file__).resolve().parents[2]
LAB_RESULT_SCHEMA = json.loads(
    (ROOT / "avro" / "skillable.lod.LabResult.avsc").read_text()
)
FIXTURES = Path("/work/shared/fixtures/skillable")

T0 = 1764759000
SEVEN_DAYS = 7 * 24 * 3600
INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
RUNNING = {3, 50, 60}
FAILED_EARLY = {10, 20}

Result = dict[str, Any]
StartServer = Callable[..., SimServer]


@pytest.fixture
def serve() -> Iterator[StartServer]:
    """Start simulators on free ports (stopped clock unless told); close them after."""
    servers: list[SimServer] = []

    def start(**options: Any) -> SimServer:
        options.setdefault("seed", 11)
        options.setdefault("speed", 0)
        options.setdefault("start_time", T0)
        server = start_in_thread(Simulator(**options))
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(headers={"api_key": DEFAULT_API_KEY}, timeout=10) as http:
        yield http


def latest(http: httpx.Client, server: SimServer, minutes: int | str) -> dict[str, Any]:
    response = http.get(f"{server.url}/LatestResults", params={"minutes": minutes})
    assert response.status_code == 200
    return response.json()


def advance(http: httpx.Client, server: SimServer, seconds: float) -> int:
    response = http.post(f"{server.url}/_sim/advance", params={"seconds": seconds})
    assert response.status_code == 200
    return response.json()["now"]


def history(http: httpx.Client, server: SimServer, **params: Any) -> dict[str, Any]:
    response = http.get(f"{server.url}/_sim/history", params=params)
    assert response.status_code == 200
    return response.json()


def set_faults(http: httpx.Client, server: SimServer, **settings: Any) -> None:
    response = http.post(f"{server.url}/_sim/faults", json=settings)
    assert response.status_code == 200, response.text


def all_states(server_history: dict[str, Any]) -> list[Result]:
    return [s for states in server_history["instances"].values() for s in states]


# The LatestResults command.


def test_latest_results_answers_in_the_api_envelope(
    serve: StartServer, client: httpx.Client
) -> None:
    server = serve(initial_instances=50)

    response = client.get(f"{server.url}/LatestResults", params={"minutes": 60})

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    body = response.json()
    assert list(body) == ["Results", "Status", "Error"]
    assert body["Status"] == 1 and body["Error"] is None


def test_results_have_the_24_fields_in_the_api_order(
    serve: StartServer, client: httpx.Client
) -> None:
    server = serve(initial_instances=20)
    example = json.loads((FIXTURES / "example.json").read_text())

    results = latest(client, server, 10080)["Results"]

    schema_order = [field["name"] for field in LAB_RESULT_SCHEMA["fields"]]
    assert list(RESULT_FIELDS) == schema_order == list(example["Results"][0])
    assert len(results) == 20
    assert all(list(result) == schema_order for result in results)


def test_every_value_has_its_documented_type_and_range(
    serve: StartServer, client: httpx.Client
) -> None:
    server = serve(initial_instances=3000, rate=600)
    advance(client, server, 4 * 3600)

    states = all_states(history(client, server))

    assert len(states) > 10000
    for state in states:
        for field in LAB_RESULT_SCHEMA["fields"]:
            assert_avro_value(field["name"], field["type"], state[field["name"]])
        assert state["CompletionStatus"] in COMPLETION_STATUSES


def assert_avro_value(name: str, avro_type: Any, value: Any) -> None:
    branches = avro_type if isinstance(avro_type, list) else [avro_type]
    kinds = [b["type"] if isinstance(b, dict) else b for b in branches]
    assert any(_matches(kind, value) for kind in kinds), (name, kinds, value)
    if type(value) is int and "int" in kinds:
        assert INT32[0] <= value <= INT32[1], (name, value)
    if type(value) is int and "long" in kinds:
        assert INT64[0] <= value <= INT64[1], (name, value)


def _matches(kind: str, value: Any) -> bool:
    expected = {
        "null": (type(None),),
        "int": (int,),
        "long": (int,),
        "double": (int, float),
        "string": (str,),
        "boolean": (bool,),
    }[kind]
    return type(value) in expected


def test_nullable_fields_are_null_exactly_where_the_docs_allow(
    serve: StartServer, client: httpx.Client
) -> None:
    server = serve(initial_instances=4000, rate=600)
    advance(client, server, 4 * 3600)

    states = all_states(history(client, server))

    for state in states:
        assert (state["End"] is None) == (state["CompletionStatus"] in RUNNING)
        if state["CompletionStatus"] in FAILED_EARLY:
            assert state["LastActivity"] is None
        if state["IpAddress"] is None:
            assert state["Country"] is state["Latitude"] is state["Longitude"] is None
        assert_exam_fields_consistent(state)
    assert any(s["IpAddress"] is None for s in states)
    assert any(s["IpAddress"] is not None for s in states)
    assert any(type(s["Latitude"]) is int for s in states), "no whole-number latitude"
    assert any(type(s["Latitude"]) is float for s in states)


def assert_exam_fields_consistent(state: Result) -> None:
    exam = [
        state["ExamPassed"],
        state["ExamScore"],
        state["ExamMaxPossibleScore"],
        state["ExamPassingScore"],
    ]
    if all(value is None for value in exam):
        return
    assert None not in exam, state
    assert state["IsExam"] is True and state["CompletionStatus"] == 4, state
    passed, score, max_score, passing = exam
    assert 0 <= score <= max_score and 0 < passing <= max_score
    assert passed == (score >= passing)


def test_lab_instances_follow_the_documented_lifecycle(
    serve: StartServer, client: httpx.Client
) -> None:
    server = serve(initial_instances=5000)

    instances = history(client, server)["instances"]

    seen = set()
    for states in instances.values():
        assert_lifecycle(states)
        seen.update(state["CompletionStatus"] for state in states)
    assert seen == COMPLETION_STATUSES


def assert_lifecycle(states: list[Result]) -> None:
    first = states[0]
    assert first["CompletionStatus"] == 3 and first["End"] is None
    assert first["TotalRunTimeSeconds"] == 0
    for before, after in pairwise(states):
        assert before != after
        assert before["CompletionStatus"] in RUNNING, "a finished lab changed"
        assert after["Start"] == first["Start"]
        assert after["TotalRunTimeSeconds"] > before["TotalRunTimeSeconds"]
        assert after["TaskCompletePercent"] >= before["TaskCompletePercent"]
        if before["LastActivity"] is not None:
            assert after["LastActivity"] >= before["LastActivity"]
    statuses = [state["CompletionStatus"] for state in states]
    if 50 in statuses and statuses[-1] not in RUNNING:
        assert statuses[-3:] == [50, 60, 4]
        assert states[-1]["ExamScore"] is not None
    last = states[-1]
    if last["End"] is not None:
        assert last["End"] - last["Start"] == last["TotalRunTimeSeconds"]


def test_latest_results_holds_exactly_the_lab_instances_changed_in_the_window(
    serve: StartServer, client: httpx.Client
) -> None:
    minutes = 15
    now = T0 + 3 * 3600
    current = serve(rate=300, start_time=T0)
    earlier = serve(rate=300, start_time=T0)
    advance(client, current, now - T0)
    advance(client, earlier, now - T0 - minutes * 60 - 1)

    results = latest(client, current, minutes)["Results"]

    after = history(client, current)["instances"]
    before = history(client, earlier)["instances"]
    changed = {i for i, states in after.items() if len(states) > len(before.get(i, []))}
    assert changed and {str(r["LabInstanceId"]) for r in results} == changed
    for result in results:
        assert result == after[str(result["LabInstanceId"])][-1]
    ids = [result["LabInstanceId"] for result in results]
    assert ids == sorted(ids)


def test_initial_instances_all_fall_in_the_7_day_window(
    serve: StartServer, client: httpx.Client
) -> None:
    server = serve(initial_instances=2500)

    results = latest(client, server, 10080)["Results"]

    assert len({result["LabInstanceId"] for result in results}) == 2500
    assert all(T0 - SEVEN_DAYS <= result["Start"] <= T0 for result in results)
    assert any(result["End"] is None for result in results), "none still running"


def test_a_demo_at_speed_60_shows_a_handful_of_changes_per_poll(
    serve: StartServer, client: httpx.Client
) -> None:
    server = serve()

    counts = []
    for _ in range(6):
        advance(client, server, 10 * 60)
        counts.append(len(latest(client, server, 10)["Results"]))

    assert 2 <= sum(counts) / len(counts) <= 30, counts


@pytest.mark.parametrize("headers", [{}, {"api_key": "not-the-key"}, {"api_key": ""}])
def test_a_missing_or_wrong_api_key_gets_the_documented_error(
    serve: StartServer, headers: dict[str, str]
) -> None:
    server = serve(initial_instances=10)
    expected = json.loads((FIXTURES / "error-status.json").read_text())

    response = httpx.get(
        f"{server.url}/LatestResults", params={"minutes": 60}, headers=headers
    )

    assert response.status_code == 200
    assert response.json() == expected


@pytest.mark.parametrize("minutes", ["0", "10081", "abc", "-5", "1.5", ""])
def test_minutes_out_of_bounds_or_not_an_integer_gets_status_0(
    serve: StartServer, client: httpx.Client, minutes: str
) -> None:
    server = serve(initial_instances=10)

    body = latest(client, server, minutes)

    assert body["Status"] == 0 and body["Results"] == []
    assert "minutes" in body["Error"]


def test_a_missing_minutes_parameter_gets_status_0(
    serve: StartServer, client: httpx.Client
) -> None:
    server = serve()

    body = client.get(f"{server.url}/LatestResults").json()

    assert body["Status"] == 0 and "minutes" in body["Error"]


@pytest.mark.parametrize("minutes", [1, 10080])
def test_minutes_at_the_bounds_are_accepted(
    serve: StartServer, client: httpx.Client, minutes: int
) -> None:
    server = serve()

    assert latest(client, server, minutes)["Status"] == 1


def test_the_real_base_path_works_and_unknown_paths_are_404(
    serve: StartServer, client: httpx.Client
) -> None:
    server = serve(initial_instances=5)

    prefixed = client.get(f"{server.url}/api/v3/LatestResults?minutes=10080")
    unknown = client.get(f"{server.url}/LatestResultz?minutes=5")

    assert prefixed.json()["Status"] == 1 and len(prefixed.json()["Results"]) == 5
    assert unknown.status_code == 404


# The Results command.


def test_results_returns_lab_instances_that_started_or_ended_in_the_range(
    serve: StartServer, client: httpx.Client
) -> None:
    server = serve(initial_instances=3000)
    start, end = T0 - 2 * 24 * 3600, T0 - 24 * 3600

    response = client.get(f"{server.url}/Results", params={"start": start, "end": end})

    body = response.json()
    assert body["Status"] == 1
    current = [states[-1] for states in history(client, server)["instances"].values()]
    expected = [r for r in current if in_range(r, start, end)]
    assert expected and body["Results"] == expected


def in_range(result: Result, start: int, end: int) -> bool:
    ended = result["End"]
    return start <= result["Start"] <= end or (
        ended is not None and start <= ended <= end
    )


@pytest.mark.parametrize(
    ("start", "end", "status"),
    [
        (T0 - SEVEN_DAYS, T0, 1),
        (T0 - SEVEN_DAYS - 1, T0, 0),
        (T0, T0 - 1, 0),
        ("yesterday", T0, 0),
    ],
)
def test_results_range_is_limited_to_7_days(
    serve: StartServer, client: httpx.Client, start: Any, end: int, status: int
) -> None:
    server = serve(initial_instances=10)

    response = client.get(f"{server.url}/Results", params={"start": start, "end": end})

    body = response.json()
    assert response.status_code == 200 and body["Status"] == status
    if status == 0:
        assert body["Error"] and body["Results"] == []


def test_results_needs_the_api_key(serve: StartServer) -> None:
    server = serve(initial_instances=10)

    response = httpx.get(f"{server.url}/Results", params={"start": T0 - 60, "end": T0})

    assert response.json()["Error"] == "The API key provided is not valid."


# Determinism, history and the clock.


def test_the_same_seed_and_start_time_give_the_same_answers(
    serve: StartServer, client: httpx.Client
) -> None:
    servers = [serve(seed=5, initial_instances=300, rate=120) for _ in range(2)]
    other = serve(seed=6, initial_instances=300, rate=120)

    for server in [*servers, other]:
        advance(client, server, 5 * 3600)
    answers = [latest(client, server, 600) for server in servers]
    histories = [history(client, server) for server in servers]

    assert answers[0] == answers[1] and len(answers[0]["Results"]) > 10
    assert histories[0] == histories[1]
    assert latest(client, other, 600) != answers[0]


def test_history_holds_every_result_a_poller_saw(
    serve: StartServer, client: httpx.Client
) -> None:
    server = serve(rate=600)

    polled = []
    for _ in range(40):
        advance(client, server, 45)
        polled.extend(latest(client, server, 1)["Results"])

    instances = history(client, server)["instances"]
    assert len(polled) > 100
    for result in polled:
        assert result in instances[str(result["LabInstanceId"])]


def test_history_holds_what_a_poller_saw_with_the_clock_running(
    serve: StartServer, client: httpx.Client
) -> None:
    server = serve(speed=3600, rate=3600)

    polled = []
    for _ in range(10):
        polled.extend(latest(client, server, 60)["Results"])
        time.sleep(0.05)

    instances = history(client, server)["instances"]
    assert polled
    for result in polled:
        assert result in instances[str(result["LabInstanceId"])]


def test_history_of_one_lab_instance(serve: StartServer, client: httpx.Client) -> None:
    server = serve(initial_instances=100)
    everything = history(client, server)
    wanted = next(iter(everything["instances"]))

    one = history(client, server, id=wanted)
    unknown = history(client, server, id=1)

    assert one == {
        "instances": {wanted: everything["instances"][wanted]},
        "now": everything["now"],
    }
    assert unknown["instances"] == {}


def test_freeze_stops_all_changes(serve: StartServer, client: httpx.Client) -> None:
    server = serve(speed=3600, rate=3600)
    time.sleep(0.1)

    frozen = client.post(f"{server.url}/_sim/freeze").json()
    first = latest(client, server, 10080)
    time.sleep(0.3)
    second = latest(client, server, 10080)

    assert frozen["frozen"] is True and first == second and first["Results"]
    assert client.get(f"{server.url}/_sim/status").json()["now"] == frozen["now"]


def test_advance_moves_the_stopped_clock(
    serve: StartServer, client: httpx.Client
) -> None:
    server = serve()

    moved = advance(client, server, 600)
    backwards = client.post(f"{server.url}/_sim/advance", params={"seconds": -5})

    assert moved == T0 + 600
    assert backwards.status_code == 400


def test_finished_lab_instances_never_change_again(
    serve: StartServer, client: httpx.Client
) -> None:
    server = serve(initial_instances=500)
    before = history(client, server)["instances"]

    advance(client, server, 2 * 24 * 3600)

    after = history(client, server)["instances"]
    for lab_instance_id, states in before.items():
        if states[-1]["End"] is not None:
            assert after[lab_instance_id] == states


# Faults.


def test_scheduled_faults_hit_the_next_requests_in_order(
    serve: StartServer, client: httpx.Client
) -> None:
    server = serve()
    set_faults(client, server, next=["500", "500", "html"])

    statuses = []
    for _ in range(4):
        response = client.get(f"{server.url}/LatestResults", params={"minutes": 5})
        statuses.append((response.status_code, response.headers["content-type"]))

    assert statuses == [
        (500, "application/json; charset=utf-8"),
        (500, "application/json; charset=utf-8"),
        (200, "text/html; charset=utf-8"),
        (200, "application/json; charset=utf-8"),
    ]


def test_429_says_when_to_retry(serve: StartServer, client: httpx.Client) -> None:
    server = serve()
    set_faults(client, server, next=["429"], retry_after=2)

    response = client.get(f"{server.url}/LatestResults", params={"minutes": 5})

    assert response.status_code == 429 and response.headers["retry-after"] == "2"


@pytest.mark.parametrize("fault", ["500", "502", "503"])
def test_server_error_faults_answer_with_their_status(
    serve: StartServer, client: httpx.Client, fault: str
) -> None:
    server = serve()
    set_faults(client, server, next=[fault])

    response = client.get(f"{server.url}/LatestResults", params={"minutes": 5})

    assert response.status_code == int(fault)


def test_status0_fault_is_an_api_error_in_a_200(
    serve: StartServer, client: httpx.Client
) -> None:
    server = serve()
    set_faults(client, server, next=["status0"])

    body = latest(client, server, 5)

    assert body["Status"] == 0 and body["Error"] and body["Results"] == []


def test_html_fault_is_an_error_page_in_a_200(
    serve: StartServer, client: httpx.Client
) -> None:
    server = serve()
    set_faults(client, server, next=["html"])

    response = client.get(f"{server.url}/LatestResults", params={"minutes": 5})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.text.lstrip().lower().startswith("<!doctype html")


def test_truncated_fault_cuts_the_json_with_a_matching_length(
    serve: StartServer, client: httpx.Client
) -> None:
    server = serve(initial_instances=20)
    set_faults(client, server, next=["truncated"])

    response = client.get(f"{server.url}/LatestResults", params={"minutes": 10080})

    assert response.status_code == 200
    assert int(response.headers["content-length"]) == len(response.content) > 0
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(response.content)


def test_reset_fault_aborts_the_connection(
    serve: StartServer, client: httpx.Client
) -> None:
    server = serve()
    set_faults(client, server, next=["reset"])

    with pytest.raises(httpx.ReadError):
        client.get(f"{server.url}/LatestResults", params={"minutes": 5})
    assert latest(client, server, 5)["Status"] == 1


def test_timeout_fault_never_answers(serve: StartServer, client: httpx.Client) -> None:
    server = serve()
    set_faults(client, server, next=["timeout"], timeout_seconds=5)
    began = time.monotonic()

    with pytest.raises(httpx.ReadTimeout):
        client.get(f"{server.url}/LatestResults?minutes=5", timeout=0.3)

    assert time.monotonic() - began < 2
    assert latest(client, server, 5)["Status"] == 1


def test_slow_fault_sends_the_real_body_one_byte_per_interval(
    serve: StartServer, client: httpx.Client
) -> None:
    server = serve()
    normal = client.get(f"{server.url}/LatestResults", params={"minutes": 5})
    set_faults(client, server, next=["slow"], slow_interval=0.01)
    began = time.monotonic()

    slow = client.get(f"{server.url}/LatestResults", params={"minutes": 5})

    assert slow.content == normal.content
    assert time.monotonic() - began >= 0.9 * len(normal.content) * 0.01


def test_slow_fault_outlasts_a_short_read_timeout(
    serve: StartServer, client: httpx.Client
) -> None:
    server = serve()
    set_faults(client, server, next=["slow"], slow_interval=2)

    with pytest.raises(httpx.ReadTimeout):
        client.get(f"{server.url}/LatestResults?minutes=5", timeout=0.3)


def test_fault_probabilities_apply_until_deleted_and_spare_control_endpoints(
    serve: StartServer, client: httpx.Client
) -> None:
    server = serve()
    set_faults(client, server, faults={"503": 1.0})

    faulted = [
        client.get(f"{server.url}/LatestResults?minutes=5").status_code
        for _ in range(5)
    ]
    status = client.get(f"{server.url}/_sim/status")
    cleared = client.delete(f"{server.url}/_sim/faults")

    assert faulted == [503] * 5 and status.status_code == 200
    assert cleared.json()["faults"] == {} and latest(client, server, 5)["Status"] == 1


def test_fault_draws_are_deterministic_for_a_seed(
    serve: StartServer, client: httpx.Client
) -> None:
    servers = [serve(seed=3), serve(seed=3)]

    sequences = []
    for server in servers:
        set_faults(client, server, faults={"500": 0.3, "status0": 0.2})
        sequences.append(
            [
                client.get(f"{server.url}/LatestResults?minutes=5").text
                for _ in range(30)
            ]
        )

    assert sequences[0] == sequences[1]
    assert len(set(sequences[0])) == 3


@pytest.mark.parametrize(
    "settings",
    [
        {"faults": {"418": 0.5}},
        {"next": ["nope"]},
        {"faults": {"500": 0.7, "503": 0.7}},
    ],
)
def test_invalid_fault_settings_are_rejected(
    serve: StartServer, client: httpx.Client, settings: dict[str, Any]
) -> None:
    server = serve()

    response = client.post(f"{server.url}/_sim/faults", json=settings)

    assert response.status_code == 400 and response.json()["error"]


# The command line.


def test_add_arguments_declares_the_simulate_options() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)

    args = parser.parse_args(
        [
            "--port",
            "0",
            "--seed",
            "4",
            "--fault",
            "429=0.2",
            "500=0.1",
            "--fault",
            "reset=0",
        ]
    )

    assert (args.host, args.port, args.seed) == ("127.0.0.1", 0, 4)
    assert args.api_key == DEFAULT_API_KEY == "sim-key"
    assert args.fault == [("429", 0.2), ("500", 0.1), ("reset", 0.0)]
    assert args.initial_instances == 0 and args.speed == 1.0


@pytest.mark.parametrize("fault", ["teapot=0.5", "500", "500=2"])
def test_add_arguments_rejects_a_bad_fault_option(fault: str) -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)

    with pytest.raises(SystemExit):
        parser.parse_args(["--fault", fault])


def test_the_cli_prints_its_url_and_stops_cleanly_on_sigterm() -> None:
    command = [sys.executable, "-m", "producer.simulator", "--port", "0"]
    command += ["--seed", "2", "--speed", "0", "--fault-next", "502"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        url = line.split(" on ", 1)[1].split()[0]
        faulted = httpx.get(f"{url}/LatestResults?minutes=5", timeout=5)
        normal = httpx.get(
            f"{url}/LatestResults?minutes=5", headers={"api_key": "sim-key"}, timeout=5
        )
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        process.kill()
    assert url.startswith("http://127.0.0.1:")
    assert faulted.status_code == 502 and normal.json()["Status"] == 1


def test_the_simulator_imports_neither_kafka_nor_avro_libraries() -> None:
    code = (
        "import sys, producer.simulator; "
        "print(sorted({'confluent_kafka', 'fastavro'} & set(sys.modules)))"
    )

    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert output.stdout.strip() == "[]"
