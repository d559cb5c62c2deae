"""Settings of the producer, read once from the environment and the command line.

Every setting has an environment variable of the same name in upper case
(``poll_interval_seconds`` is ``POLL_INTERVAL_SECONDS``) and a command-line
flag (``--poll-interval-seconds``); a flag wins over the environment. Secrets
are ``SecretStr`` so that printing the settings never shows them.

Any librdkafka property can be passed through: ``KAFKA_SASL_PASSWORD=...``
becomes ``sasl.password`` (the ``KAFKA_`` prefix dropped, ``_`` read as ``.``),
and ``--kafka-config sasl.password=...`` does the same from the command line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)

from producer.errors import ConfigError

SERVICE_LINK = re.compile(r"^KAFKA_(PORT(_\d+_[A-Z]+(_[A-Z]+)?)?|SERVICE_(HOST|PORT\w*))$")
KAFKA_ENV_PREFIX = "KAFKA_"
# librdkafka properties whose values must never be shown.
SECRET_KAFKA_KEYS = frozenset(
    {"sasl.password", "ssl.key.password", "ssl.keystore.password", "ssl.key.pem",
     "sasl.oauthbearer.client.secret", "ssl_key", "ssl.truststore.password"}
)


class Settings(BaseModel):
    """Validated settings; see the README for what each one does."""

    model_config = ConfigDict(extra="forbid")

    skillable_api_url: str = Field(
        description="Base URL of the Lab API, e.g. https://labondemand.com/api/v3"
    )
    skillable_api_key: SecretStr = Field(
        description="API key, sent in the api_key header"
    )
    kafka_bootstrap_servers: str = Field("localhost:9092", description="Kafka brokers")
    events_topic: str = Field(
        "skillable.lab-results.changes", description="Topic of the change events"
    )
    state_topic: str = Field(
        "skillable.lab-results.state",
        description="Compacted topic of the last published snapshots",
    )
    transactional_id: str = Field(
        "lab-results-producer", description="Kafka transactional id; one writer per id"
    )
    schema_registry_url: str | None = Field(
        None,
        description="Confluent Schema Registry; unset: Avro single-object encoding",
    )
    schema_registry_basic_auth_user_info: SecretStr | None = Field(
        None, description="USER:PASSWORD for the Schema Registry"
    )
    poll_interval_seconds: float = Field(60.0, gt=0, description="Time between polls")
    metrics_port: int = Field(
        8000, ge=0, le=65535, description="Port of /metrics, /healthz, /readyz; 0: off"
    )
    metrics_host: str = Field(
        "0.0.0.0", description="Address the metrics port binds to"
    )

    window_overlap_seconds: int = Field(
        300,
        ge=0,
        description="Added to each window so that no change falls between polls",
    )
    poll_deadline_seconds: float = Field(
        600.0, gt=0, description="Longest a whole poll cycle may take before it fails"
    )
    exclude_fields: list[str] = Field(
        default_factory=list,
        description="Comma-separated fields ignored by change detection",
    )

    api_connect_timeout_seconds: float = Field(
        10.0, gt=0, description="API connect timeout"
    )
    api_read_timeout_seconds: float = Field(
        120.0, gt=0, description="API read timeout (longest wait for the next bytes)"
    )
    api_max_retries: int = Field(5, ge=0, description="Retries of one API request")
    api_retry_max_seconds: float = Field(
        120.0, ge=0, description="Longest time spent retrying one API request"
    )

    create_topics: bool = Field(True, description="Create missing topics at start-up")
    events_topic_partitions: int = Field(
        6, ge=1, description="Partitions of a new events topic"
    )
    events_topic_retention_ms: int = Field(
        7 * 24 * 3600 * 1000, ge=-1, description="retention.ms of a new events topic"
    )
    state_topic_partitions: int = Field(
        6, ge=1, description="Partitions of a new state topic"
    )
    topic_replication_factor: int = Field(
        -1,
        ge=-1,
        description="Replication factor of new topics; -1: the broker's default",
    )
    transaction_timeout_ms: int = Field(
        60_000, ge=1000, description="Kafka transaction.timeout.ms"
    )
    shutdown_grace_seconds: float = Field(
        25.0, ge=0, description="On SIGTERM, time a poll in flight has to finish"
    )
    state_retention_days: float = Field(
        30.0,
        ge=8,
        description="Forget lab instances unchanged for this long (at least 8)",
    )
    state_sweep_interval_seconds: float = Field(
        3600.0,
        gt=0,
        description="How often the state is swept for expired lab instances",
    )
    backfill: bool = Field(
        True,
        description="After a gap of over 7 days, read the missed time with Results",
    )

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="DEBUG, INFO, WARNING or ERROR"
    )
    log_format: Literal["auto", "json", "console"] = Field(
        "auto", description="json, console, or auto (console on a terminal)"
    )

    # Passed-through librdkafka properties may hold passwords: never in repr.
    kafka_config: dict[str, str] = Field(default_factory=dict, repr=False)

    @field_validator("skillable_api_url", "schema_registry_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")

    @field_validator("exclude_fields", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [name.strip() for name in value.split(",") if name.strip()]
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("skillable_api_key")
    @classmethod
    def _not_empty(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("must not be empty")
        return value

    @property
    def api_host(self) -> str:
        return urlsplit(self.skillable_api_url).netloc

    def librdkafka(self) -> dict[str, str]:
        """librdkafka properties common to the producer, consumer and admin."""
        conf = {"bootstrap.servers": self.kafka_bootstrap_servers}
        conf.update(self.kafka_config)
        return conf


def kafka_passthrough(environ: Mapping[str, str]) -> dict[str, str]:
    """librdkafka properties given as ``KAFKA_*`` environment variables.

    Kubernetes' service links for a Service named ``kafka`` (``KAFKA_PORT``,
    ``KAFKA_SERVICE_HOST``, ...) are not properties and are left alone.
    """
    conf = {}
    for name, value in environ.items():
        if SERVICE_LINK.match(name):
            continue
        if name.startswith(KAFKA_ENV_PREFIX) and name != "KAFKA_BOOTSTRAP_SERVERS":
            key = name[len(KAFKA_ENV_PREFIX):].lower().replace("_", ".")
            conf[key] = value
    return conf


def load_settings(
    overrides: Mapping[str, object] | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    check_kafka: bool = True,
) -> Settings:
    """Read settings from ``environ`` (default: the process environment).

    ``overrides`` come from command-line flags and win over the environment.
    With ``check_kafka``, librdkafka checks the passed-through properties now
    (including files they name, such as ``ssl.ca.location``).
    Raises ``ConfigError`` with one line naming the first bad setting.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for name in Settings.model_fields:
        if name == "kafka_config":
            continue
        if name.upper() in environ:
            values[name] = environ[name.upper()]
    kafka_conf = kafka_passthrough(environ)
    overrides = dict(overrides or {})
    kafka_conf.update(overrides.pop("kafka_config", None) or {})
    values.update({k: v for k, v in overrides.items() if v is not None})
    values["kafka_config"] = kafka_conf
    try:
        settings = Settings.model_validate(values)
    except ValidationError as exc:
        raise ConfigError(_first_problem(exc)) from None
    if check_kafka:
        _check_librdkafka(kafka_conf)
    return settings


def _check_librdkafka(conf: Mapping[str, str]) -> None:
    """Refuse an unknown librdkafka property or value now, not at first use.

    The properties are checked together (some only make sense with others,
    e.g. ``security.protocol=SASL_SSL`` with its ``sasl.mechanism``); the
    error names the one librdkafka complains about.
    """
    if not conf:
        return
    from confluent_kafka import KafkaException, Producer

    try:
        Producer({"log_level": 0, **conf})
    except KafkaException as exc:
        message = exc.args[0].str()
        named = re.search(r'property:? "([^"]+)"', message)
        if named is None or named.group(1) not in conf:  # e.g. reported under an alias
            names = ", ".join(KAFKA_ENV_PREFIX + k.upper().replace(".", "_") for k in conf)
            raise ConfigError(f"{names}: {message}") from None
        key = named.group(1)
        env_name = KAFKA_ENV_PREFIX + key.upper().replace(".", "_")
        shown = "***" if key in SECRET_KAFKA_KEYS else repr(conf.get(key))
        raise ConfigError(f"{env_name} ({key}={shown}): {message}") from None


def _first_problem(exc: ValidationError) -> str:
    error = exc.errors(include_url=False, include_input=False)[0]
    name = str(error["loc"][0]) if error["loc"] else "settings"
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "missing":
        message = "is required"
    return f"{name.upper()}: {message}"
