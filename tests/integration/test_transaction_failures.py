"""A failed transaction on the real broker: nothing advances, the redo publishes once."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError, KafkaException

from producer.kafka import FatalKafkaError
from tests.integration.conftest import FixtureApi, read_topic

pytestmark = pytest.mark.kafka


class CommitFails:
    """Wraps librdkafka's producer so that the next commit raises ``error``."""

    def __init__(self, real, error: KafkaError) -> None:
        self._real, self._error = real, error

    def commit_transaction(self, timeout: float) -> None:
        raise KafkaException(self._error)

    def __getattr__(self, name):
        return getattr(self._real, name)


@pytest.mark.parametrize("error", [
    KafkaError(KafkaError._TIMED_OUT, "commit timed out", retriable=False),
    KafkaError(KafkaError.INVALID_TXN_STATE, "aborted by the broker", txn_requires_abort=True),
])
def test_a_failed_commit_changes_nothing_and_the_redo_publishes_once(
        skillable_fixtures, start_producer, bootstrap, names, error) -> None:
    lifecycle = skillable_fixtures / "lifecycle"
    api = FixtureApi(lifecycle / "poll-1.json", lifecycle / "poll-2.json",
                     lifecycle / "poll-2.json")
    producer = start_producer(api)
    producer.poll()
    state_before = {i: producer.state.raw(i) for i in producer.state}
    real = producer.publisher._producer
    producer.publisher._producer = CommitFails(real, error)

    assert producer.poll_safely() is None
    assert {i: producer.state.raw(i) for i in producer.state} == state_before
    assert not producer.health.ready

    report = producer.poll()  # recovers with a new producer, then redoes the poll
    assert (report.creates, report.updates) == (1, 1)
    assert producer.health.ready
    events = read_topic(bootstrap, names["events_topic"])
    assert len(events) == 4  # 2 creates, then the redo's create and update, once


def test_a_fatal_error_is_not_swallowed(skillable_fixtures, start_producer) -> None:
    producer = start_producer(FixtureApi(skillable_fixtures / "example.json"))
    fatal = KafkaError(KafkaError._FATAL, "fatal", fatal=True)
    producer.publisher._producer = CommitFails(producer.publisher._producer, fatal)
    with pytest.raises(FatalKafkaError):
        producer.poll_safely()
