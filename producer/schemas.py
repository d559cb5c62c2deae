"""The Avro schemas in ``avro/*.avsc``, loaded once at run time.

The ``.avsc`` files are the contract with downstream teams and the only place
the record layouts are written down: the API model (``producer.model``), the
state records and the change events are all derived from them here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from fastavro import parse_schema
from fastavro.schema import fingerprint, load_schema, to_parsing_canonical_form

NAMESPACE = "skillable.lod"
RESULT = f"{NAMESPACE}.LabResult"
KEY = f"{NAMESPACE}.LabResultKey"
EVENT = f"{NAMESPACE}.LabResultChangeEvent"
STATE = f"{NAMESPACE}.LabResultState"
CHECKPOINT = f"{NAMESPACE}.LabResultsCheckpoint"
ALL = (KEY, RESULT, EVENT, STATE, CHECKPOINT)


@dataclass(frozen=True)
class Schema:
    """One schema: its full name, parsed form and single-object fingerprint."""

    name: str
    path: Path
    parsed: Any
    canonical: str
    fingerprint: bytes

    @property
    def json(self) -> str:
        """The schema with every named type it uses written out inline."""
        return json.dumps(_expanded(self.path))


def schema_dir() -> Path:
    """Where the ``.avsc`` files are: inside the installed package."""
    return Path(__file__).resolve().parent / "schemas"


@cache
def load(name: str) -> Schema:
    """Load the schema with the full name ``name`` from ``avro/``."""
    path = schema_dir() / f"{name}.avsc"
    parsed = load_schema(str(path))
    canonical = to_parsing_canonical_form(parsed)
    digest = fingerprint(canonical, "CRC-64-AVRO")
    # fastavro writes the fingerprint's bytes in little-endian order, which is
    # what single-object encoding puts after its marker.
    raw = bytes.fromhex(digest)
    return Schema(name, path, parsed, canonical, raw)


@cache
def without_logical_types(name: str) -> Any:
    """The schema parsed with ``logicalType`` removed.

    The binary encoding is the same; reading with it gives epoch-millisecond
    integers rather than ``datetime`` objects, which is what the differ needs.
    """
    return parse_schema(_strip_logical(_expanded(load(name).path)))


def result_fields() -> list[dict[str, Any]]:
    """The fields of ``LabResult``, in schema order, as written in the file."""
    return _expanded(load(RESULT).path)["fields"]


def timestamp_fields() -> frozenset[str]:
    """``LabResult`` fields that are epoch seconds in the API, millis in Avro."""
    return frozenset(
        f["name"] for f in result_fields() if "timestamp-millis" in json.dumps(f["type"])
    )


def _expanded(path: Path) -> Any:
    return load_schema(str(path), _write_hint=False)


def _strip_logical(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip_logical(v) for k, v in node.items() if k != "logicalType"}
    if isinstance(node, list):
        return [_strip_logical(v) for v in node]
    return node
