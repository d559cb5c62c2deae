"""Streams Skillable Lab on Demand lab results into Kafka as Avro change events."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("lab-results-producer")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
