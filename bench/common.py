"""What every benchmark scenario shares: bodies, settings, topics, statistics.

Nothing here is timed. The product is always driven through its public
classes (``LabResultsProducer``, ``SkillableClient``, ``producer.kafka``);
the floors reuse the product's own librdkafka settings, read off the product
code at run time (``publisher_conf``, ``restore_consumer_conf``) so that a
change there changes both sides.
"""

from __future__ import annotations

import hashlib
import os
import statistics
import uuid
from pathlib import Path
from typing import Any
from unittest import mock

import httpx
import orjson
from confluent_kafka.admin import AdminClient

import producer.kafka
from producer import logs
from producer.api import SkillableClient
from producer.config import Settings, load_settings
from producer.simulator import Simulator
from producer.state import State

BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or "127.0.0.1:9092"
API_URL = "http://api.bench.invalid/api/v3"
API_KEY = "bench-key"
SEED = 7
# Fixed simulated "now", so that every run serves the same bodies.
SIM_START = 1_760_000_000
TOPIC_PREFIX = "bench."


def producer_source() -> str:
    """A digest of the producer package's files as they are now on disk.

    Other people edit ``producer/`` while benchmarks run; each scenario
    process records this so that a run whose scenarios saw different code
    is flagged instead of silently mixing them.
    """
    root = Path(producer.kafka.__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.suffix in (".py", ".avsc") and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def quiet_logs() -> None:
    """The product's own log set-up, at WARNING: no line per poll, warnings kept."""
    logs.configure(level="WARNING", fmt="json")


def sim_results(count: int, seed: int = SEED) -> list[dict[str, Any]]:
    """``count`` distinct lab instance results, all changed within the last 7 days."""
    sim = Simulator(seed=seed, speed=0, start_time=SIM_START, initial_instances=count,
                    rate=0)
    results = sim.latest_results(10_080)
    if len(results) != count:
        raise RuntimeError(f"the simulator gave {len(results)} results, not {count}")
    return results


def answer_body(results: list[dict[str, Any]]) -> bytes:
    """A LatestResults answer as the simulator's HTTP endpoint serialises it."""
    return orjson.dumps({"Results": results, "Status": 1, "Error": None})


def names(run_id: str, tag: str) -> dict[str, str]:
    """Fresh topic names and transactional id for one scenario repetition."""
    suffix = f"{run_id}.{tag}.{uuid.uuid4().hex[:8]}"
    return {"events_topic": f"{TOPIC_PREFIX}{suffix}.events",
            "state_topic": f"{TOPIC_PREFIX}{suffix}.state",
            "transactional_id": f"bench-{suffix}"}


def topics(topic_names: dict[str, str]) -> list[str]:
    """The two topics of a ``names()`` result."""
    return [topic_names["events_topic"], topic_names["state_topic"]]


def settings(topic_names: dict[str, str], **overrides: Any) -> Settings:
    """The product's settings: its defaults, with the bench's topics and broker."""
    env = {"SKILLABLE_API_URL": API_URL, "SKILLABLE_API_KEY": API_KEY,
           "KAFKA_BOOTSTRAP_SERVERS": BOOTSTRAP}
    return load_settings({**topic_names, "metrics_port": 0, **overrides}, environ=env)


def mock_client(body: bytes) -> SkillableClient:
    """The product's API client, answered in memory: no network time on either side."""
    def answer(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body,
                              headers={"content-type": "application/json"})
    return SkillableClient(API_URL, API_KEY, max_retries=0,
                           transport=httpx.MockTransport(answer))


class _Captured(Exception):
    pass


def publisher_conf(conf: dict[str, str], transactional_id: str) -> dict[str, Any]:
    """The librdkafka config ``TransactionalPublisher`` builds, without a broker."""
    captured: dict[str, Any] = {}

    def fake_producer(config: dict[str, Any]) -> None:
        captured.update(config)
        raise _Captured

    with mock.patch.object(producer.kafka, "Producer", fake_producer):
        try:
            producer.kafka.TransactionalPublisher(conf, transactional_id)
        except _Captured:
            pass
    if not captured:
        raise RuntimeError("could not read TransactionalPublisher's producer config")
    return captured


def restore_consumer_conf(conf: dict[str, str], topic: str) -> dict[str, Any]:
    """The librdkafka config ``producer.kafka.restore`` builds, without a broker."""
    captured: dict[str, Any] = {}

    def fake_consumer(config: dict[str, Any]) -> None:
        captured.update(config)
        raise _Captured

    with mock.patch.object(producer.kafka, "Consumer", fake_consumer):
        try:
            producer.kafka.restore(conf, topic, State())
        except _Captured:
            pass
    if not captured:
        raise RuntimeError("could not read restore()'s consumer config")
    return captured


def delete_topics(topics: list[str] | None = None, *, prefix: str | None = None,
                  timeout: float = 60.0) -> int:
    """Delete ``topics`` and/or every topic starting with ``prefix``; returns how many."""
    admin = AdminClient({"bootstrap.servers": BOOTSTRAP, "log_level": 4})
    doomed = set(topics or ())
    if prefix:
        doomed |= {t for t in admin.list_topics(timeout=30).topics if t.startswith(prefix)}
    if not doomed:
        return 0
    for future in admin.delete_topics(sorted(doomed), operation_timeout=timeout).values():
        try:
            future.result()
        except Exception:  # noqa: BLE001 - cleanup is best effort
            pass
    return len(doomed)


def keep_topics() -> bool:
    return os.environ.get("BENCH_KEEP_TOPICS", "") not in ("", "0")


def stats(samples: list[float]) -> dict[str, Any]:
    """Best, median and worst of repeated timings, and their spread."""
    best, worst = min(samples), max(samples)
    return {"best": best, "median": statistics.median(samples), "worst": worst,
            "spread_pct": 100.0 * (worst - best) / best if best > 0 else 0.0,
            "n": len(samples), "samples": samples}


def rss_bytes() -> int:
    """Resident set size of this process."""
    with open("/proc/self/statm") as statm:
        resident_pages = int(statm.read().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE")
