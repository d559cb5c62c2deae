"""Fixtures of the fault suite: the simulator in a thread, producers pointed at it."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

from producer.service import LabResultsProducer
from producer.simulator import Simulator, start_in_thread
from tests.faults.harness import Broker, free_port

START = 1_764_760_000


@pytest.fixture
def sim() -> Iterator:
    """A simulator standing still (speed 0); tests move it with ``advance``."""
    simulator = Simulator(seed=11, speed=0, start_time=START, rate=600, initial_instances=40)
    server = start_in_thread(simulator)
    yield server
    server.close()


@pytest.fixture
def sim_producer(sim, start_producer) -> Callable[..., LabResultsProducer]:
    """Starts producers that poll the simulator."""
    return lambda **overrides: start_producer(
        skillable_api_url=sim.url, skillable_api_key="sim-key", **overrides)


@pytest.fixture
def own_broker(tmp_path_factory) -> Iterator[Broker]:
    """A broker of the test's own, on free ports, that it may stop and start."""
    port, controller = free_port(), free_port()
    env = {**os.environ, "KAFKA_PORT": str(port), "KAFKA_CONTROLLER_PORT": str(controller),
           "KAFKA_DIR": str(tmp_path_factory.mktemp("broker")), "KAFKA_USE_DOCKER": "0"}
    broker = Broker(env, f"127.0.0.1:{port}")
    broker.up()
    yield broker
    broker.down(wipe=True)
