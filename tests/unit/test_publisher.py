"""How a transaction's failures are sorted: redo the poll, stop as fenced, or stop.

librdkafka is replaced by a stand-in that fails the way it does; the real
broker paths are in tests/faults.
"""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError, KafkaException

from producer.errors import FencedError, PublishError
from producer.kafka import FatalKafkaError, TransactionalPublisher


class FailingProducer:
    """Records calls; ``commit_transaction`` raises the errors it is given, in turn."""

    def __init__(self, *commit_errors: KafkaError, forever: bool = False) -> None:
        self.commit_errors = list(commit_errors)
        self.forever = forever
        self.calls: list[str] = []

    def begin_transaction(self) -> None:
        self.calls.append("begin")

    def produce(self, topic, value, key, on_delivery=None) -> None:
        self.calls.append(f"produce {topic}")

    def commit_transaction(self, timeout: float) -> None:
        self.calls.append("commit")
        if self.forever:
            raise KafkaException(self.commit_errors[0])
        if self.commit_errors:
            raise KafkaException(self.commit_errors.pop(0))


def publisher(fake: FailingProducer) -> TransactionalPublisher:
    instance = TransactionalPublisher.__new__(TransactionalPublisher)
    instance._producer = fake
    instance._delivery_error = None
    return instance


def error(code: int, *, fatal=False, retriable=False, abortable=False) -> KafkaError:
    return KafkaError(code, "stand-in", fatal=fatal, retriable=retriable,
                      txn_requires_abort=abortable)


def test_a_retriable_commit_error_is_retried_within_the_deadline() -> None:
    fake = FailingProducer(error(KafkaError._TIMED_OUT, retriable=True))
    publisher(fake).publish([("t", b"k", b"v")], timeout=5)
    assert fake.calls == ["begin", "produce t", "commit", "commit"]


def test_a_commit_still_failing_at_the_deadline_fails_the_poll() -> None:
    fake = FailingProducer(error(KafkaError._TIMED_OUT, retriable=True), forever=True)
    with pytest.raises(PublishError, match="Kafka transaction failed"):
        publisher(fake).publish([("t", b"k", b"v")], timeout=0.05)


def test_a_transaction_the_broker_aborts_fails_the_poll_for_a_redo() -> None:
    fake = FailingProducer(error(KafkaError.INVALID_TXN_STATE, abortable=True))
    with pytest.raises(PublishError):
        publisher(fake).publish([("t", b"k", b"v")], timeout=5)


@pytest.mark.parametrize("code", [KafkaError._FENCED, KafkaError.PRODUCER_FENCED,
                                  KafkaError.INVALID_PRODUCER_EPOCH])
def test_fencing_is_its_own_error(code) -> None:
    fake = FailingProducer(error(code, fatal=True))
    with pytest.raises(FencedError, match="TRANSACTIONAL_ID"):
        publisher(fake).publish([("t", b"k", b"v")], timeout=5)


def test_a_fatal_error_stops_the_producer() -> None:
    fake = FailingProducer(error(KafkaError._FATAL, fatal=True))
    with pytest.raises(FatalKafkaError):
        publisher(fake).publish([("t", b"k", b"v")], timeout=5)
