"""End to end: a real Prometheus server scrapes the producer while it polls the
simulator, evaluates the chart's alert rules, and answers the dashboard's queries."""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.deploy.support import (
    NAMESPACE,
    RELEASE,
    dashboard_exprs,
    free_port,
    http_get,
    load_dashboard,
    wait_until,
    write_rules,
)

pytestmark = pytest.mark.kafka

SCRAPE_INTERVAL = 1  # seconds
RATE_WINDOW = "5s"  # stands for Grafana's $__rate_interval


class Prometheus:
    def __init__(self, url: str, log: Path) -> None:
        self.url = url
        self.log = log

    def query(self, expr: str) -> list[dict]:
        status, body = http_get(
            f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        )
        answer = json.loads(body)
        assert status == 200, f"{expr}: {body}"
        assert answer["status"] == "success", f"{expr}: {body}"
        return answer["data"]["result"]

    def value(self, expr: str) -> float:
        result = self.query(expr)
        assert len(result) == 1, f"{expr}: {result}"
        return float(result[0]["value"][1])

    def api(self, path: str) -> dict:
        status, body = http_get(f"{self.url}/api/v1/{path}")
        assert status == 200, body
        return json.loads(body)["data"]


@pytest.fixture(scope="module")
def prometheus(
    prometheus_bin: str, running_producer, helm: str, tmp_path_factory
) -> Iterator[Prometheus]:
    """Prometheus on loopback, temp config and storage, scraping the producer every
    second as job lab-results-producer in namespace data: what the rules select."""
    directory = tmp_path_factory.mktemp("prometheus")
    rules = write_rules(helm, directory)
    config = directory / "prometheus.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "global": {
                    "scrape_interval": f"{SCRAPE_INTERVAL}s",
                    "scrape_timeout": "1s",
                    "evaluation_interval": "1s",
                },
                "rule_files": [str(rules)],
                "scrape_configs": [
                    {
                        "job_name": RELEASE,
                        "static_configs": [
                            {
                                "targets": [
                                    f"127.0.0.1:{running_producer.metrics_port}"
                                ],
                                "labels": {
                                    "namespace": NAMESPACE,
                                    "pod": f"{RELEASE}-0",
                                },
                            }
                        ],
                    }
                ],
            }
        )
    )
    port = free_port()
    log = directory / "prometheus.log"
    process = subprocess.Popen(
        [
            prometheus_bin,
            f"--config.file={config}",
            f"--storage.tsdb.path={directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=1h",
            "--log.level=warn",
        ],
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: http_get(f"{url}/-/ready")[0] == 200,
            30,
            "Prometheus ready",
            process=process,
            log=log,
        )
        yield Prometheus(url, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.fixture(scope="module")
def scraped(prometheus: Prometheus) -> Prometheus:
    """Prometheus once it holds several scrapes of successful polls."""

    def enough() -> bool:
        result = prometheus.query(
            f'count_over_time(lab_results_polls_total{{job="{RELEASE}",outcome="success"}}[30s])'
        )
        return bool(result) and float(result[0]["value"][1]) >= 6

    wait_until(
        enough,
        40,
        "six scrapes of lab_results_polls_total",
        interval=0.5,
        log=prometheus.log,
    )
    return prometheus


def test_poll_counters_reach_prometheus(scraped: Prometheus) -> None:
    selector = f'job="{RELEASE}",namespace="{NAMESPACE}"'
    assert scraped.value(f"up{{{selector}}}") == 1
    assert scraped.value(f'lab_results_polls_total{{{selector},outcome="success"}}') > 0
    assert (
        scraped.value(
            f'increase(lab_results_polls_total{{{selector},outcome="success"}}[5s])'
        )
        > 0
    )
    assert scraped.value(f"lab_results_ready{{{selector}}}") == 1
    assert (
        scraped.value(
            f"time() - lab_results_last_success_timestamp_seconds{{{selector}}}"
        )
        < 30
    )
    assert scraped.value(f"lab_results_state_instances{{{selector}}}") > 0
    assert (
        scraped.value(
            f'lab_results_transactions_total{{{selector},outcome="committed"}}'
        )
        > 0
    )
    assert scraped.value(f"sum(lab_results_changes_total{{{selector}}})") > 0
    # The simulator answered the first request with 429 and the producer retried.
    assert (
        scraped.value(f'lab_results_api_retries_total{{{selector},reason="429"}}') >= 1
    )
    assert (
        scraped.value(
            f'lab_results_api_request_duration_seconds_count{{{selector},status="429"}}'
        )
        >= 1
    )


def test_alert_rules_evaluate_cleanly_and_stay_quiet(scraped: Prometheus) -> None:
    def evaluated() -> list[dict]:
        rules = [r for g in scraped.api("rules")["groups"] for r in g["rules"]]
        done = all(
            r.get("lastEvaluation", "").startswith("20")
            and not r["lastEvaluation"].startswith("0001")
            for r in rules
        )
        return rules if rules and done else []

    rules = wait_until(evaluated, 20, "every rule evaluated", log=scraped.log)
    assert len(rules) >= 6
    unhealthy = {r["name"]: r.get("lastError") for r in rules if r["health"] != "ok"}
    assert unhealthy == {}
    firing = [
        a["labels"]["alertname"]
        for a in scraped.api("alerts")["alerts"]
        if a["state"] == "firing"
    ]
    assert firing == [], "a healthy producer must not fire alerts"


def test_every_dashboard_query_answers_with_data(scraped: Prometheus) -> None:
    empty = []
    for title, expr in dashboard_exprs(load_dashboard()):
        query = (
            expr.replace("$__rate_interval", RATE_WINDOW)
            .replace("$namespace", ".*")
            .replace("$job", ".*")
        )
        assert not re.search(r"\$\w", query), f"{title}: unresolved variable in {query}"
        if not scraped.query(query):
            empty.append(title)
    assert empty == []


def test_scrape_is_recent(scraped: Prometheus) -> None:
    targets = scraped.api("targets")["activeTargets"]
    [target] = [t for t in targets if t["labels"]["job"] == RELEASE]
    assert target["health"] == "up", target.get("lastError")
    assert time.time() - _epoch(target["lastScrape"]) < 10


def _epoch(timestamp: str) -> float:
    from datetime import datetime

    trimmed = re.sub(r"(\.\d{6})\d*", r"\1", timestamp).replace("Z", "+00:00")
    return datetime.fromisoformat(trimmed).timestamp()
