"""Running the producer as a real process, and checking the stream it leaves.

The check is the promise made to downstream processors: for every lab
instance, the events topic holds versions 1, 2, 3... exactly once and in
order, every ``after`` is a state the simulator really went through, and the
last one is the simulator's final state.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.integration.conftest import read_topic
from tests.unit.test_codec import consumer_decode

ROOT = Path(__file__).resolve().parents[2]
TIMESTAMPS = ("Start", "End", "LastActivity")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Broker:
    """A broker run by scripts/kafka on its own ports and data folder."""

    env: dict[str, str]
    bootstrap: str

    def up(self) -> None:
        subprocess.run([ROOT / "scripts/kafka/kafka-up.sh"], env=self.env, check=True,
                       timeout=240, capture_output=True)

    def down(self, wipe: bool = False) -> None:
        env = {**self.env, "KAFKA_WIPE": "1" if wipe else "0"}
        subprocess.run([ROOT / "scripts/kafka/kafka-down.sh"], env=env, check=True,
                       timeout=120, capture_output=True)


class ProducerProcess:
    """``lab-results-producer <command>`` in a child process, logging to a file."""

    def __init__(self, env: dict[str, str], log_dir: Path, command: str = "run") -> None:
        self.log_path = log_dir / f"producer-{time.monotonic_ns()}.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "producer", command], cwd=ROOT,
            env={**os.environ, "LOG_FORMAT": "json", **env},
            stdout=self._log, stderr=subprocess.STDOUT)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.wait(10)

    def terminate(self) -> None:
        self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout: float) -> int:
        try:
            return self.process.wait(timeout)
        finally:
            if self.process.returncode is not None:
                self._log.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def producer_env(sim_url: str, bootstrap: str, names: dict[str, str], metrics_port: int = 0,
                 **extra: object) -> dict[str, str]:
    env = {"SKILLABLE_API_URL": sim_url, "SKILLABLE_API_KEY": "sim-key",
           "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "EVENTS_TOPIC": names["events_topic"],
           "STATE_TOPIC": names["state_topic"], "TRANSACTIONAL_ID": names["transactional_id"],
           "METRICS_PORT": str(metrics_port), "POLL_INTERVAL_SECONDS": "0.5",
           "EVENTS_TOPIC_PARTITIONS": "3", "STATE_TOPIC_PARTITIONS": "3"}
    env.update({k.upper(): str(v) for k, v in extra.items()})
    return env


def sim_history(sim_url: str) -> dict[int, list[dict]]:
    answer = httpx.get(f"{sim_url}/_sim/history", timeout=60).json()
    return {int(k): v for k, v in answer["instances"].items()}


def sim_visible(sim_url: str) -> set[int]:
    """Lab instances the API shows now over its whole 7-day window.

    The history also holds instances whose last change slipped out of the
    7-day window before the producer's first poll: no producer can see those.
    """
    answer = httpx.get(f"{sim_url}/LatestResults", params={"minutes": 10080},
                       headers={"api_key": "sim-key"}, timeout=60).json()
    return {result["LabInstanceId"] for result in answer["Results"]}


def as_api_result(snapshot: dict) -> dict:
    """An event's snapshot written back as the API returned it (epoch seconds)."""
    result = dict(snapshot)
    for name in TIMESTAMPS:
        if result[name] is not None:
            result[name] = int(result[name].timestamp())
    return result


@dataclass
class StreamCheck:
    """What the consumer check found; ``problems`` is empty when the promise holds."""

    events: int = 0
    instances: int = 0
    duplicated: int = 0
    lost: int = 0
    problems: list[str] = field(default_factory=list)


def check_stream(bootstrap: str, topic: str, history: dict[int, list[dict]],
                 visible: set[int], state_topic: str | None = None) -> StreamCheck:
    """Versions 1..n once each, every ``after`` in the history, the last one final.

    Every lab instance in ``visible`` (what the API shows at the end, after
    the final poll) must have events, the last one its final state.

    With ``state_topic``, a problem also says what the state topic holds for
    that lab instance, which tells a lost event from a lost state record.
    """
    by_instance: dict[int, list[dict]] = defaultdict(list)
    for message in read_topic(bootstrap, topic):
        event = consumer_decode(message.value())
        by_instance[consumer_decode(message.key())].append(event)
    check = StreamCheck(events=sum(map(len, by_instance.values())), instances=len(by_instance))
    for lab_id, events in by_instance.items():
        versions = [e["version"] for e in events]
        if versions != list(range(1, len(versions) + 1)):
            check.duplicated += len(versions) - len(set(versions))
            check.lost += max(versions) - len(set(versions))
            check.problems.append(f"{lab_id}: versions {versions}")
        states = history.get(lab_id, [])
        for event in events:
            if as_api_result(event["after"]) not in states:
                check.problems.append(f"{lab_id} v{event['version']}: after not in history")
        if states and as_api_result(events[-1]["after"]) != states[-1]:
            check.lost += 1
            check.problems.append(f"{lab_id}: last event is not the final state")
    for lab_id in visible - set(by_instance):
        check.lost += 1
        check.problems.append(f"{lab_id}: in the simulator, no event")
    if check.problems and state_topic:
        check.problems.append(_state_versions(bootstrap, state_topic, check.problems))
    return check


def _state_versions(bootstrap: str, state_topic: str, problems: list[str]) -> str:
    from producer import schemas
    from producer.codec import SingleObjectCodec
    from producer.state import StoredSnapshot

    codec = SingleObjectCodec(schemas.STATE)
    named = {int(p.split(":")[0].split(" ")[0]) for p in problems}
    found: dict[int, list] = defaultdict(list)
    for committed in (True, False):
        for message in read_topic(bootstrap, state_topic, committed=committed):
            key = consumer_decode(message.key())
            if key in named:
                value = message.value()
                version = None if value is None else StoredSnapshot(value, codec).version
                found[key].append((committed, message.partition(), message.offset(), version))
    return f"state topic (committed, partition, offset, version): {dict(found)}"
