"""Fixtures shared by every tier: the shared API fixtures, the broker, settings.

The broker is ``KAFKA_BOOTSTRAP_SERVERS`` when set; else a testcontainers
Kafka when a Docker engine answers; else the local broker ``make kafka-up``
starts on 127.0.0.1:9092. When none answers the tests that need it fail:
they never skip.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from producer.config import Settings, load_settings
from producer.service import LabResultsProducer

LOCAL_BROKER = "127.0.0.1:9092"

ROOT = Path(__file__).resolve().parent.parent


def shared_dir() -> Path:
    """``shared/`` beside the repository (or ``SHARED_DIR``)."""
    return Path(os.environ.get("SHARED_DIR", ROOT.parent / "shared"))


@pytest.fixture(scope="session")
def skillable_fixtures() -> Path:
    path = shared_dir() / "fixtures" / "skillable"
    if not path.is_dir():
        pytest.fail(f"the shared API fixtures are missing: {path} (set SHARED_DIR)")
    return path


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


@pytest.fixture
def start_producer(make_settings) -> Iterator[Callable[..., LabResultsProducer]]:
    """Starts producers (closed after the test) on the test's topics.

    ``api`` is anything with a ``client()`` giving a ``SkillableClient``
    (tests.integration.conftest.FixtureApi); without it, the settings'
    SKILLABLE_API_URL is polled.
    """
    started: list[LabResultsProducer] = []

    def start(api=None, clock=None, **overrides: object) -> LabResultsProducer:
        extra = {"clock": clock} if clock is not None else {}
        if api is not None:
            extra["client"] = api.client()
        producer = LabResultsProducer(make_settings(**overrides), **extra)
        producer.start()
        started.append(producer)
        return producer

    yield start
    for producer in started:
        producer.close()
