"""Settings: environment, flags, librdkafka pass-through, and the README's table."""

from __future__ import annotations

from pathlib import Path

import pytest

from producer.config import Settings, load_settings
from producer.errors import ConfigError

BASE = {"SKILLABLE_API_URL": "https://labondemand.com/api/v3/", "SKILLABLE_API_KEY": "k"}


def test_defaults_and_normalisation() -> None:
    settings = load_settings(environ=BASE | {"EXCLUDE_FIELDS": "LastActivity, City",
                                             "LOG_LEVEL": "debug", "CREATE_TOPICS": "false"})
    assert settings.skillable_api_url == "https://labondemand.com/api/v3"
    assert settings.api_host == "labondemand.com"
    assert settings.exclude_fields == ["LastActivity", "City"]
    assert settings.log_level == "DEBUG" and settings.create_topics is False
    assert settings.poll_interval_seconds == 60


def test_flags_win_over_the_environment() -> None:
    settings = load_settings({"poll_interval_seconds": "5"},
                             environ=BASE | {"POLL_INTERVAL_SECONDS": "30"})
    assert settings.poll_interval_seconds == 5


def test_librdkafka_properties_pass_through_and_stay_hidden() -> None:
    settings = load_settings(environ=BASE | {"KAFKA_SASL_PASSWORD": "hunter2",
                                             "KAFKA_SASL_MECHANISM": "PLAIN"})
    assert settings.librdkafka()["sasl.password"] == "hunter2"
    assert settings.librdkafka()["sasl.mechanism"] == "PLAIN"
    assert "hunter2" not in repr(settings) and "k" != str(settings.skillable_api_key)


def test_kubernetes_service_links_are_not_taken_for_properties() -> None:
    links = {"KAFKA_PORT": "tcp://10.0.0.1:9092", "KAFKA_SERVICE_HOST": "10.0.0.1",
             "KAFKA_SERVICE_PORT": "9092", "KAFKA_PORT_9092_TCP_ADDR": "10.0.0.1",
             "KAFKA_PORT_9092_TCP_PROTO": "tcp"}
    assert load_settings(environ=BASE | links).kafka_config == {}


@pytest.mark.parametrize(("extra", "message"), [
    ({"KAFKA_HEAP_OPTS": "-Xmx1g"}, 'KAFKA_HEAP_OPTS (heap.opts=\'-Xmx1g\'): No such'),
    ({"KAFKA_SECURITY_PROTOCOL": "carrier-pigeon"}, "KAFKA_SECURITY_PROTOCOL"),
    ({"KAFKA_SASL_PASSWORD": "x", "KAFKA_ACKS": "some"}, "KAFKA_ACKS.*request.required.acks"),
    ({"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CA_LOCATION": "/nonexistent/ca.pem"},
     "KAFKA_SSL_CA_LOCATION.*ssl.ca.location"),
])
def test_a_bad_librdkafka_property_is_a_setting_error(extra, message) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_settings(environ=BASE | extra)


def test_every_setting_is_in_the_readme_table() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    missing = [name.upper() for name in Settings.model_fields
               if name != "kafka_config" and f"| `{name.upper()}` |" not in readme]
    assert missing == []
