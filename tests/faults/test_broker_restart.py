"""The broker stopped mid-run for 30 s and started again.

Runs on a broker of its own (scripts/kafka, other ports, a temporary data
folder) so that stopping it disturbs no other test.
"""

from __future__ import annotations

import os
import time

import httpx
import pytest

from tests.faults.harness import (
    ProducerProcess,
    check_stream,
    free_port,
    producer_env,
    sim_history,
    sim_visible,
)

pytestmark = pytest.mark.kafka
DOWN_SECONDS = float(os.environ.get("FAULT_BROKER_DOWN_SECONDS", "30"))


def ready(metrics_port: int) -> bool | None:
    try:
        return httpx.get(f"http://127.0.0.1:{metrics_port}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return None


def test_broker_down_for_30s_then_back_the_stream_is_still_exact(
        own_broker, tmp_path) -> None:
    from producer.simulator import Simulator, start_in_thread

    sim = start_in_thread(Simulator(seed=3, speed=120, rate=1500, initial_instances=200))
    names = {"events_topic": "events", "state_topic": "state", "transactional_id": "t1"}
    metrics_port = free_port()
    env = producer_env(sim.url, own_broker.bootstrap, names, metrics_port,
                       poll_deadline_seconds=8)
    producer = ProducerProcess(env, tmp_path)
    try:
        _until(lambda: ready(metrics_port) is True, 60, producer)
        own_broker.down()
        down_since = time.monotonic()
        _until(lambda: ready(metrics_port) is False, DOWN_SECONDS, producer)
        time.sleep(max(0.0, DOWN_SECONDS - (time.monotonic() - down_since)))
        own_broker.up()
        _until(lambda: ready(metrics_port) is True, 120, producer)
        assert '"recovered"' in producer.log()
        time.sleep(2)
        sim.simulator.freeze()
        producer.terminate()
        assert producer.wait(60) == 0, producer.log()[-3000:]
        final = ProducerProcess(env, tmp_path, command="once")
        assert final.wait(120) == 0, final.log()[-3000:]
        check = check_stream(own_broker.bootstrap, "events", sim_history(sim.url),
                             sim_visible(sim.url), "state")
        assert check.problems == []
        assert check.instances > 200
    finally:
        if producer.process.poll() is None:
            producer.kill()
        sim.close()


def _until(condition, timeout: float, producer: ProducerProcess) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert producer.process.poll() is None, producer.log()[-3000:]
        assert time.monotonic() < deadline, producer.log()[-3000:]
        time.sleep(0.25)
