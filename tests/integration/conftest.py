"""The integration tier: a real Kafka broker, and topics made fresh for each test.

The broker is ``KAFKA_BOOTSTRAP_SERVERS`` when set; else a testcontainers
Kafka when a Docker engine answers; else the local broker ``make kafka-up``
starts on 127.0.0.1:9092. When none answers the tests fail: they never skip.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition
from confluent_kafka.admin import AdminClient

from producer.api import SkillableClient
from producer.config import Settings, load_settings
from producer.service import LabResultsProducer

LOCAL_BROKER = "127.0.0.1:9092"


def _docker_answers() -> bool:
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture(scope="session")
def bootstrap() -> Iterator[str]:
    servers = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    container = None
    if not servers and _docker_answers():
        from testcontainers.kafka import KafkaContainer

        container = KafkaContainer().with_kraft()
        container.start()
        servers = container.get_bootstrap_server()
    servers = servers or LOCAL_BROKER
    metadata = AdminClient({"bootstrap.servers": servers}).list_topics(timeout=20)
    if not metadata.brokers:
        pytest.fail(f"no Kafka broker answers at {servers}: run `make kafka-up`")
    yield servers
    if container is not None:
        container.stop()


@pytest.fixture
def names() -> dict[str, str]:
    """Topic names and a transactional id no other test uses."""
    suffix = uuid.uuid4().hex[:10]
    return {"events_topic": f"test.events.{suffix}", "state_topic": f"test.state.{suffix}",
            "transactional_id": f"test-{suffix}"}


@pytest.fixture
def make_settings(bootstrap: str, names: dict[str, str]) -> Callable[..., Settings]:
    def make(**overrides: object) -> Settings:
        env = {"SKILLABLE_API_URL": "http://api.test/api/v3", "SKILLABLE_API_KEY": "test-key",
               "KAFKA_BOOTSTRAP_SERVERS": bootstrap}
        values = {**names, "events_topic_partitions": 3, "state_topic_partitions": 3,
                  "metrics_port": 0, "poll_deadline_seconds": 60, **overrides}
        return load_settings(values, environ=env)
    return make


class FixtureApi:
    """Serves files as LatestResults answers, the next file on each request."""

    def __init__(self, *files: Path) -> None:
        self.files = list(files)
        self.requests: list[httpx.Request] = []

    def serve(self, *files: Path) -> None:
        self.files.extend(files)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(200, content=self.files.pop(0).read_bytes())

    def client(self) -> SkillableClient:
        return SkillableClient("http://api.test/api/v3", "test-key", max_retries=0,
                               transport=httpx.MockTransport(self))


@pytest.fixture
def start_producer(make_settings) -> Iterator[Callable[..., LabResultsProducer]]:
    started: list[LabResultsProducer] = []

    def start(api: FixtureApi, clock=None, **overrides: object) -> LabResultsProducer:
        extra = {"clock": clock} if clock is not None else {}
        producer = LabResultsProducer(make_settings(**overrides), client=api.client(), **extra)
        producer.start()
        started.append(producer)
        return producer

    yield start
    for producer in started:
        producer.close()


def read_topic(bootstrap: str, topic: str, *, committed: bool = True) -> list:
    """Every message in ``topic``, to its current end, in offset order per partition."""
    consumer = Consumer({
        "bootstrap.servers": bootstrap, "group.id": f"reader-{uuid.uuid4().hex}",
        "enable.auto.commit": False, "enable.partition.eof": True,
        "isolation.level": "read_committed" if committed else "read_uncommitted",
    })
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        pending, messages = set(partitions), []
        while pending:
            message = consumer.poll(10)
            assert message is not None, f"timed out reading {topic}"
            if message.error():
                assert message.error().code() == KafkaError._PARTITION_EOF, message.error()
                pending.discard(message.partition())
            else:
                messages.append(message)
        return messages
    finally:
        consumer.close()
