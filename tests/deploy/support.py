"""Helpers of the deploy tests: paths, PromQL and exposition parsing, processes."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "lab-results-producer"
DASHBOARD = CHART / "dashboards" / "lab-results-producer.json"
RULE_TESTS = ROOT / "deploy" / "prometheus"
# What the rules select by default, for the release the tests render.
RELEASE = "lab-results-producer"
NAMESPACE = "data"

# The least a render needs: the API key (else the chart refuses).
MINIMAL_VALUES = {"skillable": {"apiKey": "test-api-key"}}

# Labels Prometheus attaches to every scraped series (target labels), which
# the producer itself does not export.
TARGET_LABELS = frozenset(
    {"job", "instance", "namespace", "pod", "service", "container", "endpoint"}
)
# Series Prometheus makes itself, not the producer.
SYNTHETIC_METRICS = frozenset({"up", "ALERTS", "ALERTS_FOR_STATE"})

_KEYWORDS = frozenset(
    {
        "and",
        "or",
        "unless",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "offset",
        "bool",
        "inf",
        "nan",
        "atan2",
    }
)
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_GROUPING = re.compile(
    r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)"
)
_IDENT = re.compile(r"(?<![\w:.$])([a-zA-Z_:][\w:]*)")
_SELECTOR = re.compile(r"(?<![\w:.$])([a-zA-Z_:][\w:]*)\s*\{([^}]*)\}")
_MATCHER = re.compile(r"([a-zA-Z_]\w*)\s*(=~|!~|!=|=)")
_GRAFANA_VAR = re.compile(r"\$\{[^}]*\}|\$\w+")


def _without_strings(expr: str) -> str:
    return _STRING.sub('""', expr)


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (functions and keywords left out)."""
    text = _GRAFANA_VAR.sub("1m", _without_strings(expr))
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = _GROUPING.sub(" ", text)
    names = set()
    for match in _IDENT.finditer(text):
        name = match.group(1)
        rest = text[match.end() :].lstrip()
        if rest.startswith("(") or name.lower() in _KEYWORDS:
            continue
        names.add(name)
    return names


def selector_labels(expr: str) -> dict[str, set[str]]:
    """For each metric with label matchers, the label names it matches on."""
    text = _without_strings(expr)
    found: dict[str, set[str]] = {}
    for match in _SELECTOR.finditer(text):
        labels = {m.group(1) for m in _MATCHER.finditer(match.group(2))}
        found.setdefault(match.group(1), set()).update(labels)
    return found


def grouping_labels(expr: str) -> set[str]:
    """Label names used in by/without/on/ignoring/group_left/group_right clauses."""
    labels = set()
    for match in _GROUPING.finditer(_without_strings(expr)):
        labels.update(x.strip() for x in match.group(2).split(",") if x.strip())
    return labels


@dataclass
class Exposition:
    """What a /metrics page holds: sample names with their label names, and families."""

    samples: dict[str, set[str]] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> Exposition:
        from prometheus_client.parser import text_string_to_metric_families

        exposition = cls()
        for family in text_string_to_metric_families(text):
            exposition.types[family.name] = family.type
            for sample in family.samples:
                exposition.samples.setdefault(sample.name, set()).update(sample.labels)
        return exposition


def dashboard_exprs(dashboard: dict) -> list[tuple[str, str]]:
    """(panel title, expr) of every dashboard query, template variables included."""
    exprs = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            exprs.append((panel["title"], target["expr"]))
    for variable in dashboard.get("templating", {}).get("list", []):
        query = variable.get("query")
        if isinstance(query, dict):
            query = query.get("query")
        if variable.get("type") == "query" and query:
            exprs.append((f"variable {variable['name']}", _label_values_expr(query)))
    return exprs


def _label_values_expr(query: str) -> str:
    """The series selector inside Grafana's label_values(selector, label)."""
    match = re.fullmatch(r"\s*label_values\((.*),\s*\w+\s*\)\s*", query)
    assert match, f"unexpected variable query {query!r}"
    return match.group(1)


def load_dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def check_exported(exprs: list[tuple[str, str]], exposition: Exposition) -> list[str]:
    """Metrics and labels that ``exprs`` use but the producer does not export."""
    problems = []
    for where, expr in exprs:
        names = metric_names(expr) - SYNTHETIC_METRICS
        if not names:
            problems.append(f"{where}: no metric found in {expr!r}")
        exported_labels: set[str] = set()
        for name in sorted(names):
            if name not in exposition.samples:
                problems.append(f"{where}: {name} is not exported")
            else:
                exported_labels |= exposition.samples[name]
        for name, labels in selector_labels(expr).items():
            if name in exposition.samples:
                unknown = labels - exposition.samples[name] - TARGET_LABELS
                if unknown:
                    problems.append(
                        f"{where}: {name} has no label(s) {sorted(unknown)}"
                    )
        unknown = grouping_labels(expr) - exported_labels - TARGET_LABELS - {"le"}
        if unknown:
            problems.append(
                f"{where}: grouping by label(s) {sorted(unknown)} that "
                f"{sorted(names)} do not have"
            )
    return problems


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_get(url: str, timeout: float = 5) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def wait_until(
    condition,
    timeout: float,
    what: str,
    interval: float = 0.25,
    process: subprocess.Popen | None = None,
    log: Path | None = None,
):
    """Poll ``condition`` until it returns a truthy value; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(
                f"{what}: process exited with {process.returncode}\n" + tail(log)
            )
        try:
            value = condition()
            if value:
                return value
        except (OSError, ValueError, KeyError) as error:
            last_error = error
        time.sleep(interval)
    raise AssertionError(
        f"timed out after {timeout}s waiting for {what}"
        f" (last error: {last_error})\n" + tail(log)
    )


def tail(path: Path | None, lines: int = 40) -> str:
    if path is None or not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a child producer: no stray KAFKA_* (each would be read as
    a librdkafka property) and no settings inherited from the developer's shell."""
    from producer.config import Settings

    settings = {name.upper() for name in Settings.model_fields}
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("KAFKA_") and k not in settings
    }
    env.update(extra)
    return env


def helm_template(
    helm: str, values: dict, directory: Path, *args: str, chart: Path = CHART
) -> subprocess.CompletedProcess:
    """`helm template` of release RELEASE in NAMESPACE with ``values`` (merged over
    the chart's values.yaml)."""
    values_file = directory / f"values-{uuid.uuid4().hex[:8]}.yaml"
    values_file.write_text(yaml.safe_dump(values))
    return subprocess.run(
        [
            helm,
            "template",
            RELEASE,
            str(chart),
            "--namespace",
            NAMESPACE,
            "--values",
            str(values_file),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


def write_rules(helm: str, directory: Path, rule_values: dict | None = None) -> Path:
    """The chart's alert rules as a rules file, directory/alerts.rules.yaml."""
    values = {
        **MINIMAL_VALUES,
        "metrics": {"prometheusRule": {"enabled": True, **(rule_values or {})}},
    }
    result = helm_template(
        helm, values, directory, "--show-only", "templates/prometheusrule.yaml"
    )
    assert result.returncode == 0, result.stderr
    rule = yaml.safe_load(result.stdout)
    assert rule["kind"] == "PrometheusRule"
    path = directory / "alerts.rules.yaml"
    path.write_text(yaml.safe_dump(rule["spec"], sort_keys=False))
    return path
