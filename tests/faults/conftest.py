"""Fixtures of the fault suite: the simulator in a thread, producers pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from producer.service import LabResultsProducer
from producer.simulator import Simulator, start_in_thread
from tests.integration.conftest import bootstrap, make_settings, names  # noqa: F401

START = 1_764_760_000


@pytest.fixture
def sim() -> Iterator:
    """A simulator standing still (speed 0); tests move it with ``advance``."""
    simulator = Simulator(seed=11, speed=0, start_time=START, rate=600, initial_instances=40)
    server = start_in_thread(simulator)
    yield server
    server.close()


@pytest.fixture
def sim_producer(sim, make_settings) -> Iterator[Callable[..., LabResultsProducer]]:
    started: list[LabResultsProducer] = []

    def start(**overrides: object) -> LabResultsProducer:
        settings = make_settings(skillable_api_url=sim.url, skillable_api_key="sim-key",
                                 **overrides)
        producer = LabResultsProducer(settings)
        producer.start()
        started.append(producer)
        return producer

    yield start
    for producer in started:
        producer.close()
