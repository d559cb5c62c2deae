"""The broker `make kafka-up` starts supports what the service needs: transactions.

Runs against ``KAFKA_BOOTSTRAP_SERVERS`` (default 127.0.0.1:9092): a committed
transaction is visible to a read_committed consumer, an aborted one is not.
"""

from __future__ import annotations

import os
import uuid

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

pytestmark = pytest.mark.kafka


def test_transactional_round_trip() -> None:
    servers = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    topic = f"test.local-broker.{uuid.uuid4().hex[:10]}"
    admin = AdminClient({"bootstrap.servers": servers})  # kept: a freed client cancels its futures
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(30)

    producer = Producer({"bootstrap.servers": servers, "transactional.id": f"test-{topic}"})
    producer.init_transactions(60)
    producer.begin_transaction()
    producer.produce(topic, key=b"k", value=b"committed")
    producer.commit_transaction(30)
    producer.begin_transaction()
    producer.produce(topic, key=b"k", value=b"aborted")
    producer.flush(30)
    producer.abort_transaction(30)

    consumer = Consumer({"bootstrap.servers": servers, "group.id": f"test-{topic}",
                         "isolation.level": "read_committed", "enable.partition.eof": True})
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    values = []
    try:
        while True:
            message = consumer.poll(30)
            assert message is not None, f"timed out reading {topic}"
            if message.error():
                assert message.error().code() == KafkaError._PARTITION_EOF, message.error()
                break
            values.append(message.value())
    finally:
        consumer.close()
    assert values == [b"committed"]
