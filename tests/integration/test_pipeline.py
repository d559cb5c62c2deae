"""End to end on a real broker: fixtures in, committed Avro change events out."""

from __future__ import annotations

import json

import pytest

from producer.errors import BadResponseError, TopicError
from producer.metrics import POLLS
from tests.integration.conftest import FixtureApi, read_topic
from tests.unit.test_codec import consumer_decode

pytestmark = pytest.mark.kafka
OPS = {"create": "c", "update": "u"}


def decoded_events(bootstrap: str, topic: str) -> list[dict]:
    events = []
    for message in read_topic(bootstrap, topic):
        event = consumer_decode(message.value())
        assert consumer_decode(message.key()) == event["after"]["LabInstanceId"]
        events.append(event)
    return events


def test_lifecycle_gives_exactly_the_expected_events(
        skillable_fixtures, start_producer, bootstrap, names) -> None:
    lifecycle = skillable_fixtures / "lifecycle"
    expected = json.loads((lifecycle / "expected.json").read_text())
    api = FixtureApi(*(lifecycle / f"poll-{n}.json" for n in range(1, 6)))
    producer = start_producer(api)
    reports = [producer.poll() for _ in range(5)]

    assert [r.changes for r in reports] == [
        sum(e["poll"] == n for e in expected["events"]) for n in range(1, 6)]
    events = decoded_events(bootstrap, names["events_topic"])
    want = sorted((e["LabInstanceId"], e["version"], OPS[e["op"]],
                   sorted(e.get("changed", []))) for e in expected["events"])
    got = sorted((e["after"]["LabInstanceId"], e["version"], e["op"],
                  sorted(e["changed_fields"])) for e in events)
    assert got == want
    # Per lab instance, the topic holds versions 1..n in order.
    for lab_id in {e["LabInstanceId"] for e in expected["events"]}:
        versions = [e["version"] for e in events if e["after"]["LabInstanceId"] == lab_id]
        assert versions == list(range(1, len(versions) + 1))
    final = {str(i): producer.state.get(i).version for i in producer.state}
    assert final == expected["final_state_versions"]
    # The first poll asked for 7 days, later ones only the time since plus overlap.
    minutes = [int(r.url.params["minutes"]) for r in api.requests]
    assert minutes[0] == 10080 and all(1 <= m <= 10 for m in minutes[1:])


def test_restart_with_unchanged_input_emits_nothing(
        skillable_fixtures, start_producer, bootstrap, names) -> None:
    lifecycle = skillable_fixtures / "lifecycle"
    first = start_producer(FixtureApi(*(lifecycle / f"poll-{n}.json" for n in range(1, 5))))
    for _ in range(4):
        first.poll()
    first.close()
    before = len(read_topic(bootstrap, names["events_topic"]))

    second = start_producer(FixtureApi(lifecycle / "poll-4.json", lifecycle / "poll-5.json"))
    assert len(second.state) == 3
    assert [second.poll().changes, second.poll().changes] == [0, 0]
    assert len(read_topic(bootstrap, names["events_topic"])) == before


def test_error_status_fails_the_poll_and_touches_nothing(
        skillable_fixtures, start_producer, bootstrap, names) -> None:
    lifecycle = skillable_fixtures / "lifecycle"
    api = FixtureApi(lifecycle / "poll-1.json", skillable_fixtures / "error-status.json")
    producer = start_producer(api)
    producer.poll()
    state_before = {i: producer.state.raw(i) for i in producer.state}
    window_before = producer.last_success_start
    failures = POLLS.labels("bad_response")._value.get()

    with pytest.raises(BadResponseError, match="The API key provided is not valid"):
        producer.poll()
    assert {i: producer.state.raw(i) for i in producer.state} == state_before
    assert producer.last_success_start == window_before
    assert len(read_topic(bootstrap, names["events_topic"])) == 2
    # Even uncommitted, the state topic holds only poll 1: 2 records, 1 checkpoint.
    assert len(read_topic(bootstrap, names["state_topic"], committed=False)) == 3

    # The failure is counted and the next poll runs, covering the failed one's time.
    api.serve(skillable_fixtures / "error-status.json", lifecycle / "poll-2.json")
    assert producer.poll_safely() is None
    assert POLLS.labels("bad_response")._value.get() == failures + 1
    assert producer.poll().changes == 2


def test_topics_are_created_with_the_right_policies(start_producer, names, bootstrap) -> None:
    from confluent_kafka.admin import AdminClient, ConfigResource

    start_producer(FixtureApi())
    admin = AdminClient({"bootstrap.servers": bootstrap})
    topics = admin.list_topics(timeout=10).topics
    assert len(topics[names["events_topic"]].partitions) == 3
    resources = [ConfigResource(ConfigResource.Type.TOPIC, names[t])
                 for t in ("events_topic", "state_topic")]
    events, state = (f.result() for f in admin.describe_configs(resources).values())
    assert events["cleanup.policy"].value == "delete"
    assert events["retention.ms"].value == str(7 * 24 * 3600 * 1000)
    assert state["cleanup.policy"].value == "compact"


def test_missing_topics_fail_at_start_when_creation_is_off(start_producer, names) -> None:
    with pytest.raises(TopicError, match=f"{names['events_topic']}.*CREATE_TOPICS"):
        start_producer(FixtureApi(), create_topics=False)
