"""The alert rules: rendered from the chart, checked and unit-tested with promtool."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.deploy.support import RULE_TESTS, check_exported

# What the issue asks alerts for, and the rule that answers each.
REQUIRED_ALERTS = {
    "no successful poll for a configurable time": "LabResultsNoSuccessfulPoll",
    "poll failures above a rate": "LabResultsPollFailing",
    "API errors by status": "LabResultsApiErrors",
    "state restore failing": "LabResultsStateRestoreFailing",
    "a window gap (changes possibly missed)": "LabResultsWindowGap",
    "transactions aborting": "LabResultsTransactionsAborting",
}
TEST_FILES = sorted(RULE_TESTS.glob("*.test.yaml"))


def rules_of(path: Path) -> dict[str, dict]:
    groups = yaml.safe_load(path.read_text())["groups"]
    return {rule["alert"]: rule for group in groups for rule in group["rules"]}


def promtool_run(promtool: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [promtool, *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


@pytest.fixture
def rules_dir(render_rules, tmp_path: Path) -> Path:
    """The rendered rules beside copies of the promtool test files."""
    render_rules(directory=tmp_path)
    for test_file in TEST_FILES:
        shutil.copy(test_file, tmp_path / test_file.name)
    return tmp_path


def test_there_are_rule_unit_tests() -> None:
    assert TEST_FILES, f"no promtool test files in {RULE_TESTS}"
    for test_file in TEST_FILES:
        assert yaml.safe_load(test_file.read_text())["rule_files"] == [
            "alerts.rules.yaml"
        ]


def test_promtool_check_rules(promtool: str, rules_dir: Path) -> None:
    result = promtool_run(
        promtool, "check", "rules", "alerts.rules.yaml", cwd=rules_dir
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_unit_tests_pass(promtool: str, rules_dir: Path) -> None:
    result = promtool_run(
        promtool, "test", "rules", *[f.name for f in TEST_FILES], cwd=rules_dir
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_unit_tests_bind_to_the_rules(
    promtool: str, render_rules, tmp_path: Path
) -> None:
    """The same tests against rules for another job must fail: they test these rules."""
    render_rules({"selector": 'job="another-producer"'}, directory=tmp_path)
    for test_file in TEST_FILES:
        shutil.copy(test_file, tmp_path / test_file.name)
    result = promtool_run(
        promtool, "test", "rules", *[f.name for f in TEST_FILES], cwd=tmp_path
    )
    assert result.returncode != 0
    assert "FAILED" in result.stdout + result.stderr


def test_required_alerts_exist_with_severity_and_text(rules_dir: Path) -> None:
    rules = rules_of(rules_dir / "alerts.rules.yaml")
    missing = {
        need: name for need, name in REQUIRED_ALERTS.items() if name not in rules
    }
    assert not missing
    for name, rule in rules.items():
        assert rule["labels"]["severity"] in ("warning", "critical"), name
        assert rule["annotations"]["summary"].strip(), name
        assert rule["annotations"]["description"].strip(), name


def test_every_alert_has_a_firing_and_a_quiet_case(rules_dir: Path) -> None:
    firing: set[str] = set()
    quiet: set[str] = set()
    for test_file in TEST_FILES:
        for case in yaml.safe_load(test_file.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    alerts = set(rules_of(rules_dir / "alerts.rules.yaml"))
    assert alerts - firing == set(), "alerts never tested firing"
    assert alerts - quiet == set(), "alerts never tested quiet"
    assert (firing | quiet) - alerts == set(), "tests of alerts that do not exist"


@pytest.mark.kafka
def test_rule_metrics_are_exported_by_the_producer(rules_dir: Path, exported) -> None:
    exprs = [
        (name, rule["expr"])
        for name, rule in rules_of(rules_dir / "alerts.rules.yaml").items()
    ]
    assert check_exported(exprs, exported) == []
