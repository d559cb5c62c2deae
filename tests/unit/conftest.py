"""Unit-tier fixtures: the changes the shared lifecycle fixture gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from producer import model
from producer.diff import Change, Differ
from producer.events import PollContext, state_record
from producer.state import State

LIFECYCLE_CONTEXT = PollContext("p1", "api.test", "LatestResults", 0, 1, 10080,
                                1_764_760_000_000)


@pytest.fixture
def lifecycle_changes(skillable_fixtures: Path) -> list[Change]:
    """Every change of polls 1-4, each committed before the next poll is diffed."""
    state, differ, out = State(), Differ(), []
    for poll in range(1, 5):
        body = (skillable_fixtures / "lifecycle" / f"poll-{poll}.json").read_bytes()
        changes = differ.diff(model.decode_answer(body).Results, state)
        state.apply({c.lab_instance_id: state.codec.encode(state_record(c, LIFECYCLE_CONTEXT))
                     for c in changes})
        out += changes
    return out
