"""`make demo`: simulator + producer + a consumer printing one line per event.

Runs against the local broker (`make kafka-up`) until Ctrl-C, or for
DEMO_SECONDS seconds when that is set. Everything it starts is stopped on exit.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"demo: nothing listens on port {port} after {timeout}s")


def wait_until_ready(port: int, producer: subprocess.Popen, timeout: float = 120) -> None:
    """Wait for the producer's /readyz: topics exist and the state is restored."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and producer.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("demo: the producer did not become ready; see its log above")


def main() -> int:
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    sim_port, metrics_port = free_port(), free_port()
    # Each run has topics of its own, so what it prints is this run's story.
    run = time.strftime("%Y%m%d-%H%M%S")
    topic = f"demo.{run}.lab-results.changes"
    # make's own KAFKA_* variables (KAFKA_PORT, KAFKA_DIR) are not librdkafka settings.
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("KAFKA_")}
    env = {**inherited,
           "SKILLABLE_API_URL": f"http://127.0.0.1:{sim_port}",
           "SKILLABLE_API_KEY": "sim-key",
           "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
           "EVENTS_TOPIC": topic,
           "STATE_TOPIC": f"demo.{run}.lab-results.state",
           "TRANSACTIONAL_ID": f"lab-results-demo-{run}",
           "POLL_INTERVAL_SECONDS": "5",
           "METRICS_PORT": str(metrics_port),
           "LOG_FORMAT": os.environ.get("LOG_FORMAT", "console")}
    processes: list[subprocess.Popen] = []

    def start(*argv: str) -> subprocess.Popen:
        process = subprocess.Popen(argv, env=env, cwd=ROOT)
        processes.append(process)
        return process

    print(f"demo: simulator on :{sim_port} (speed 60: one simulated minute a second), "
          f"producer metrics on http://127.0.0.1:{metrics_port}/metrics, broker {bootstrap}, "
          f"events topic {topic}", flush=True)
    try:
        # Simulated time starts 10 hours back, so for the first 10 minutes
        # every timestamp in the events lies in the past, as with the real API.
        start(str(BIN / "lab-results-producer"), "simulate", "--port", str(sim_port),
              "--seed", "7", "--speed", "60", "--start-time", str(int(time.time()) - 36_000),
              "--initial-instances", "20")
        wait_for_port(sim_port)
        producer = start(str(BIN / "lab-results-producer"), "run")
        wait_until_ready(metrics_port, producer)
        start(str(BIN / "python"), "examples/consume_events.py", "--bootstrap", bootstrap,
              "--topic", topic, "--from-beginning")
        seconds = float(os.environ.get("DEMO_SECONDS", "0")) or None
        try:
            producer.wait(timeout=seconds)
            return producer.returncode
        except subprocess.TimeoutExpired:
            return 0
    except KeyboardInterrupt:
        return 0
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


if __name__ == "__main__":
    sys.exit(main())
