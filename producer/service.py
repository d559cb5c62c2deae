"""The producer: restore the state, then poll, diff and publish, one transaction a poll.

This module wires the pure parts (window planner, differ, event builder) to
the shells (API client, Kafka). A poll either commits all of its events and
state records or changes nothing: the in-memory state and the window only
advance after the commit.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog

from producer import metrics, schemas, window
from producer.api import SkillableClient
from producer.codec import Encoder, RegistryCodec, SingleObjectCodec, registry_client
from producer.config import Settings
from producer.deadline import Deadline
from producer.diff import CREATE, Change, Differ
from producer.errors import ConfigError, PollError, StateError
from producer.events import PollContext, change_event, state_record
from producer.health import Health
from producer.kafka import TopicSpec, TransactionalPublisher, ensure_topics, restore
from producer.state import State

log = structlog.get_logger(__name__)

MIN_COMMIT_SECONDS = 10.0


@dataclass(frozen=True)
class PollReport:
    """What one successful poll did."""

    window_minutes: int
    results: int
    creates: int
    updates: int
    duration_s: float

    @property
    def changes(self) -> int:
        return self.creates + self.updates


class LabResultsProducer:
    """Polls LatestResults and publishes change events, one transaction a poll."""

    def __init__(
        self,
        settings: Settings,
        *,
        client: SkillableClient | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        try:
            self.differ = Differ(settings.exclude_fields)
        except ValueError as exc:
            raise ConfigError(f"EXCLUDE_FIELDS: {exc}") from None
        self.client = client or SkillableClient(
            settings.skillable_api_url,
            settings.skillable_api_key.get_secret_value(),
            connect_timeout=settings.api_connect_timeout_seconds,
            read_timeout=settings.api_read_timeout_seconds,
            max_retries=settings.api_max_retries,
            retry_max_seconds=settings.api_retry_max_seconds,
        )
        self.clock = clock
        self.state = State()
        self.health = Health(stall_seconds=2 * settings.poll_deadline_seconds
                             + settings.poll_interval_seconds)
        self.last_success_start: float | None = None
        self.publisher: TransactionalPublisher | None = None
        self._key_encoder, self._event_encoder = self._event_encoders()
        self._stop = threading.Event()
        self._deadline: Deadline | None = None

    def _event_encoders(self) -> tuple[Encoder, Encoder]:
        url = self.settings.schema_registry_url
        if url is None:
            return SingleObjectCodec(schemas.KEY), SingleObjectCodec(schemas.EVENT)
        auth = self.settings.schema_registry_basic_auth_user_info
        client = registry_client(url, auth.get_secret_value() if auth else None)
        return (RegistryCodec(schemas.KEY, client, is_key=True),
                RegistryCodec(schemas.EVENT, client, is_key=False))

    # -- start-up ---------------------------------------------------------

    def start(self) -> None:
        """Check the topics, take over the transactional id, restore the state."""
        s = self.settings
        conf = s.librdkafka()
        ensure_topics(conf, self._topic_specs(), create=s.create_topics,
                      replication_factor=s.topic_replication_factor)
        self.publisher = TransactionalPublisher(conf, s.transactional_id,
                                                s.transaction_timeout_ms)
        # Taking over the transactional id first aborts whatever an earlier
        # incarnation left open, so the restore below sees only committed data.
        self.publisher.init()
        self._restore(conf)

    def _topic_specs(self) -> list[TopicSpec]:
        s = self.settings
        return [
            TopicSpec(s.events_topic, s.events_topic_partitions,
                      {"cleanup.policy": "delete",
                       "retention.ms": str(s.events_topic_retention_ms)}),
            TopicSpec(s.state_topic, s.state_topic_partitions,
                      {"cleanup.policy": "compact", "min.compaction.lag.ms": "0"}),
        ]

    def _restore(self, conf: dict[str, str]) -> None:
        started = time.monotonic()
        try:
            records = restore(conf, self.settings.state_topic, self.state)
        except StateError:
            metrics.RESTORE_FAILURES.inc()
            raise
        elapsed = time.monotonic() - started
        metrics.RESTORE_DURATION.set(elapsed)
        metrics.STATE_INSTANCES.set(len(self.state))
        self.health.beat()
        self.health.set_ready(True)
        log.info("state_restored", topic=self.settings.state_topic, records=records,
                 instances=len(self.state), duration_s=round(elapsed, 3))

    # -- one poll ---------------------------------------------------------

    def poll(self) -> PollReport:
        """Fetch, diff, publish and commit one window. Raises ``PollError``."""
        started = self.clock()
        started_mono = time.monotonic()
        deadline = self._deadline = Deadline(self.settings.poll_deadline_seconds)
        if self._stop.is_set():
            deadline.shorten(self.settings.shutdown_grace_seconds)
        plan = window.plan(started, self.last_success_start,
                           self.settings.window_overlap_seconds)
        self._note_gap(plan)
        metrics.WINDOW_MINUTES.set(plan.minutes)
        results = self.client.latest_results(plan.minutes, deadline)
        metrics.RESULTS_FETCHED.inc(len(results))
        changes = self.differ.diff(results, self.state)
        context = PollContext(
            poll_id=str(uuid.uuid4()),
            api_host=self.settings.api_host,
            command="LatestResults",
            window_start_ms=int(plan.start * 1000),
            window_end_ms=int(plan.end * 1000),
            window_minutes=plan.minutes,
            detected_ms=int(self.clock() * 1000),
        )
        self._commit(changes, context, deadline)
        self.last_success_start = started
        creates = sum(1 for c in changes if c.op == CREATE)
        report = PollReport(plan.minutes, len(results), creates, len(changes) - creates,
                            time.monotonic() - started_mono)
        self._record_success(report, started)
        return report

    def _note_gap(self, plan: window.Window) -> None:
        if plan.gap_seconds is None:
            return
        metrics.WINDOW_GAPS.inc()
        log.warning("window_gap", gap_s=round(plan.gap_seconds),
                    max_window_minutes=window.MAX_MINUTES,
                    consequence="changes older than 7 days may have been missed")

    def _commit(self, changes: list[Change], context: PollContext,
                deadline: Deadline) -> None:
        messages, updates = self._encode(changes, context)
        assert self.publisher is not None, "start() must run before poll()"
        timeout = max(deadline.remaining(), MIN_COMMIT_SECONDS)
        try:
            self.publisher.publish(messages, timeout)
        except PollError:
            metrics.TRANSACTIONS.labels("aborted").inc()
            self.health.set_ready(False, "the last transaction failed")
            raise
        metrics.TRANSACTIONS.labels("committed").inc()
        self.state.apply(updates)

    def _encode(self, changes: list[Change], context: PollContext
                ) -> tuple[list[tuple[str, bytes, bytes | None]], dict[int, bytes | None]]:
        events_topic = self.settings.events_topic
        state_topic = self.settings.state_topic
        source = context.source()
        state_key = self.state.key_codec.encode
        state_value = self.state.codec.encode
        messages: list[tuple[str, bytes, bytes | None]] = []
        updates: dict[int, bytes | None] = {}
        for change in changes:
            key = change.lab_instance_id
            event = change_event(change, context, source)
            messages.append((events_topic, self._key_encoder(key, events_topic),
                             self._event_encoder(event, events_topic)))
            record = state_value(state_record(change, context))
            messages.append((state_topic, state_key(key), record))
            updates[key] = record
        return messages, updates

    def _record_success(self, report: PollReport, started: float) -> None:
        metrics.POLLS.labels("success").inc()
        metrics.POLL_DURATION.observe(report.duration_s)
        metrics.LAST_POLL_RESULTS.set(report.results)
        metrics.LAST_SUCCESS.set(started)
        metrics.CHANGES.labels("c").inc(report.creates)
        metrics.CHANGES.labels("u").inc(report.updates)
        metrics.STATE_INSTANCES.set(len(self.state))
        self.health.set_ready(True)
        self.health.beat()
        log.info("poll", outcome="success", window_minutes=report.window_minutes,
                 results=report.results, changes=report.changes, creates=report.creates,
                 updates=report.updates, duration_s=round(report.duration_s, 3),
                 state_instances=len(self.state))

    def poll_safely(self) -> PollReport | None:
        """One poll; a failure is logged and counted, and the next poll runs."""
        started = time.monotonic()
        try:
            return self.poll()
        except PollError as exc:
            duration = time.monotonic() - started
            metrics.POLLS.labels(exc.outcome).inc()
            metrics.POLL_DURATION.observe(duration)
            self.health.beat()
            log.error("poll", outcome=exc.outcome, error=str(exc),
                      duration_s=round(duration, 3))
            return None
        finally:
            self._deadline = None

    # -- the loop ---------------------------------------------------------

    def run(self) -> None:
        """Poll every ``POLL_INTERVAL_SECONDS`` until ``stop()``."""
        interval = self.settings.poll_interval_seconds
        while not self._stop.is_set():
            started = time.monotonic()
            self.poll_safely()
            self._stop.wait(max(0.0, interval - (time.monotonic() - started)))

    def stop(self) -> None:
        """Ask the loop to end; a poll in flight gets the shutdown grace to finish."""
        self._stop.set()
        deadline = self._deadline
        if deadline is not None:
            deadline.shorten(self.settings.shutdown_grace_seconds)

    def close(self) -> None:
        self.health.set_ready(False, "stopping")
        if self.publisher is not None:
            self.publisher.close()
        self.client.close()


def describe(settings: Settings) -> dict[str, Any]:
    """The settings worth one start-up log line, with no secret in them."""
    return {
        "api_host": settings.api_host,
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "events_topic": settings.events_topic,
        "state_topic": settings.state_topic,
        "transactional_id": settings.transactional_id,
        "schema_registry": settings.schema_registry_url is not None,
        "poll_interval_s": settings.poll_interval_seconds,
        "exclude_fields": settings.exclude_fields,
    }
