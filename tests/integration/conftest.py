"""The integration tier: producers on the real broker, fed from fixture files.

The broker, topic names and settings fixtures are in ``tests/conftest.py``.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from producer.api import SkillableClient

LOCAL_BROKER = "127.0.0.1:9092"


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
