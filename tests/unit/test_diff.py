"""The differ against the shared lifecycle fixtures and the edge cases of an answer."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from producer import model
from producer.diff import CREATE, UPDATE, Change, Differ
from producer.events import PollContext, state_record
from producer.state import State

CONTEXT = PollContext("poll", "api.test", "LatestResults", 0, 60_000, 1, 1_000)


def results(path: Path) -> list:
    return model.decode_answer(path.read_bytes()).Results


def commit(state: State, changes: list[Change]) -> None:
    state.apply({c.lab_instance_id: state.codec.encode(state_record(c, CONTEXT))
                 for c in changes})


def test_lifecycle_gives_exactly_the_expected_events(skillable_fixtures: Path) -> None:
    lifecycle = skillable_fixtures / "lifecycle"
    expected = json.loads((lifecycle / "expected.json").read_text())
    ops = {"create": CREATE, "update": UPDATE}
    state, differ = State(), Differ()
    got = []
    for poll in range(1, 6):
        changes = differ.diff(results(lifecycle / f"poll-{poll}.json"), state)
        commit(state, changes)
        got += [{"poll": poll, "LabInstanceId": c.lab_instance_id, "op": c.op,
                 "version": c.version, "changed": sorted(c.changed_fields)} for c in changes]
    want = [{"poll": e["poll"], "LabInstanceId": e["LabInstanceId"], "op": ops[e["op"]],
             "version": e["version"], "changed": sorted(e.get("changed", []))}
            for e in expected["events"]]
    assert got == want
    assert {str(i): state.get(i).version for i in state} == expected["final_state_versions"]


def test_update_carries_the_previous_snapshot_as_before(skillable_fixtures: Path) -> None:
    lifecycle = skillable_fixtures / "lifecycle"
    state, differ = State(), Differ()
    commit(state, differ.diff(results(lifecycle / "poll-1.json"), state))
    [update, _create] = differ.diff(results(lifecycle / "poll-2.json"), state)
    assert update.before["CompletionStatus"] == 3
    assert update.after["CompletionStatus"] == 50
    assert update.before["Start"] == 1764759000 * 1000


def test_identical_duplicates_in_one_answer_give_one_change(skillable_fixtures: Path) -> None:
    [first, _] = results(skillable_fixtures / "example.json")
    changes = Differ().diff([first, first, first], State())
    assert [(c.op, c.version) for c in changes] == [(CREATE, 1)]


def test_different_duplicates_in_one_answer_are_successive_versions(
        skillable_fixtures: Path) -> None:
    [first, _] = results(skillable_fixtures / "example.json")
    later = msgspec.structs.replace(first, CompletionStatus=4)
    changes = Differ().diff([first, later], State())
    assert [(c.op, c.version, c.changed_fields) for c in changes] == [
        (CREATE, 1, ()), (UPDATE, 2, ("CompletionStatus",))]


def test_excluded_fields_do_not_count_as_changes(skillable_fixtures: Path) -> None:
    [first, _] = results(skillable_fixtures / "example.json")
    state, differ = State(), Differ(["LastActivity", "TotalRunTimeSeconds"])
    commit(state, differ.diff([first], state))
    touched = msgspec.structs.replace(first, LastActivity=first.LastActivity + 60,
                                      TotalRunTimeSeconds=9999)
    assert differ.diff([touched], state) == []
    graded = msgspec.structs.replace(touched, CompletionStatus=4)
    [change] = differ.diff([graded], state)
    assert change.changed_fields == ("CompletionStatus",)
    assert change.after["TotalRunTimeSeconds"] == 9999


def test_values_are_compared_not_text(skillable_fixtures: Path) -> None:
    body = json.loads((skillable_fixtures / "lifecycle" / "poll-1.json").read_text())
    state, differ = State(), Differ()
    commit(state, differ.diff(model.decode_answer(json.dumps(body).encode()).Results, state))
    # Same values written differently: other key order, whitespace, 8.0 vs 8.
    body["Results"][0]["Longitude"] = 8.541694
    body["Results"][0] = dict(reversed(list(body["Results"][0].items())))
    body["Results"][1]["Latitude"] = None
    text = json.dumps(body, indent=4).encode()
    assert differ.diff(model.decode_answer(text).Results, state) == []


def test_whole_number_double_equals_the_integer_form() -> None:
    base = {f: None for f in model.FIELDS} | {
        "LabInstanceId": 1, "LabProfileId": 2, "Start": 3, "CompletionStatus": 3,
        "TotalRunTimeSeconds": 0, "TaskCompletePercent": 0}
    as_int = model.decode_answer(json.dumps(
        {"Status": 1, "Results": [base | {"Latitude": 47}]}).encode()).Results
    as_float = model.decode_answer(json.dumps(
        {"Status": 1, "Results": [base | {"Latitude": 47.0}]}).encode()).Results
    state, differ = State(), Differ()
    commit(state, differ.diff(as_int, state))
    assert differ.diff(as_float, state) == []


def test_absence_from_an_answer_deletes_nothing(skillable_fixtures: Path) -> None:
    state, differ = State(), Differ()
    commit(state, differ.diff(results(skillable_fixtures / "example.json"), state))
    assert differ.diff([], state) == []
    assert len(state) == 2


@pytest.mark.parametrize("bad", [["NoSuchField"], ["LabInstanceId"]])
def test_bad_exclusions_are_rejected(bad: list[str]) -> None:
    with pytest.raises(ValueError, match=bad[0] if bad[0] != "LabInstanceId" else "key"):
        Differ(bad)
