"""The producer: restore the state, then poll, diff and publish, one transaction a poll.

This module wires the pure parts (window planner, differ, event builder) to
the shells (API client, Kafka). A poll either commits all of its events and
state records or changes nothing: the in-memory state and the window only
advance after the commit.
"""

from __future__ import annotations

import dataclasses
import random
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import structlog

from producer import __version__, metrics, window
from producer.api import SkillableClient
from producer.codec import registry_client
from producer.config import Settings
from producer.deadline import Deadline
from producer.diff import CREATE, Change, Differ
from producer.encoding import ChangeEncoder
from producer.errors import ConfigError, PollError, PublishError, StateError
from producer.events import PollContext
from producer.health import Health
from producer.kafka import TopicSpec, TransactionalPublisher, ensure_topics, restore
from producer.state import CHECKPOINT_KEY, State

log = structlog.get_logger(__name__)

MIN_COMMIT_SECONDS = 10.0
CHECKPOINT_SECONDS = 600.0
"""Longest time between two checkpoints while polls find nothing to publish."""


@dataclasses.dataclass(frozen=True)
class PollReport:
    """What one successful poll did."""

    window_minutes: int
    results: int
    creates: int
    updates: int
    duration_s: float
    expired: int = 0
    backfill_requests: int = 0

    @property
    def changes(self) -> int:
        return self.creates + self.updates


@dataclasses.dataclass
class Batch:
    """What one poll's transaction writes, and what the state becomes after it."""

    messages: list[tuple[str, bytes, bytes | None]] = dataclasses.field(default_factory=list)
    updates_by_id: dict[int, bytes | None] = dataclasses.field(default_factory=dict)
    creates: int = 0
    updates: int = 0
    expired: int = 0
    checkpoint_ms: int | None = None


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
        self._encoder = ChangeEncoder(settings.events_topic, self._registry())
        self._stop = threading.Event()
        self._deadline: Deadline | None = None
        self._last_sweep: float | None = None
        self._needs_recovery = False
        self._sweep_due_at: float | None = None

    def _registry(self) -> Any | None:
        url = self.settings.schema_registry_url
        if url is None:
            return None
        auth = self.settings.schema_registry_basic_auth_user_info
        return registry_client(url, auth.get_secret_value() if auth else None)

    # -- start-up ---------------------------------------------------------

    def start(self) -> None:
        """Check the topics, take over the transactional id, restore the state."""
        s = self.settings
        ensure_topics(s.librdkafka(), self._topic_specs(), create=s.create_topics,
                      replication_factor=s.topic_replication_factor)
        self.publisher, self.state = self._take_over(timeout=s.poll_deadline_seconds)
        # The first retention sweep comes at a random point of the first
        # interval, not with the first poll, which a restart makes slow enough.
        interval = s.state_sweep_interval_seconds
        self._last_sweep = self.clock() - random.uniform(0, interval)
        self.health.beat()
        self.health.set_ready(True)

    def _take_over(self, timeout: float) -> tuple[TransactionalPublisher, State]:
        """A new transactional producer, and the state as committed.

        Taking over the transactional id first aborts whatever an earlier
        producer (or an earlier instance in this process) left open, so the
        restore that follows sees exactly what was committed.
        """
        s = self.settings
        conf = s.librdkafka()
        publisher = TransactionalPublisher(conf, s.transactional_id, s.transaction_timeout_ms)
        try:
            publisher.init(timeout=max(1.0, timeout))
            return publisher, self._restore(conf)
        except BaseException:
            publisher.discard()
            raise

    def _topic_specs(self) -> list[TopicSpec]:
        s = self.settings
        return [
            TopicSpec(s.events_topic, s.events_topic_partitions,
                      {"cleanup.policy": "delete",
                       "retention.ms": str(s.events_topic_retention_ms)}),
            TopicSpec(s.state_topic, s.state_topic_partitions,
                      {"cleanup.policy": "compact", "min.compaction.lag.ms": "0"}),
        ]

    def _restore(self, conf: dict[str, str]) -> State:
        started = time.monotonic()
        state = State()
        try:
            records = restore(conf, self.settings.state_topic, state)
        except StateError:
            metrics.RESTORE_FAILURES.inc()
            raise
        elapsed = time.monotonic() - started
        metrics.RESTORE_DURATION.set(elapsed)
        metrics.STATE_INSTANCES.set(len(state))
        log.info("state_restored", topic=self.settings.state_topic, records=records,
                 instances=len(state), duration_s=round(elapsed, 3))
        return state

    def _recover(self, deadline: Deadline) -> None:
        """After a failed transaction: a new producer and the state as committed."""
        log.warning("recovering", reason="the last transaction may not have committed")
        if self.publisher is not None:
            self.publisher.discard()
            self.publisher = None
        try:
            self.publisher, self.state = self._take_over(timeout=deadline.remaining())
        except (PublishError, StateError) as exc:
            raise PublishError(f"cannot recover from a failed transaction yet: {exc}") from None
        checkpoint = self.state.last_poll_started_ms
        if checkpoint is not None:
            self.last_success_start = max(self.last_success_start or 0.0, checkpoint / 1000)
        self._needs_recovery = False
        log.info("recovered", state_instances=len(self.state))

    # -- one poll ---------------------------------------------------------

    def poll(self) -> PollReport:
        """Fetch, diff, publish and commit one window. Raises ``PollError``."""
        started = self.clock()
        started_mono = time.monotonic()
        deadline = self._deadline = Deadline(self.settings.poll_deadline_seconds)
        if self._stop.is_set():
            deadline.shorten(self.settings.shutdown_grace_seconds)
        if self._needs_recovery:
            self._recover(deadline)
        plan = window.plan(started, self._last_success(), self.settings.window_overlap_seconds,
                           first=self.last_success_start is None,
                           backfill=self.settings.backfill)
        self._note_gap(plan)
        answers = self._fetch(plan, deadline)
        batch = self._batch(answers, started)
        self._commit(batch, deadline)
        self.last_success_start = started
        report = PollReport(plan.minutes, sum(len(r) for _, r in answers), batch.creates,
                            batch.updates, time.monotonic() - started_mono, batch.expired,
                            len(plan.backfill))
        self._record_success(report, started)
        return report

    def _last_success(self) -> float | None:
        if self.last_success_start is not None:
            return self.last_success_start
        checkpoint = self.state.last_poll_started_ms
        return None if checkpoint is None else checkpoint / 1000

    def _note_gap(self, plan: window.Window) -> None:
        if plan.gap_seconds is None:
            return
        metrics.WINDOW_GAPS.inc()
        log.warning("window_gap", gap_s=round(plan.gap_seconds),
                    max_window_minutes=window.MAX_MINUTES,
                    backfill_requests=len(plan.backfill),
                    consequence="changes LatestResults cannot reach are read with Results"
                    if plan.backfill else "changes older than 7 days may have been missed")

    def _fetch(self, plan: window.Window, deadline: Deadline
               ) -> list[tuple[PollContext, list[Any]]]:
        """Every answer of this poll: backfill ranges first, then LatestResults."""
        poll_id = str(uuid.uuid4())
        host = self.settings.api_host
        answers = []
        for span in plan.backfill:
            results = self.client.results(span.start, span.end, deadline)
            metrics.BACKFILL_REQUESTS.inc()
            context = PollContext(poll_id, host, "Results", span.start * 1000,
                                  span.end * 1000, None, 0)
            answers.append((context, results))
        metrics.WINDOW_MINUTES.set(plan.minutes)
        results = self.client.latest_results(plan.minutes, deadline)
        context = PollContext(poll_id, host, "LatestResults", int(plan.start * 1000),
                              int(plan.end * 1000), plan.minutes, 0)
        answers.append((context, results))
        metrics.RESULTS_FETCHED.inc(sum(len(r) for _, r in answers))
        return answers

    def _batch(self, answers: list[tuple[PollContext, list[Any]]], started: float) -> Batch:
        """Diff every answer and encode what the transaction will hold."""
        detected_ms = int(self.clock() * 1000)
        batch = Batch()
        pending: dict[int, Change] = {}
        for context, results in answers:
            context = dataclasses.replace(context, detected_ms=detected_ms)
            changes = self.differ.diff(results, self.state, pending)
            self._add_changes(batch, changes, context)
        self._add_expired(batch, started, pending)
        self._add_checkpoint(batch, started)
        return batch

    def _add_checkpoint(self, batch: Batch, started: float) -> None:
        """Record this poll's start, with any change, or at least every few minutes.

        A poll with nothing to publish then needs no transaction at all. A
        checkpoint up to CHECKPOINT_SECONDS old only makes a backfill after a
        long outage start that much earlier, which diffing makes harmless.
        """
        last = self.state.last_poll_started_ms
        due = last is None or started - last / 1000 >= CHECKPOINT_SECONDS
        if not batch.messages and not due:
            return
        started_ms = int(started * 1000)
        checkpoint = self.state.checkpoint_codec.encode(
            {"poll_started_ms": started_ms, "producer_version": __version__})
        batch.messages.append((self.settings.state_topic,
                               self.state.key_codec.encode(CHECKPOINT_KEY), checkpoint))
        batch.checkpoint_ms = started_ms

    def _add_changes(self, batch: Batch, changes: list[Change], context: PollContext) -> None:
        events_topic = self.settings.events_topic
        state_topic = self.settings.state_topic
        source = self._encoder.source(context)
        for change in changes:
            event, state = self._encoder.encode(change, context, source)
            batch.messages.append((events_topic, *event))
            batch.messages.append((state_topic, *state))
            batch.updates_by_id[change.lab_instance_id] = state[1]
            if change.op == CREATE:
                batch.creates += 1
            else:
                batch.updates += 1

    def _add_expired(self, batch: Batch, started: float, pending: dict[int, Change]) -> None:
        """Tombstones for instances unchanged for longer than the retention."""
        interval = self.settings.state_sweep_interval_seconds
        if self._last_sweep is not None and started - self._last_sweep < interval:
            return
        self._sweep_due_at = started
        horizon_ms = int((started - self.settings.state_retention_days * 86_400) * 1000)
        state_topic = self.settings.state_topic
        for lab_instance_id in self.state.expired(horizon_ms):
            if lab_instance_id in pending:
                continue
            batch.messages.append((state_topic, self.state.key_codec.encode(lab_instance_id),
                                   None))
            batch.updates_by_id[lab_instance_id] = None
            batch.expired += 1

    def _commit(self, batch: Batch, deadline: Deadline) -> None:
        assert self.publisher is not None, "start() must run before poll()"
        if not batch.messages:
            return
        timeout = max(deadline.remaining(), MIN_COMMIT_SECONDS)
        try:
            self.publisher.publish(batch.messages, timeout)
        except PollError:
            metrics.TRANSACTIONS.labels("aborted").inc()
            self.health.set_ready(False, "the last transaction failed")
            self._needs_recovery = True
            raise
        metrics.TRANSACTIONS.labels("committed").inc()
        self.state.apply(batch.updates_by_id)
        if batch.checkpoint_ms is not None:
            self.state.last_poll_started_ms = batch.checkpoint_ms
        if self._sweep_due_at is not None:
            self._last_sweep, self._sweep_due_at = self._sweep_due_at, None

    def _record_success(self, report: PollReport, started: float) -> None:
        metrics.POLLS.labels("success").inc()
        metrics.POLL_DURATION.observe(report.duration_s)
        metrics.LAST_POLL_RESULTS.set(report.results)
        metrics.LAST_SUCCESS.set(started)
        metrics.CHANGES.labels("c").inc(report.creates)
        metrics.CHANGES.labels("u").inc(report.updates)
        metrics.STATE_EXPIRED.inc(report.expired)
        metrics.STATE_INSTANCES.set(len(self.state))
        self.health.set_ready(True)
        self.health.beat()
        log.info("poll", outcome="success", window_minutes=report.window_minutes,
                 results=report.results, changes=report.changes, creates=report.creates,
                 updates=report.updates, expired=report.expired,
                 backfill_requests=report.backfill_requests,
                 duration_s=round(report.duration_s, 3), state_instances=len(self.state))

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
