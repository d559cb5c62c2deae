"""The Helm chart: lint and render it with several value sets; check their promises."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from producer.config import Settings, load_settings
from tests.deploy.support import CHART, DASHBOARD, MINIMAL_VALUES, NAMESPACE, RELEASE

# Every setting away from its default, so that each one is seen to arrive.
FULL_VALUES = {
    "skillable": {
        "apiUrl": "https://lod.example.test/api/v3",
        "apiKey": "api-key-123",
        "connectTimeoutSeconds": 7,
        "readTimeoutSeconds": 90.5,
        "maxRetries": 3,
        "retryMaxSeconds": 45,
    },
    "kafka": {
        "bootstrapServers": "b1.example.test:9093,b2.example.test:9093",
        "transactionalId": "lrp-prod",
        "transactionTimeoutMs": 90000,
        "securityProtocol": "SASL_SSL",
        "saslMechanism": "SCRAM-SHA-512",
        "saslUsername": "lrp",
        "saslPassword": "sasl-secret",
        "config": {
            "ssl.ca.location": "/etc/kafka/ca.crt",
            "message.max.bytes": 2000000,
            "enable.ssl.certificate.verification": True,
        },
    },
    "topics": {
        "events": "lod.events",
        "state": "lod.state",
        "create": False,
        "eventsPartitions": 12,
        "eventsRetentionMs": 2592000000,
        "statePartitions": 3,
        "replicationFactor": 3,
    },
    "schemaRegistry": {
        "url": "https://sr.example.test",
        "basicAuthUserInfo": "sr-user:sr-pw",
    },
    "polling": {
        "intervalSeconds": 2.5,
        "windowOverlapSeconds": 120,
        "deadlineSeconds": 300,
        "excludeFields": ["lastActivity", "score"],
        "backfill": False,
    },
    "state": {"retentionDays": 14, "sweepIntervalSeconds": 600},
    "logging": {"level": "DEBUG", "format": "console"},
    "shutdownGraceSeconds": 40,
    "terminationGracePeriodSeconds": 50,
    "metrics": {"port": 9100, "host": "::"},
}

FULL_ENV = {
    "SKILLABLE_API_URL": "https://lod.example.test/api/v3",
    "API_CONNECT_TIMEOUT_SECONDS": "7",
    "API_READ_TIMEOUT_SECONDS": "90.5",
    "API_MAX_RETRIES": "3",
    "API_RETRY_MAX_SECONDS": "45",
    "KAFKA_BOOTSTRAP_SERVERS": "b1.example.test:9093,b2.example.test:9093",
    "TRANSACTIONAL_ID": "lrp-prod",
    "TRANSACTION_TIMEOUT_MS": "90000",
    "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
    "KAFKA_SASL_USERNAME": "lrp",
    "KAFKA_SSL_CA_LOCATION": "/etc/kafka/ca.crt",
    "KAFKA_MESSAGE_MAX_BYTES": "2000000",
    "KAFKA_ENABLE_SSL_CERTIFICATE_VERIFICATION": "true",
    "EVENTS_TOPIC": "lod.events",
    "STATE_TOPIC": "lod.state",
    "CREATE_TOPICS": "false",
    "EVENTS_TOPIC_PARTITIONS": "12",
    "EVENTS_TOPIC_RETENTION_MS": "2592000000",
    "STATE_TOPIC_PARTITIONS": "3",
    "TOPIC_REPLICATION_FACTOR": "3",
    "SCHEMA_REGISTRY_URL": "https://sr.example.test",
    "POLL_INTERVAL_SECONDS": "2.5",
    "WINDOW_OVERLAP_SECONDS": "120",
    "POLL_DEADLINE_SECONDS": "300",
    "EXCLUDE_FIELDS": "lastActivity,score",
    "BACKFILL": "false",
    "STATE_RETENTION_DAYS": "14",
    "STATE_SWEEP_INTERVAL_SECONDS": "600",
    "METRICS_HOST": "::",
    "METRICS_PORT": "9100",
    "SHUTDOWN_GRACE_SECONDS": "40",
    "LOG_LEVEL": "DEBUG",
    "LOG_FORMAT": "console",
}
CHART_SECRET = f"{RELEASE}-secrets"
FULL_SECRET_REFS = {
    "SKILLABLE_API_KEY": (CHART_SECRET, "skillable-api-key"),
    "KAFKA_SASL_PASSWORD": (CHART_SECRET, "kafka-sasl-password"),
    "SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO": (
        CHART_SECRET,
        "schema-registry-basic-auth-user-info",
    ),
}
ALL_OPTIONAL = {
    "metrics": {
        "serviceMonitor": {"enabled": True, "labels": {"release": "kps"}},
        "prometheusRule": {"enabled": True},
        "dashboard": {"enabled": True},
    }
}


def merged(*parts: dict) -> dict:
    result: dict = {}
    for part in parts:
        _merge(result, copy.deepcopy(part))
    return result


def _merge(into: dict, part: dict) -> None:
    for key, value in part.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def container(rendered) -> dict:
    pod = rendered.one("Deployment")["spec"]["template"]["spec"]
    assert [c["name"] for c in pod["containers"]] == ["producer"]
    return pod["containers"][0]


def env_of(rendered) -> dict[str, dict]:
    entries = container(rendered)["env"]
    names = [e["name"] for e in entries]
    assert len(names) == len(set(names)), f"duplicate env vars: {names}"
    return {e["name"]: e for e in entries}


def plain_env(rendered) -> dict[str, str]:
    return {k: e["value"] for k, e in env_of(rendered).items() if "value" in e}


def secret_refs(rendered) -> dict[str, tuple[str, str]]:
    refs = {}
    for name, entry in env_of(rendered).items():
        if "valueFrom" in entry:
            ref = entry["valueFrom"]["secretKeyRef"]
            refs[name] = (ref["name"], ref["key"])
    return refs


# ---------------------------------------------------------------------- lint

LINT_SETS = {
    "minimal": MINIMAL_VALUES,
    "full-with-monitoring": merged(FULL_VALUES, ALL_OPTIONAL),
    "existing-secret": {
        "existingSecret": "lrp-secrets",
        "kafka": {"saslMechanism": "PLAIN", "saslUsername": "lrp"},
        "schemaRegistry": {"url": "http://sr:8081"},
    },
    "paused": merged(MINIMAL_VALUES, {"replicaCount": 0}),
}


@pytest.mark.parametrize("name", sorted(LINT_SETS))
def test_helm_lint_strict(helm: str, tmp_path: Path, name: str) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump(LINT_SETS[name]))
    result = subprocess.run(
        [
            helm,
            "lint",
            "--strict",
            str(CHART),
            "--namespace",
            NAMESPACE,
            "--values",
            str(values),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


def test_helm_lint_fails_on_a_bad_value(helm: str, tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump(merged(MINIMAL_VALUES, {"replicaCount": "one"})))
    result = subprocess.run(
        [helm, "lint", "--strict", str(CHART), "--values", str(values)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "replicaCount" in result.stdout + result.stderr


# ---------------------------------------------------------------- Deployment


def test_single_writer_deployment(render) -> None:
    deployment = render().one("Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert deployment["metadata"]["namespace"] == NAMESPACE


def test_replica_count_zero_pauses(render) -> None:
    assert (
        render(merged(MINIMAL_VALUES, {"replicaCount": 0})).one("Deployment")["spec"][
            "replicas"
        ]
        == 0
    )


def test_pod_security(render) -> None:
    rendered = render()
    pod = rendered.one("Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    # A Service named "kafka" would otherwise inject KAFKA_PORT=tcp://..., which the
    # producer reads as the librdkafka property "port" and refuses to start.
    assert pod["enableServiceLinks"] is False
    context = container(rendered)["securityContext"]
    assert context["runAsNonRoot"] is True
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["privileged"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}


def test_tmp_is_the_only_writable_mount(render) -> None:
    rendered = render()
    pod = rendered.one("Deployment")["spec"]["template"]["spec"]
    mounts = container(rendered)["volumeMounts"]
    assert mounts == [{"name": "tmp", "mountPath": "/tmp"}]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert set(volumes) == {"tmp"}
    assert "emptyDir" in volumes["tmp"]
    assert volumes["tmp"]["emptyDir"]["sizeLimit"] == "64Mi"


def test_probes_grace_and_resources(render) -> None:
    rendered = render()
    pod = rendered.one("Deployment")["spec"]["template"]["spec"]
    main = container(rendered)
    ports = {p["name"]: p["containerPort"] for p in main["ports"]}
    assert ports == {"metrics": 8000}
    assert main["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert main["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert pod["terminationGracePeriodSeconds"] == 30
    assert plain_env(rendered)["SHUTDOWN_GRACE_SECONDS"] == "25"
    assert plain_env(rendered)["METRICS_PORT"] == "8000"
    assert main["resources"]["requests"]["cpu"]
    assert main["resources"]["requests"]["memory"]
    assert main["resources"]["limits"]["memory"]
    assert main["args"] == ["run"]
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert main["image"].endswith(f":{chart['appVersion']}")


def test_metrics_port_value_moves_container_port_and_probes(render) -> None:
    rendered = render(merged(MINIMAL_VALUES, {"metrics": {"port": 9100}}))
    main = container(rendered)
    assert {p["name"]: p["containerPort"] for p in main["ports"]} == {"metrics": 9100}
    assert plain_env(rendered)["METRICS_PORT"] == "9100"
    service = rendered.one("Service")
    assert service["spec"]["ports"][0]["targetPort"] == "metrics"


def test_image_digest_wins_over_tag(render) -> None:
    digest = "sha256:" + "a" * 64
    main = container(
        render(merged(MINIMAL_VALUES, {"image": {"digest": digest, "tag": "x"}}))
    )
    assert main["image"].endswith("@" + digest)


# ---------------------------------------------------------- settings as env


def test_every_value_reaches_its_environment_variable(render) -> None:
    rendered = render(FULL_VALUES)
    assert plain_env(rendered) == FULL_ENV
    assert secret_refs(rendered) == FULL_SECRET_REFS


def test_every_setting_of_the_producer_is_a_chart_value(render) -> None:
    """Render every value away from its default, feed the pod's environment to the
    producer's own settings loader, and find each value there."""
    rendered = render(FULL_VALUES)
    secret = rendered.one("Secret")["stringData"]
    environ = plain_env(rendered)
    for name, (secret_name, key) in secret_refs(rendered).items():
        assert secret_name == CHART_SECRET
        environ[name] = secret[key]
    # The CA file the values name exists in the pod, not here: librdkafka's own
    # check of the properties (which opens it) is left out of this mapping test.
    settings = load_settings(environ=environ, check_kafka=False)
    defaults = load_settings(
        environ={"SKILLABLE_API_URL": "http://x", "SKILLABLE_API_KEY": "x"}
    )
    unchanged = [
        name
        for name in Settings.model_fields
        if name not in ("skillable_api_url", "skillable_api_key")
        and getattr(settings, name) == getattr(defaults, name)
    ]
    assert unchanged == [], f"settings the chart cannot set: {unchanged}"
    assert settings.skillable_api_key.get_secret_value() == "api-key-123"
    assert (
        settings.schema_registry_basic_auth_user_info.get_secret_value()
        == "sr-user:sr-pw"
    )
    assert settings.poll_interval_seconds == 2.5
    assert settings.events_topic_retention_ms == 2592000000
    assert settings.exclude_fields == ["lastActivity", "score"]
    assert settings.kafka_config == {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "lrp",
        "sasl.password": "sasl-secret",
        "ssl.ca.location": "/etc/kafka/ca.crt",
        "message.max.bytes": "2000000",
        "enable.ssl.certificate.verification": "true",
    }


def test_large_numbers_render_without_exponent(render) -> None:
    env = plain_env(
        render(
            merged(
                MINIMAL_VALUES,
                {
                    "topics": {"eventsRetentionMs": 31536000000000},
                    "polling": {"intervalSeconds": 1000000, "deadlineSeconds": 0.25},
                },
            )
        )
    )
    assert env["EVENTS_TOPIC_RETENTION_MS"] == "31536000000000"
    assert env["POLL_INTERVAL_SECONDS"] == "1000000"
    assert env["POLL_DEADLINE_SECONDS"] == "0.25"


def test_defaults_leave_optional_settings_out(render) -> None:
    rendered = render()
    env = plain_env(rendered)
    for name in (
        "SCHEMA_REGISTRY_URL",
        "EXCLUDE_FIELDS",
        "KAFKA_SECURITY_PROTOCOL",
        "KAFKA_SASL_MECHANISM",
        "KAFKA_SASL_USERNAME",
    ):
        assert name not in env
    assert secret_refs(rendered) == {
        "SKILLABLE_API_KEY": (CHART_SECRET, "skillable-api-key")
    }
    assert env["BACKFILL"] == "true"


def test_extra_env_is_appended(render) -> None:
    extra = [
        {
            "name": "KAFKA_SSL_KEY_PASSWORD",
            "valueFrom": {"secretKeyRef": {"name": "tls", "key": "password"}},
        }
    ]
    env = env_of(render(merged(MINIMAL_VALUES, {"extraEnv": extra})))
    assert env["KAFKA_SSL_KEY_PASSWORD"] == extra[0]


# ------------------------------------------------------------------- secrets


def test_chart_creates_the_secret_and_rolls_the_pod_when_it_changes(render) -> None:
    first = render(FULL_VALUES)
    secret = first.one("Secret")
    assert secret["metadata"]["name"] == CHART_SECRET
    assert secret["stringData"] == {
        "skillable-api-key": "api-key-123",
        "kafka-sasl-password": "sasl-secret",
        "schema-registry-basic-auth-user-info": "sr-user:sr-pw",
    }
    annotations = first.one("Deployment")["spec"]["template"]["metadata"]["annotations"]
    second = render(merged(FULL_VALUES, {"skillable": {"apiKey": "rotated"}}))
    rolled = second.one("Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert annotations["checksum/secret"] != rolled["checksum/secret"]


def test_existing_secret_is_referenced_and_nothing_is_created(render) -> None:
    values = {
        "existingSecret": "lrp-secrets",
        "secretKeys": {"apiKey": "api-key"},
        "skillable": {"apiKey": "must-not-leak"},
        "kafka": {"saslMechanism": "SCRAM-SHA-256", "saslUsername": "lrp"},
        "schemaRegistry": {"url": "http://sr:8081"},
    }
    rendered = render(values)
    assert rendered.of_kind("Secret") == []
    assert "must-not-leak" not in yaml.safe_dump_all(rendered.docs)
    assert secret_refs(rendered) == {
        "SKILLABLE_API_KEY": ("lrp-secrets", "api-key"),
        "KAFKA_SASL_PASSWORD": ("lrp-secrets", "kafka-sasl-password"),
        "SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO": (
            "lrp-secrets",
            "schema-registry-basic-auth-user-info",
        ),
    }
    env = env_of(rendered)
    # The API key and the SASL password must be there; a registry may need no auth.
    assert (
        env["SKILLABLE_API_KEY"]["valueFrom"]["secretKeyRef"].get("optional")
        is not True
    )
    assert (
        env["KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"].get("optional")
        is not True
    )
    assert (
        env["SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO"]["valueFrom"]["secretKeyRef"][
            "optional"
        ]
        is True
    )
    template = rendered.one("Deployment")["spec"]["template"]["metadata"]
    assert "checksum/secret" not in (template.get("annotations") or {})


def test_existing_secret_without_sasl_or_registry(render) -> None:
    rendered = render({"existingSecret": "lrp-secrets"})
    assert secret_refs(rendered) == {
        "SKILLABLE_API_KEY": ("lrp-secrets", "skillable-api-key")
    }


# --------------------------------------------------- services and monitoring


def test_metrics_service_selects_the_pod(render) -> None:
    rendered = render()
    service = rendered.one("Service")
    pod_labels = rendered.one("Deployment")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert service["spec"]["ports"] == [
        {"name": "metrics", "port": 8000, "targetPort": "metrics", "protocol": "TCP"}
    ]
    # A producer still restoring its state (not ready) must be scraped too.
    assert service["spec"]["publishNotReadyAddresses"] is True


def test_monitoring_resources_only_when_enabled(render) -> None:
    kinds = {d["kind"] for d in render().docs}
    assert kinds == {"Deployment", "Service", "Secret", "ServiceAccount"}
    kinds = {d["kind"] for d in render(merged(MINIMAL_VALUES, ALL_OPTIONAL)).docs}
    assert {"ServiceMonitor", "PrometheusRule", "ConfigMap"} <= kinds


def test_service_monitor_scrapes_the_metrics_service(render) -> None:
    rendered = render(merged(MINIMAL_VALUES, ALL_OPTIONAL))
    monitor = rendered.one("ServiceMonitor")
    service = rendered.one("Service")
    assert monitor["metadata"]["labels"]["release"] == "kps"
    assert (
        monitor["spec"]["selector"]["matchLabels"].items()
        <= service["metadata"]["labels"].items()
    )
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    [endpoint] = monitor["spec"]["endpoints"]
    assert endpoint["port"] == service["spec"]["ports"][0]["name"]
    assert endpoint["path"] == "/metrics"
    # The alert rules select job=<Service name>, the job label a ServiceMonitor gives.
    rules = rendered.one("PrometheusRule")["spec"]["groups"][0]["rules"]
    assert f'job="{service["metadata"]["name"]}"' in rules[0]["expr"]


def test_dashboard_configmap_for_the_grafana_sidecar(render) -> None:
    rendered = render(
        merged(
            MINIMAL_VALUES,
            {
                "metrics": {
                    "dashboard": {
                        "enabled": True,
                        "namespace": "monitoring",
                        "annotations": {"grafana_folder": "Kafka"},
                    }
                }
            },
        )
    )
    [configmap] = rendered.of_kind("ConfigMap")
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert configmap["metadata"]["namespace"] == "monitoring"
    assert configmap["metadata"]["annotations"] == {"grafana_folder": "Kafka"}
    [(name, text)] = configmap["data"].items()
    assert name.endswith(".json")
    assert json.loads(text) == json.loads(DASHBOARD.read_text())


def test_rule_thresholds_and_labels_are_values(render) -> None:
    rendered = render(
        merged(
            MINIMAL_VALUES,
            {
                "polling": {"backfill": False},
                "metrics": {
                    "prometheusRule": {
                        "enabled": True,
                        "noSuccessfulPollFor": "1h30m",
                        "pollFailureRatio": 0.5,
                        "alertLabels": {"team": "data"},
                        "selector": 'service="lrp"',
                        "labels": {"release": "kps"},
                    }
                },
            },
        )
    )
    rule = rendered.one("PrometheusRule")
    assert rule["metadata"]["labels"]["release"] == "kps"
    rules = {r["alert"]: r for r in rule["spec"]["groups"][0]["rules"]}
    assert rules["LabResultsNoSuccessfulPoll"]["expr"].rstrip().endswith("> 5400")
    assert "[1h30m]" in rules["LabResultsNoSuccessfulPoll"]["expr"]
    assert rules["LabResultsPollFailing"]["expr"].rstrip().endswith("> 0.5")
    assert all(r["labels"]["team"] == "data" for r in rules.values())
    assert all('{service="lrp"' in r["expr"] for r in rules.values())
    assert 'job="' not in json.dumps(rules)
    # Without backfill a window gap loses changes for sure.
    assert rules["LabResultsWindowGap"]["labels"]["severity"] == "critical"


# ------------------------------------------------------- values.schema.json

SCHEMA_REJECTS = [
    ({"replicaCount": "1"}, "/replicaCount"),
    ({"replicaCount": 2}, "/replicaCount"),
    ({"polling": {"intervalSeconds": 0}}, "/polling/intervalSeconds"),
    ({"polling": {"intervalSeconds": -5}}, "/polling/intervalSeconds"),
    ({"polling": {"intervalSeconds": "60s"}}, "/polling/intervalSeconds"),
    ({"pollIntervalSeconds": 60}, "pollIntervalSeconds"),
    ({"logging": {"level": "verbose"}}, "/logging/level"),
    ({"skillable": {"apiUrl": "labondemand.com/api/v3"}}, "/skillable/apiUrl"),
    ({"kafka": {"config": {"sasl.password": "plain-text"}}}, "sasl.password"),
    ({"kafka": {"saslMechanism": "SCRAM"}}, "/kafka/saslMechanism"),
    ({"topics": {"replicationFactor": 0}}, "/topics/replicationFactor"),
    ({"state": {"retentionDays": 7}}, "/state/retentionDays"),
    ({"metrics": {"port": 70000}}, "/metrics/port"),
    (
        {"metrics": {"prometheusRule": {"noSuccessfulPollFor": "15 minutes"}}},
        "/metrics/prometheusRule/noSuccessfulPollFor",
    ),
    ({"image": {"digest": "latest"}}, "/image/digest"),
]


@pytest.mark.parametrize(
    ("values", "path"), SCHEMA_REJECTS, ids=[p for _, p in SCHEMA_REJECTS]
)
def test_schema_rejects_bad_values(render_error, values: dict, path: str) -> None:
    error = render_error(merged(MINIMAL_VALUES, values))
    assert "values don't meet the specifications of the schema" in error
    assert path in error


TEMPLATE_REJECTS = [
    ({}, "skillable.apiKey is required"),
    (
        merged(MINIMAL_VALUES, {"shutdownGraceSeconds": 30}),
        "must be below terminationGracePeriodSeconds",
    ),
    (
        merged(MINIMAL_VALUES, {"kafka": {"saslMechanism": "SCRAM-SHA-256"}}),
        "kafka.saslPassword is required",
    ),
]


@pytest.mark.parametrize(
    ("values", "message"),
    TEMPLATE_REJECTS,
    ids=["no-api-key", "grace", "sasl-password"],
)
def test_chart_refuses_inconsistent_values(
    render_error, values: dict, message: str
) -> None:
    assert message in render_error(values)


# ------------------------------------------------------------------- NOTES


def test_notes_render(render, tmp_path: Path) -> None:
    """helm renders NOTES.txt only on install; render it here as a ConfigMap."""
    chart = tmp_path / "chart"
    shutil.copytree(CHART, chart)
    notes = (chart / "templates" / "NOTES.txt").read_text()
    (chart / "templates" / "zz-notes-under-test.yaml").write_text(
        '{{- define "notes-under-test" }}' + notes + "{{- end }}\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\n"
        'data:\n  notes: {{ include "notes-under-test" . | quote }}\n'
    )
    values = merged(MINIMAL_VALUES, ALL_OPTIONAL)
    text = next(
        d
        for d in render(values, chart=chart).of_kind("ConfigMap")
        if d["metadata"]["name"] == "notes"
    )["data"]["notes"]
    assert f"kubectl -n {NAMESPACE} rollout status deployment/{RELEASE}" in text
    assert f"port-forward service/{RELEASE} 8000" in text
    assert "PrometheusRule" in text
    assert "Grafana dashboard" in text
    assert "{{" not in text
    assert "<no value>" not in text
    paused = render(merged(MINIMAL_VALUES, {"replicaCount": 0}), chart=chart)
    text = next(
        d for d in paused.of_kind("ConfigMap") if d["metadata"]["name"] == "notes"
    )["data"]["notes"]
    assert "paused" in text
