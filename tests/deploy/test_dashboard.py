"""The Grafana dashboard shipped in the chart: structure, content, and real metrics."""

from __future__ import annotations

import re

import pytest

from tests.deploy.support import (
    check_exported,
    dashboard_exprs,
    grouping_labels,
    load_dashboard,
    metric_names,
    selector_labels,
)

GRID_WIDTH = 24
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


@pytest.fixture(scope="module")
def dashboard() -> dict:
    return load_dashboard()


def panel_exprs(dashboard: dict) -> list[tuple[str, str]]:
    return [
        (title, expr)
        for title, expr in dashboard_exprs(dashboard)
        if not title.startswith("variable ")
    ]


def test_identity_and_variables(dashboard: dict) -> None:
    assert dashboard["uid"] == "lab-results-producer"
    assert dashboard["title"]
    assert dashboard["schemaVersion"] >= 36
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for name in ("namespace", "job"):
        assert variables[name]["type"] == "query"
        assert variables[name]["includeAll"] is True
        assert variables[name]["datasource"]["uid"] == "${datasource}"


def test_panels_are_well_formed(dashboard: dict) -> None:
    panels = dashboard["panels"]
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    occupied: dict[tuple[int, int], str] = {}
    for panel in panels:
        title = panel["title"]
        assert title
        assert panel["type"] in ("timeseries", "stat", "gauge", "table"), title
        assert panel["datasource"] == DATASOURCE, title
        grid = panel["gridPos"]
        assert min(grid["w"], grid["h"]) > 0, title
        assert min(grid["x"], grid["y"]) >= 0, title
        assert grid["x"] + grid["w"] <= GRID_WIDTH, f"{title} sticks out of the grid"
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in occupied, f"{title} overlaps {occupied[(x, y)]}"
                occupied[(x, y)] = title
        targets = panel["targets"]
        assert targets, f"{title} has no query"
        ref_ids = [t["refId"] for t in targets]
        assert len(ref_ids) == len(set(ref_ids)), title
        for target in targets:
            assert target["expr"].strip(), title
            assert target["datasource"]["uid"] == "${datasource}", title
            assert target["expr"].count("(") == target["expr"].count(")"), title


def test_every_query_follows_the_namespace_and_job_variables(dashboard: dict) -> None:
    for title, expr in panel_exprs(dashboard):
        selectors = selector_labels(expr)
        bare = metric_names(expr) - set(selectors)
        assert not bare, f"{title}: {sorted(bare)} without label matchers"
        for name, labels in selectors.items():
            assert {"namespace", "job"} <= labels, (
                f"{title}: {name} ignores the variables"
            )
        assert re.search(r'namespace=~"\$namespace"', expr), title
        assert re.search(r'job=~"\$job"', expr), title


def _panels_reading(dashboard: dict, metric: str) -> list[tuple[str, str]]:
    return [(t, e) for t, e in panel_exprs(dashboard) if metric in metric_names(e)]


def test_dashboard_shows_what_operators_need(dashboard: dict) -> None:
    def grouped(metric: str, label: str) -> bool:
        return any(
            label in grouping_labels(e) for _, e in _panels_reading(dashboard, metric)
        )

    # Polls by outcome, and the failures alone.
    assert grouped("lab_results_polls_total", "outcome")
    assert any(
        'outcome!="success"' in e
        for _, e in _panels_reading(dashboard, "lab_results_polls_total")
    )
    assert grouped("lab_results_changes_total", "op")
    assert _panels_reading(dashboard, "lab_results_last_poll_results")
    assert _panels_reading(dashboard, "lab_results_results_fetched_total")
    # API latency by status: quantiles over the histogram, grouped by status.
    latency = _panels_reading(
        dashboard, "lab_results_api_request_duration_seconds_bucket"
    )
    assert any(
        "histogram_quantile" in e and "status" in grouping_labels(e) for _, e in latency
    )
    # Age of the last successful poll.
    assert any(
        re.search(r"time\(\)\s*-", e)
        for _, e in _panels_reading(
            dashboard, "lab_results_last_success_timestamp_seconds"
        )
    )
    assert _panels_reading(dashboard, "lab_results_state_instances")
    assert _panels_reading(dashboard, "lab_results_restore_duration_seconds")
    assert grouped("lab_results_transactions_total", "outcome")


@pytest.mark.kafka
def test_dashboard_metrics_are_exported_by_the_producer(
    dashboard: dict, exported
) -> None:
    assert check_exported(dashboard_exprs(dashboard), exported) == []


@pytest.mark.kafka
def test_every_exported_metric_is_on_the_dashboard(dashboard: dict, exported) -> None:
    used = set()
    for _, expr in dashboard_exprs(dashboard):
        used |= metric_names(expr)
    # prometheus_client's *_created series (creation times of counters and
    # histograms) read as families of their own in the text format.
    families = {
        name
        for name in exported.types
        if name.startswith("lab_results_") and not name.endswith("_created")
    }
    assert len(families) >= 15

    def shown(family: str) -> bool:
        return bool(
            used
            & {
                family + suffix
                for suffix in ("", "_total", "_bucket", "_count", "_sum")
            }
        )

    assert sorted(f for f in families if not shown(f)) == []
