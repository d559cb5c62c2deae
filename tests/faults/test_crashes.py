"""Exactly once through SIGKILL at random moments, and one writer per transactional id.

``FAULT_KILLS`` sets the number of kills (``make soak`` raises it).
"""

from __future__ import annotations

import os
import random
import time

import pytest

from tests.faults.harness import (
    ProducerProcess,
    check_stream,
    producer_env,
    sim_history,
    sim_visible,
)
from tests.integration.conftest import read_topic

pytestmark = pytest.mark.kafka
KILLS = int(os.environ.get("FAULT_KILLS", "20"))


@pytest.fixture
def busy_sim():
    """A simulator running 120 times real time with many launches."""
    from producer.simulator import Simulator, start_in_thread

    simulator = Simulator(seed=int(os.environ.get("FAULT_SEED", "5")), speed=120,
                          rate=1500, initial_instances=300)
    server = start_in_thread(simulator)
    yield server
    server.close()


def test_sigkill_at_random_moments_loses_and_duplicates_nothing(
        busy_sim, bootstrap, names, tmp_path) -> None:
    rng = random.Random(os.environ.get("FAULT_SEED", "5"))
    env = producer_env(busy_sim.url, bootstrap, names)
    for _ in range(KILLS):
        producer = ProducerProcess(env, tmp_path)
        # From just after start (restore, take-over) to several polls in.
        time.sleep(rng.uniform(0.2, 4.0))
        assert producer.process.poll() is None, producer.log()[-3000:]
        producer.kill()

    busy_sim.simulator.freeze()
    final = ProducerProcess(env, tmp_path, command="once")
    assert final.wait(120) == 0, final.log()[-3000:]

    check = check_stream(bootstrap, names["events_topic"], sim_history(busy_sim.url),
                         sim_visible(busy_sim.url))
    print(f"kills={KILLS} events={check.events} instances={check.instances} "
          f"lost={check.lost} duplicated={check.duplicated}")
    assert check.problems == []
    assert check.events > check.instances > 300


def test_the_older_of_two_producers_is_fenced_and_exits_non_zero(
        busy_sim, bootstrap, names, tmp_path) -> None:
    env = producer_env(busy_sim.url, bootstrap, names)
    older = ProducerProcess(env, tmp_path)
    _wait_for_log(older, '"poll"')
    newer = ProducerProcess(env, tmp_path)
    try:
        assert older.wait(60) == 3
        fenced = [line for line in older.log().splitlines() if '"fenced"' in line]
        assert len(fenced) == 1 and "TRANSACTIONAL_ID" in fenced[0]
        assert newer.process.poll() is None
        _wait_for_log(newer, '"poll"')
    finally:
        newer.terminate()
        assert newer.wait(60) == 0
    busy_sim.simulator.freeze()
    assert ProducerProcess(env, tmp_path, command="once").wait(120) == 0
    check = check_stream(bootstrap, names["events_topic"], sim_history(busy_sim.url),
                         sim_visible(busy_sim.url))
    assert check.problems == []


def test_sigterm_ends_the_poll_in_flight_and_exits_zero_within_the_grace(
        busy_sim, bootstrap, names, tmp_path) -> None:
    env = producer_env(busy_sim.url, bootstrap, names, shutdown_grace_seconds=3)
    producer = ProducerProcess(env, tmp_path)
    _wait_for_log(producer, '"poll"')
    # The next answers trickle in one byte a second: a poll is in flight.
    busy_sim.simulator.faults.configure({"slow_interval": 1.0})
    busy_sim.simulator.faults.set_schedule(["slow"] * 5)
    time.sleep(1.5)
    before = len(read_topic(bootstrap, names["events_topic"], committed=False))
    started = time.monotonic()
    producer.terminate()
    assert producer.wait(30) == 0, producer.log()[-3000:]
    assert time.monotonic() - started < 3 + 5
    assert len(read_topic(bootstrap, names["events_topic"], committed=False)) == before
    assert '"stopping"' in producer.log()


def _wait_for_log(producer: ProducerProcess, text: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while text not in producer.log():
        assert producer.process.poll() is None, producer.log()[-3000:]
        assert time.monotonic() < deadline, f"no {text} in the log: {producer.log()[-3000:]}"
        time.sleep(0.1)
