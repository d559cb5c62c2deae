"""One writer per transactional id: a newer producer fences the older one."""

from __future__ import annotations

import pytest

from producer.errors import FencedError
from tests.integration.conftest import FixtureApi, read_topic

pytestmark = pytest.mark.kafka


def test_older_producer_is_fenced_and_never_publishes_again(
        skillable_fixtures, start_producer, bootstrap, names) -> None:
    lifecycle = skillable_fixtures / "lifecycle"
    older = start_producer(FixtureApi(lifecycle / "poll-1.json", lifecycle / "poll-2.json"))
    assert older.poll().changes == 2

    newer = start_producer(FixtureApi(lifecycle / "poll-2.json"))
    assert len(newer.state) == 2  # it restored what the older one committed

    with pytest.raises(FencedError, match="TRANSACTIONAL_ID"):
        older.poll()
    assert newer.poll().changes == 2
    events = read_topic(bootstrap, names["events_topic"])
    assert len(events) == 4  # 2 creates, then the newer producer's create and update
