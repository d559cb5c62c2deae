"""The state over long times: retention by tombstones, and backfill after long outages."""

from __future__ import annotations

import pytest

from producer.metrics import WINDOW_GAPS
from tests.integration.conftest import FixtureApi, read_topic
from tests.unit.test_codec import consumer_decode

pytestmark = pytest.mark.kafka
DAY = 86_400.0
T0 = 1_764_760_000.0


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_instances_unchanged_past_retention_are_tombstoned_and_not_restored(
        skillable_fixtures, start_producer, bootstrap, names) -> None:
    lifecycle = skillable_fixtures / "lifecycle"
    clock = Clock(T0)
    first = start_producer(FixtureApi(lifecycle / "poll-1.json", lifecycle / "poll-2.json",
                                      skillable_fixtures / "empty.json"),
                           clock=clock, backfill=False)
    first.poll()                       # 81234501 and 81234502 created at T0
    clock.now = T0 + 20 * DAY
    first.poll()                       # 81234501 changes, 81234503 appears at T0 + 20 d
    clock.now = T0 + 31 * DAY
    report = first.poll()              # only 81234502 is older than 30 days
    assert report.expired == 1
    assert sorted(first.state) == [81234501, 81234503]

    tombstones = [m for m in read_topic(bootstrap, names["state_topic"]) if m.value() is None]
    assert [consumer_decode(m.key()) for m in tombstones] == [81234502]
    first.close()

    second = start_producer(FixtureApi(), clock=clock)
    assert sorted(second.state) == [81234501, 81234503]


def test_retention_below_eight_days_is_refused(make_settings) -> None:
    from producer.errors import ConfigError

    with pytest.raises(ConfigError, match="STATE_RETENTION_DAYS"):
        make_settings(state_retention_days=7)


def test_a_gap_longer_than_seven_days_is_backfilled_with_results(
        skillable_fixtures, start_producer, bootstrap, names) -> None:
    lifecycle = skillable_fixtures / "lifecycle"
    clock = Clock(T0)
    start_producer(FixtureApi(lifecycle / "poll-1.json"), clock=clock).poll()

    clock.now = T0 + 20 * DAY
    empty = skillable_fixtures / "empty.json"
    api = FixtureApi(lifecycle / "poll-2.json", empty, lifecycle / "poll-3.json")
    gaps = WINDOW_GAPS._value.get()
    restarted = start_producer(api, clock=clock)
    report = restarted.poll()

    assert WINDOW_GAPS._value.get() == gaps + 1
    # 20 days away: 13 days (plus overlaps) that LatestResults cannot reach.
    assert [r.url.path.rsplit("/", 1)[1] for r in api.requests] == [
        "Results", "Results", "LatestResults"]
    ranges = [(int(r.url.params["start"]), int(r.url.params["end"])) for r in api.requests[:2]]
    assert ranges[0][0] == T0 - 300                  # from the last poll, less the overlap
    assert all(end - start <= 7 * DAY for start, end in ranges)
    assert ranges[-1][1] >= T0 + 13 * DAY            # reaches LatestResults' 7 days
    assert api.requests[2].url.params["minutes"] == "10080"
    assert report.backfill_requests == 2

    events = [consumer_decode(m.value()) for m in read_topic(bootstrap, names["events_topic"])]
    backfilled = [e for e in events if e["source"]["command"] == "Results"]
    assert sorted((e["after"]["LabInstanceId"], e["version"]) for e in backfilled) == [
        (81234501, 2), (81234503, 1)]
    assert all(e["source"]["window_minutes"] is None for e in backfilled)
    latest = [e for e in events if e["ts_ms"] == int(clock.now * 1000)
              and e["source"]["command"] == "LatestResults"]
    assert [(e["after"]["LabInstanceId"], e["version"]) for e in latest] == [(81234501, 3)]
