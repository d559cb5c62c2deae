"""Command line: ``lab-results-producer {run,once,simulate,schemas}``.

Settings come from environment variables and can be overridden by flags of the
same name (``POLL_INTERVAL_SECONDS`` is ``--poll-interval-seconds``). A missing
or invalid setting prints one line naming it and exits with code 2.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from typing import Any

import structlog

from producer import __version__, logs, schemas
from producer.config import Settings, load_settings
from producer.errors import ConfigError, FencedError, ProducerError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2
EXIT_FENCED = 3

log = structlog.get_logger("producer")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except ConfigError as exc:
        print(f"lab-results-producer: {exc}", file=sys.stderr)
        return EXIT_CONFIG


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lab-results-producer",
        description="Streams Skillable lab results into Kafka as Avro change events.",
    )
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="poll every POLL_INTERVAL_SECONDS until stopped")
    _add_setting_flags(run)
    run.set_defaults(handler=_run)

    once = commands.add_parser("once", help="restore, poll once, exit 0 on success")
    _add_setting_flags(once)
    once.set_defaults(handler=_once)

    from producer import simulator

    simulate = commands.add_parser("simulate", help="serve a simulated Skillable API")
    simulator.add_arguments(simulate)
    simulate.set_defaults(handler=simulator.run)

    show = commands.add_parser("schemas", help="print the Avro schemas")
    show.add_argument("name", nargs="?", choices=[n.rsplit(".", 1)[1] for n in schemas.ALL],
                      help="print only this schema")
    show.set_defaults(handler=_schemas)
    return parser


def _add_setting_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("settings (each also read from the environment "
                                      "variable named in capitals)")
    for name, field in Settings.model_fields.items():
        if name == "kafka_config":
            continue
        flag = "--" + name.replace("_", "-")
        group.add_argument(flag, dest=f"setting_{name}", metavar=name.upper(),
                           help=f"{field.description} ({_default(field)})")
    group.add_argument("--kafka-config", action="append", default=[], metavar="KEY=VALUE",
                       help="any librdkafka property, e.g. sasl.mechanism=PLAIN "
                            "(or KAFKA_SASL_MECHANISM in the environment)")


def _default(field: Any) -> str:
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    if value in (None, [], {}):
        return "default: unset"
    return f"default: {value}"


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {
        key.removeprefix("setting_"): value
        for key, value in vars(args).items()
        if key.startswith("setting_") and value is not None
    }
    kafka_config = {}
    for item in args.kafka_config:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--kafka-config: expected KEY=VALUE, got {item.split('=')[0]!r}")
        kafka_config[key.strip()] = value
    overrides["kafka_config"] = kafka_config
    settings = load_settings(overrides)
    logs.configure(settings.log_level, settings.log_format)
    return settings


def _start(args: argparse.Namespace) -> Any:
    from producer import health, metrics
    from producer.service import LabResultsProducer, describe

    settings = _settings(args)
    producer = LabResultsProducer(settings)
    metrics.UP.labels(__version__).set(1)
    if settings.metrics_port:
        health.serve(producer.health, settings.metrics_host, settings.metrics_port)
    log.info("starting", version=__version__, **describe(settings))
    return producer


def _run(args: argparse.Namespace) -> int:
    producer = _start(args)

    def on_signal(signum: int, _frame: Any) -> None:
        log.info("stopping", signal=signal.Signals(signum).name)
        producer.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return _guarded(producer, producer.run)


def _once(args: argparse.Namespace) -> int:
    producer = _start(args)
    return _guarded(producer, lambda: producer.poll())


def _guarded(producer: Any, body: Any) -> int:
    try:
        producer.start()
        body()
        return EXIT_OK
    except FencedError as exc:
        log.error("fenced", error=str(exc))
        return EXIT_FENCED
    except ProducerError as exc:
        log.error("failed", error=str(exc), error_type=type(exc).__name__)
        return EXIT_FAILED
    finally:
        producer.close()


def _schemas(args: argparse.Namespace) -> int:
    names = [n for n in schemas.ALL if args.name is None or n.endswith("." + args.name)]
    for name in names:
        print(schemas.load(name).path.read_text().strip())
    return EXIT_OK
