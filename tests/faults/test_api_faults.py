"""API faults: each ends in a bounded retry or a failed poll, and none changes state."""

from __future__ import annotations

import pytest

from producer import metrics
from tests.integration.conftest import read_topic

pytestmark = pytest.mark.kafka


def snapshot(producer, bootstrap, names) -> tuple:
    state = {i: producer.state.raw(i) for i in producer.state}
    events = len(read_topic(bootstrap, names["events_topic"], committed=False))
    records = len(read_topic(bootstrap, names["state_topic"], committed=False))
    return state, events, records, producer.last_success_start


def counter(metric, *labels) -> float:
    return (metric.labels(*labels) if labels else metric)._value.get()


@pytest.mark.parametrize(("fault", "reason"), [
    ("429", "429"), ("500", "500"), ("502", "502"), ("503", "503"),
    ("reset", "connect"), ("timeout", "timeout"),
])
def test_transient_faults_are_retried_and_the_poll_succeeds(
        sim, sim_producer, fault, reason) -> None:
    producer = sim_producer(api_read_timeout_seconds=1)
    sim.simulator.faults.configure({"retry_after": 1, "timeout_seconds": 5})
    sim.simulator.faults.set_schedule([fault])
    retries = counter(metrics.API_RETRIES, reason)

    report = producer.poll()

    assert report.creates == sim.simulator.lab_instance_count > 0
    assert counter(metrics.API_RETRIES, reason) == retries + 1


def test_retry_after_is_honoured(sim, sim_producer) -> None:
    import time

    producer = sim_producer()
    sim.simulator.faults.configure({"retry_after": 2})
    sim.simulator.faults.set_schedule(["429"])
    started = time.monotonic()
    producer.poll()
    assert time.monotonic() - started >= 2


@pytest.mark.parametrize(("faults", "outcome", "overrides"), [
    (["503", "503"], "api_error", {"api_max_retries": 1}),
    (["reset", "reset"], "api_error", {"api_max_retries": 1}),
    (["status0"], "bad_response", {}),
    (["html"], "bad_response", {}),
    (["truncated"], "bad_response", {}),
    (["slow"], "deadline", {"poll_deadline_seconds": 2}),
])
def test_a_failed_poll_changes_nothing_and_the_next_poll_runs(
        sim, sim_producer, bootstrap, names, faults, outcome, overrides) -> None:
    producer = sim_producer(**overrides)
    producer.poll()
    sim.simulator.advance(1800)  # changes wait to be picked up
    before = snapshot(producer, bootstrap, names)
    failures = counter(metrics.POLLS, outcome)
    sim.simulator.faults.configure({"slow_interval": 0.5})
    sim.simulator.faults.set_schedule(faults)

    assert producer.poll_safely() is None

    assert counter(metrics.POLLS, outcome) == failures + 1
    assert snapshot(producer, bootstrap, names) == before
    sim.simulator.faults.clear()
    report = producer.poll_safely()
    assert report is not None and report.changes > 0


@pytest.mark.parametrize("fault", ["slow", "timeout"])
def test_a_poll_cycle_has_an_overall_deadline(sim, sim_producer, fault) -> None:
    import time

    producer = sim_producer(poll_deadline_seconds=3, api_read_timeout_seconds=60)
    sim.simulator.faults.configure({"timeout_seconds": 30})
    sim.simulator.faults.set_schedule([fault] * 10)
    deadlines = counter(metrics.POLLS, "deadline")
    started = time.monotonic()
    assert producer.poll_safely() is None
    assert time.monotonic() - started < 8
    assert counter(metrics.POLLS, "deadline") == deadlines + 1
