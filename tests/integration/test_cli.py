"""The command line as an operator uses it: settings, exit codes, endpoints, secrets."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest

from producer.simulator import Simulator, start_in_thread
from tests.faults.harness import ROOT, ProducerProcess, free_port, producer_env

pytestmark = pytest.mark.kafka
SECRET_KEY = "key-5f1c0d-do-not-log"


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("SKILLABLE_", "KAFKA_", "POLL_"))}
    return subprocess.run([sys.executable, "-m", "producer", *args], cwd=ROOT,
                          env={**base, **(env or {})}, capture_output=True, text=True,
                          timeout=120)


@pytest.fixture
def sim():
    server = start_in_thread(Simulator(seed=2, speed=0, initial_instances=25,
                                       api_key=SECRET_KEY))
    yield server
    server.close()


@pytest.mark.parametrize(("env", "message"), [
    ({}, "SKILLABLE_API_URL: is required"),
    ({"SKILLABLE_API_URL": "http://x"}, "SKILLABLE_API_KEY: is required"),
    ({"SKILLABLE_API_URL": "ftp://x", "SKILLABLE_API_KEY": "k"}, "SKILLABLE_API_URL: must be"),
    ({"SKILLABLE_API_URL": "http://x", "SKILLABLE_API_KEY": "k",
      "POLL_INTERVAL_SECONDS": "often"}, "POLL_INTERVAL_SECONDS: "),
    ({"SKILLABLE_API_URL": "http://x", "SKILLABLE_API_KEY": "k",
      "EXCLUDE_FIELDS": "Nope"}, "EXCLUDE_FIELDS: unknown LabResult field(s): Nope"),
])
def test_a_bad_setting_is_one_line_naming_it_and_exit_code_2(env, message) -> None:
    for command in ("run", "once"):
        result = cli(command, env=env)
        assert result.returncode == 2
        assert result.stderr.strip().splitlines() == [result.stderr.strip()]
        assert message in result.stderr


def test_a_flag_overrides_the_environment() -> None:
    result = cli("once", "--poll-interval-seconds", "-1",
                 env={"SKILLABLE_API_URL": "http://x", "SKILLABLE_API_KEY": "k",
                      "POLL_INTERVAL_SECONDS": "5"})
    assert result.returncode == 2 and "POLL_INTERVAL_SECONDS" in result.stderr


def test_schemas_prints_every_avro_schema() -> None:
    result = cli("schemas")
    assert result.returncode == 0
    for name in ("LabResult", "LabResultChangeEvent", "LabResultState"):
        assert f'"name": "{name}"' in result.stdout


def test_once_publishes_and_exits_zero_and_never_logs_secrets(
        sim, bootstrap, names, tmp_path) -> None:
    env = producer_env(sim.url, bootstrap, names, SKILLABLE_API_KEY=SECRET_KEY,
                       KAFKA_SASL_PASSWORD="sasl-pass-9d8c", KAFKA_CLIENT_ID="cli-test")
    once = ProducerProcess(env, tmp_path, command="once")
    assert once.wait(120) == 0, once.log()[-2000:]
    log = once.log()
    assert '"creates": 25' in log
    assert SECRET_KEY not in log and "sasl-pass-9d8c" not in log


def test_once_with_a_wrong_key_fails_without_showing_the_key(
        sim, bootstrap, names, tmp_path) -> None:
    env = producer_env(sim.url, bootstrap, names, SKILLABLE_API_KEY="wrong-key-77aa")
    once = ProducerProcess(env, tmp_path, command="once")
    assert once.wait(120) == 1
    assert "The API key provided is not valid" in once.log()
    assert "wrong-key-77aa" not in once.log()


def test_run_serves_metrics_health_and_readiness(sim, bootstrap, names, tmp_path) -> None:
    port = free_port()
    producer = ProducerProcess(producer_env(sim.url, bootstrap, names, port,
                                            SKILLABLE_API_KEY=SECRET_KEY), tmp_path)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert producer.process.poll() is None, producer.log()[-2000:]
            import time
            time.sleep(0.1)
        assert httpx.get(f"{base}/healthz").status_code == 200
        metrics = httpx.get(f"{base}/metrics").text
        assert 'lab_results_polls_total{outcome="success"}' in metrics
        assert "lab_results_state_instances 25.0" in metrics
        assert SECRET_KEY not in metrics
        assert httpx.get(f"{base}/nope").status_code == 404
    finally:
        producer.terminate()
        assert producer.wait(30) == 0
