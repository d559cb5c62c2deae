"""Fixtures of the deploy tests: the tools, chart rendering, a running producer.

The tools come from ``make deploy-tools``: helm and hadolint in
``$CACHE_DIR/bin`` (default ``~/.cache/lab-results-producer/bin``), promtool and
prometheus from Debian's ``prometheus`` package; each is looked up there first,
then on PATH. A missing tool (or Kafka broker) fails the test, naming the
command that installs it: these tests never skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.deploy.support import (
    CHART,
    MINIMAL_VALUES,
    Exposition,
    clean_env,
    free_port,
    helm_template,
    http_get,
    wait_until,
    write_rules,
)

CACHE_DIR = Path(
    os.environ.get("CACHE_DIR") or Path.home() / ".cache" / "lab-results-producer"
)
TOOLS_BIN = CACHE_DIR / "bin"


def unavailable(message: str) -> None:
    """Fail: `make test` (and `make test-deploy`) install every tool these tests use."""
    pytest.fail(message)


def find_tool(name: str) -> str:
    cached = TOOLS_BIN / name
    if cached.is_file() and os.access(cached, os.X_OK):
        return str(cached)
    found = shutil.which(name)
    if found:
        return found
    unavailable(
        f"{name} is neither in {TOOLS_BIN} nor on PATH: run `make deploy-tools`"
    )
    raise AssertionError("unreachable")


@pytest.fixture(scope="session")
def helm() -> str:
    return find_tool("helm")


@pytest.fixture(scope="session")
def promtool() -> str:
    return find_tool("promtool")


@pytest.fixture(scope="session")
def prometheus_bin() -> str:
    return find_tool("prometheus")


@pytest.fixture(scope="session")
def hadolint() -> str:
    return find_tool("hadolint")


# ----------------------------------------------------------------- rendering


@dataclass
class Rendered:
    docs: list[dict]

    def of_kind(self, kind: str) -> list[dict]:
        return [d for d in self.docs if d["kind"] == kind]

    def one(self, kind: str) -> dict:
        found = self.of_kind(kind)
        assert len(found) == 1, f"expected one {kind}, got {len(found)}"
        return found[0]


@pytest.fixture
def render(helm: str, tmp_path: Path) -> Callable[..., Rendered]:
    """Render the chart with ``values`` (merged over the chart's) and parse it."""

    def run(values: dict | None = None, *args: str, chart: Path = CHART) -> Rendered:
        result = helm_template(
            helm,
            values if values is not None else MINIMAL_VALUES,
            tmp_path,
            *args,
            chart=chart,
        )
        assert result.returncode == 0, result.stderr
        docs = [d for d in yaml.safe_load_all(result.stdout) if d]
        return Rendered(docs)

    return run


@pytest.fixture
def render_error(helm: str, tmp_path: Path) -> Callable[..., str]:
    """Render the chart with values it must refuse; return helm's error text."""

    def run(values: dict) -> str:
        result = helm_template(helm, values, tmp_path)
        assert result.returncode != 0, f"helm accepted {values}"
        return result.stderr

    return run


@pytest.fixture
def render_rules(helm: str, tmp_path: Path) -> Callable[..., Path]:
    """Write the PrometheusRule's groups as a Prometheus rules file; return its path."""

    def run(rule_values: dict | None = None, directory: Path | None = None) -> Path:
        return write_rules(helm, directory or tmp_path, rule_values)

    return run


# ---------------------------------------------------------- running producer


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    from confluent_kafka.admin import AdminClient

    servers = os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or "127.0.0.1:9092"
    try:
        brokers = (
            AdminClient({"bootstrap.servers": servers}).list_topics(timeout=10).brokers
        )
    except Exception as error:  # noqa: BLE001 (any client error means: no broker)
        brokers, servers = {}, f"{servers} ({error})"
    if not brokers:
        unavailable(f"no Kafka broker answers at {servers}: run `make kafka-up`")
    return servers


def _entry_point() -> str:
    script = Path(sys.executable).parent / "lab-results-producer"
    assert script.exists(), f"{script} missing: run `make install`"
    return str(script)


@dataclass
class RunningProducer:
    metrics_port: int
    api_url: str
    log: Path
    process: subprocess.Popen

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    def scrape(self) -> Exposition:
        status, text = http_get(self.metrics_url)
        assert status == 200, text
        return Exposition.parse(text)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=35)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.fixture(scope="session")
def running_producer(
    kafka_bootstrap: str, tmp_path_factory
) -> Iterator[RunningProducer]:
    """`lab-results-producer run` polling a simulator every second, on fresh topics.

    The simulator answers the first request with an HTML page (a bad_response
    poll) and the next one with 429 (a retry), so that the failure, status and
    retry series exist too.
    """
    logs = tmp_path_factory.mktemp("producer")
    entry = _entry_point()
    api_port, metrics_port = free_port(), free_port()
    sim_log = logs / "simulator.log"
    simulator = subprocess.Popen(
        [
            entry,
            "simulate",
            "--port",
            str(api_port),
            "--seed",
            "11",
            "--speed",
            "60",
            "--initial-instances",
            "40",
            "--fault-next",
            "html",
            "--fault-next",
            "429",
            "--retry-after",
            "1",
        ],
        stdout=sim_log.open("w"),
        stderr=subprocess.STDOUT,
        env=clean_env(),
    )
    api_url = f"http://127.0.0.1:{api_port}"
    suffix = uuid.uuid4().hex[:10]
    env = clean_env(
        SKILLABLE_API_URL=api_url,
        SKILLABLE_API_KEY="sim-key",
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        EVENTS_TOPIC=f"test.deploy.events.{suffix}",
        STATE_TOPIC=f"test.deploy.state.{suffix}",
        TRANSACTIONAL_ID=f"test-deploy-{suffix}",
        EVENTS_TOPIC_PARTITIONS="1",
        STATE_TOPIC_PARTITIONS="1",
        METRICS_HOST="127.0.0.1",
        METRICS_PORT=str(metrics_port),
        POLL_INTERVAL_SECONDS="1",
        LOG_FORMAT="json",
        PYTHONUNBUFFERED="1",
    )
    log = logs / "producer.log"
    producer = None
    try:
        wait_until(
            lambda: http_get(f"{api_url}/_sim/status")[0] == 200,
            20,
            "the simulator",
            process=simulator,
            log=sim_log,
        )
        producer = subprocess.Popen(
            [entry, "run"], stdout=log.open("w"), stderr=subprocess.STDOUT, env=env
        )
        running = RunningProducer(metrics_port, api_url, log, producer)

        def polled_twice() -> bool:
            samples = running.scrape()
            return (
                "lab_results_polls_total" in samples.samples
                and _successes(running) >= 2
            )

        wait_until(polled_twice, 45, "two successful polls", process=producer, log=log)
        yield running
    finally:
        if producer is not None:
            _stop(producer)
        _stop(simulator)


def _successes(running: RunningProducer) -> float:
    _, text = http_get(running.metrics_url)
    for line in text.splitlines():
        if line.startswith('lab_results_polls_total{outcome="success"}'):
            return float(line.split()[-1])
    return 0.0


@pytest.fixture(scope="session")
def exported(running_producer: RunningProducer) -> Exposition:
    """The producer's /metrics after its first successful polls."""
    return running_producer.scrape()
