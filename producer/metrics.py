"""Prometheus metrics of the producer.

Every metric the service exports is declared here, in one registry, so the
Grafana dashboard, the alert rules and the README can be checked against a
single list. Names follow Prometheus conventions: base units, ``_total`` for
counters, low-cardinality labels only.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

POLL_OUTCOMES = ("success", "api_error", "bad_response", "publish_error", "deadline")

POLLS = Counter(
    "lab_results_polls",
    "Poll cycles by outcome (success, api_error, bad_response, publish_error, deadline).",
    ["outcome"],
    registry=REGISTRY,
)
POLL_DURATION = Histogram(
    "lab_results_poll_duration_seconds",
    "Duration of a whole poll cycle: fetch, diff, encode, transaction.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
    registry=REGISTRY,
)
API_REQUEST_DURATION = Histogram(
    "lab_results_api_request_duration_seconds",
    "Duration of one Skillable API request, by command and HTTP status "
    "(or 'error' when no response arrived).",
    ["command", "status"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
    registry=REGISTRY,
)
API_RETRIES = Counter(
    "lab_results_api_retries",
    "Retried Skillable API requests, by reason (status code, timeout, connect).",
    ["reason"],
    registry=REGISTRY,
)
RESULTS_FETCHED = Counter(
    "lab_results_results_fetched",
    "Lab instance results received from the API.",
    registry=REGISTRY,
)
LAST_POLL_RESULTS = Gauge(
    "lab_results_last_poll_results",
    "Results in the answer of the last successful poll.",
    registry=REGISTRY,
)
CHANGES = Counter(
    "lab_results_changes",
    "Change events published, by op (c create, u update).",
    ["op"],
    registry=REGISTRY,
)
STATE_INSTANCES = Gauge(
    "lab_results_state_instances",
    "Lab instances held in the state (the state topic's live keys).",
    registry=REGISTRY,
)
RESTORE_DURATION = Gauge(
    "lab_results_restore_duration_seconds",
    "Duration of the last state restore from the state topic.",
    registry=REGISTRY,
)
RESTORE_FAILURES = Counter(
    "lab_results_restore_failures",
    "State restores that failed.",
    registry=REGISTRY,
)
LAST_SUCCESS = Gauge(
    "lab_results_last_success_timestamp_seconds",
    "Unix time at which the last successful poll started.",
    registry=REGISTRY,
)
WINDOW_MINUTES = Gauge(
    "lab_results_window_minutes",
    "The minutes parameter of the last LatestResults request.",
    registry=REGISTRY,
)
WINDOW_GAPS = Counter(
    "lab_results_window_gaps",
    "Polls whose time since the last successful poll exceeded the 7-day "
    "LatestResults window: changes may have been missed.",
    registry=REGISTRY,
)
STATE_EXPIRED = Counter(
    "lab_results_state_expired",
    "Lab instances removed from the state topic (tombstoned) because their last "
    "change is older than STATE_RETENTION_DAYS.",
    registry=REGISTRY,
)
BACKFILL_REQUESTS = Counter(
    "lab_results_backfill_requests",
    "Results requests made to backfill a gap LatestResults could not cover.",
    registry=REGISTRY,
)
TRANSACTIONS = Counter(
    "lab_results_transactions",
    "Kafka transactions by outcome (committed, aborted).",
    ["outcome"],
    registry=REGISTRY,
)
READY = Gauge(
    "lab_results_ready",
    "1 when the state is restored and the producer can publish, else 0.",
    registry=REGISTRY,
)
UP = Gauge(
    "lab_results_build_info",
    "Always 1; the version label names the running producer.",
    ["version"],
    registry=REGISTRY,
)


def _declare_label_values() -> None:
    """Export every known label value from the start, at zero.

    A counter that appears only after its first increment makes ``rate()``
    blind to that increment and leaves dashboard panels empty.
    """
    for outcome in POLL_OUTCOMES:
        POLLS.labels(outcome)
    for op in ("c", "u"):
        CHANGES.labels(op)
    for outcome in ("committed", "aborted"):
        TRANSACTIONS.labels(outcome)


_declare_label_values()
