"""Kafka shells: topic checks, state restore and the transactional publisher.

Everything that talks to the broker lives here, around the pure state and
event modules. Each poll is one transaction holding its change events and
its state records; the in-memory state advances only after the commit.
"""

from __future__ import annotations

import ctypes
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from producer.errors import FencedError, ProducerError, PublishError, StateError, TopicError
from producer.state import State

log = structlog.get_logger(__name__)

FENCED_CODES = frozenset(
    {KafkaError._FENCED, KafkaError.PRODUCER_FENCED, KafkaError.INVALID_PRODUCER_EPOCH}
)


REQUEST_TIMEOUT = 30.0
RETRY_LEADER_CODES = frozenset({
    KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE,
    KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._TIMED_OUT,
})


class FatalKafkaError(ProducerError):
    """librdkafka raised a fatal error: the producer instance cannot go on."""


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str]


def ensure_topics(conf: dict[str, str], specs: Sequence[TopicSpec], *,
                  create: bool, replication_factor: int, timeout: float = 30.0) -> None:
    """Create missing topics (or fail if ``create`` is off); check the state topic."""
    # librdkafka's informational lines (queue purges at close) are noise here.
    admin = AdminClient({"log_level": 4, **conf})
    try:
        existing = admin.list_topics(timeout=timeout).topics
    except KafkaException as exc:
        raise TopicError(f"cannot list topics at {conf.get('bootstrap.servers')}: "
                         f"{exc.args[0].str()}") from None
    missing = [spec for spec in specs if spec.name not in existing]
    if missing and not create:
        names = ", ".join(spec.name for spec in missing)
        raise TopicError(f"topic(s) {names} do not exist and CREATE_TOPICS is off; "
                         "create them or turn CREATE_TOPICS on")
    if missing:
        _create(admin, missing, replication_factor, timeout)
        _wait_until_known(admin, [spec.name for spec in missing], timeout)
    for spec in specs:
        if spec.config.get("cleanup.policy") == "compact":
            _check_compacted(admin, spec.name, timeout)


def _create(admin: AdminClient, specs: Sequence[TopicSpec], replication_factor: int,
            timeout: float) -> None:
    new = [NewTopic(s.name, num_partitions=s.partitions,
                    replication_factor=replication_factor, config=s.config) for s in specs]
    for name, future in admin.create_topics(new, request_timeout=timeout).items():
        try:
            future.result()
            log.info("topic_created", topic=name)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise TopicError(f"cannot create topic {name}: {exc.args[0].str()}") from None


def _wait_until_known(admin: AdminClient, names: list[str], timeout: float) -> None:
    """Wait until new topics show in metadata with leaders: creation is asynchronous."""
    deadline = time.monotonic() + timeout
    while True:
        topics = admin.list_topics(timeout=timeout).topics
        ready = all(name in topics and topics[name].error is None
                    and all(p.leader >= 0 for p in topics[name].partitions.values())
                    for name in names)
        if ready:
            return
        if time.monotonic() > deadline:
            raise TopicError(f"topic(s) {', '.join(names)} created but not available "
                             f"after {timeout:.0f}s")
        time.sleep(0.1)


def _check_compacted(admin: AdminClient, topic: str, timeout: float) -> None:
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    deadline = time.monotonic() + timeout
    while True:
        try:
            configs = admin.describe_configs([resource])[resource].result(timeout=timeout)
            break
        except KafkaException as exc:
            error = exc.args[0]
            if error.code() not in RETRY_LEADER_CODES or time.monotonic() > deadline:
                raise TopicError(f"cannot describe topic {topic}: {error.str()}") from None
            time.sleep(0.2)
    policy = configs["cleanup.policy"].value or ""
    if "compact" not in policy:
        raise TopicError(f"state topic {topic} has cleanup.policy={policy}; "
                         "it must be compact, or the state grows without bound")


def restore(conf: dict[str, str], topic: str, state: State, *,
            timeout: float = 600.0) -> int:
    """Read the state topic from the beginning to its end into ``state``.

    Only committed records are read. "The end" is each partition's end offset
    taken before reading (the last stable offset, transaction markers
    included), and a partition is done when its end-of-partition event
    arrives or its position reaches that offset, so a topic whose last
    record is a transaction marker still finishes. Returns the records read.
    """
    consumer = Consumer({
        **conf,
        "group.id": f"{topic}.restore",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "isolation.level": "read_committed",
        "enable.partition.eof": True,
        "auto.offset.reset": "earliest",
        "fetch.max.bytes": 32 * 1024 * 1024,
        "max.partition.fetch.bytes": 8 * 1024 * 1024,
        # librdkafka prefetches up to this much per partition (default 64 MiB).
        "queued.max.messages.kbytes": 16 * 1024,
    })
    try:
        return _restore(consumer, topic, state, time.monotonic() + timeout)
    except KafkaException as exc:
        raise StateError(f"restore of {topic}: {exc.args[0].str()}") from None
    finally:
        consumer.close()
        _return_freed_memory()


def _return_freed_memory() -> None:
    """Give the fetch buffers a restore freed back to the OS (glibc keeps them).

    Without it the resident size after a large restore depends on how
    glibc's arenas happen to be fragmented: up to twice what the state holds.
    """
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass


def _watermarks(consumer: Consumer, partition: TopicPartition,
                deadline: float) -> tuple[int, int]:
    """A partition's offsets, waiting out a leader that is not there yet.

    Right after a topic is created (or a broker restarts) the broker can
    answer "not leader" for a while; that is worth waiting for, not failing.
    """
    while True:
        try:
            return consumer.get_watermark_offsets(partition, timeout=REQUEST_TIMEOUT,
                                                  cached=False)
        except KafkaException as exc:
            error = exc.args[0]
            if not error.retriable() and error.code() not in RETRY_LEADER_CODES:
                raise
            if time.monotonic() > deadline:
                raise
            log.debug("watermarks_retry", partition=partition.partition, error=error.str())
            time.sleep(0.2)


def _restore(consumer: Consumer, topic: str, state: State, deadline: float) -> int:
    metadata = consumer.list_topics(topic, timeout=REQUEST_TIMEOUT)
    if topic not in metadata.topics or metadata.topics[topic].error is not None:
        raise StateError(f"state topic {topic} not found")
    ends: dict[int, int] = {}
    for partition in metadata.topics[topic].partitions:
        low, high = _watermarks(consumer, TopicPartition(topic, partition), deadline)
        if high > low:
            ends[partition] = high
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in ends])
    read = 0
    while ends:
        if time.monotonic() > deadline:
            raise StateError(f"restore of {topic} timed out with partitions "
                             f"{sorted(ends)} unfinished")
        for message in consumer.consume(num_messages=10_000, timeout=0.2):
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    ends.pop(message.partition(), None)
                    continue
                raise StateError(f"restore of {topic}: {error.str()}")
            try:
                state.load(message.key() or b"", message.value())
            except ValueError as exc:
                raise StateError(f"{topic}[{message.partition()}]@{message.offset()}: "
                                 f"{exc}") from None
            read += 1
        for partition in list(ends):
            position = consumer.position([TopicPartition(topic, partition)])[0].offset
            if position >= ends[partition]:
                ends.pop(partition)
    return read


class TransactionalPublisher:
    """One transactional producer; each ``publish`` call is one transaction."""

    def __init__(self, conf: dict[str, str], transactional_id: str,
                 transaction_timeout_ms: int = 60_000) -> None:
        self._producer = Producer({
            **conf,
            "transactional.id": transactional_id,
            "enable.idempotence": True,
            "acks": "all",
            "transaction.timeout.ms": transaction_timeout_ms,
            "partitioner": "murmur2_random",
            "linger.ms": 20,
            "compression.type": "lz4",
            "queue.buffering.max.messages": 1_000_000,
            "queue.buffering.max.kbytes": 1_048_576,
        })
        self._delivery_error: KafkaError | None = None

    def init(self, timeout: float = 60.0) -> None:
        """Register the transactional id, fencing any older producer that holds it."""
        try:
            self._producer.init_transactions(timeout)
        except KafkaException as exc:
            raise self._translate(exc, "initialising transactions") from None

    def publish(self, messages: Sequence[tuple[str, bytes, bytes | None]],
                timeout: float) -> None:
        """Write ``(topic, key, value)`` messages in one transaction and commit it.

        Raises ``PublishError`` when the transaction did not commit for sure:
        the caller must then discard this producer and recover (a new one
        takes over the transactional id, which aborts whatever is left open,
        and the state is restored from what was really committed).
        ``FencedError`` or ``FatalKafkaError`` mean this process must stop.
        """
        deadline = time.monotonic() + timeout
        self._delivery_error = None
        try:
            self._producer.begin_transaction()
            for topic, key, value in messages:
                self._produce(topic, key, value)
            self._commit(deadline)
        except KafkaException as exc:
            raise self._translate(exc, "publishing") from None

    def _produce(self, topic: str, key: bytes, value: bytes | None) -> None:
        while True:
            try:
                self._producer.produce(topic, value, key, on_delivery=self._on_delivery)
                return
            except BufferError:
                self._producer.poll(0.05)

    def _on_delivery(self, error: KafkaError | None, _message: Any) -> None:
        if error is not None and self._delivery_error is None:
            self._delivery_error = error

    def _commit(self, deadline: float) -> None:
        while True:
            try:
                self._producer.commit_transaction(max(0.1, deadline - time.monotonic()))
                return
            except KafkaException as exc:
                error = exc.args[0]
                if error.retriable() and time.monotonic() < deadline:
                    log.warning("commit_retry", error=error.str())
                    time.sleep(0.1)
                    continue
                raise

    def _translate(self, exc: KafkaException, doing: str) -> ProducerError:
        error: KafkaError = exc.args[0]
        if error.code() in FENCED_CODES or (error.fatal() and "fenc" in error.str().lower()):
            return FencedError(f"fenced while {doing}: another producer with the same "
                               f"TRANSACTIONAL_ID took over ({error.str()})")
        if error.fatal():
            return FatalKafkaError(f"fatal Kafka error while {doing}: {error.str()}")
        return PublishError(f"Kafka transaction failed while {doing}: {error.str()}"
                            + (f" (delivery: {self._delivery_error.str()})"
                               if self._delivery_error else ""))

    def close(self, timeout: float = 10.0) -> None:
        self._producer.flush(timeout)

    def discard(self) -> None:
        """Drop this producer without waiting: undelivered messages are purged."""
        try:
            self._producer.purge(in_queue=True, in_flight=True, blocking=False)
            self._producer.flush(0)
        except KafkaException:
            pass
