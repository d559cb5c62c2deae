"""The schemas in ``avro/`` stay backward compatible with every released version.

Downstream processors hold the released schemas; a change may only add
optional fields with defaults. The proof: data written with each released
schema is read with the current one (Avro schema resolution), and every
field the current schema adds has a default.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import fastavro
import pytest
from fastavro.schema import load_schema

from producer import schemas

RELEASES = sorted((Path(__file__).resolve().parents[1] / "compat").glob("released-*"))
EVENT_FILE = f"{schemas.EVENT}.avsc"
STATE_FILE = f"{schemas.STATE}.avsc"


def sample_result() -> dict:
    return {"LabInstanceId": 81234501, "LabProfileId": 40112, "Start": 1764759000000,
            "End": None, "LastActivity": 1764759570000, "UserId": "u-7f3a91", "ClassId": None,
            "CompletionStatus": 3, "TotalRunTimeSeconds": 600, "TaskCompletePercent": 10,
            "IsExam": True, "ExamPassed": None, "ExamScore": None, "ExamMaxPossibleScore": None,
            "ExamPassingScore": None, "IpAddress": "203.0.113.24", "Country": "Switzerland",
            "Region": "Zürich", "City": "Zürich", "Latitude": 47.376887,
            "Longitude": 8.541694, "LabHostId": 3301, "DatacenterId": 12,
            "DeliveryRegionId": 5}


def sample_event() -> dict:
    return {"before": sample_result(), "after": sample_result(), "op": "u", "ts_ms": 1,
            "source": {"connector": "lab-results-producer", "version": "0.1.0",
                       "api_host": "labondemand.com", "command": "LatestResults",
                       "window_start_ms": 0, "window_end_ms": 1, "window_minutes": 5,
                       "poll_id": "p"},
            "version": 2, "changed_fields": ["CompletionStatus"], "event_id": "e"}


def fields(schema: dict, path: str = "") -> dict[str, dict]:
    """Every record field, nested ones included, by dotted path."""
    out: dict[str, dict] = {}
    for field in schema.get("fields", []):
        name = f"{path}{field['name']}"
        out[name] = field
        for branch in field["type"] if isinstance(field["type"], list) else [field["type"]]:
            if isinstance(branch, dict) and branch.get("type") == "record":
                out.update(fields(branch, name + "."))
    return out


def test_there_is_a_released_version() -> None:
    assert RELEASES, "tests/compat/released-* holds the released schemas"


@pytest.mark.parametrize("release", RELEASES, ids=lambda p: p.name)
@pytest.mark.parametrize(("filename", "sample"), [(EVENT_FILE, sample_event),
                                                  (f"{schemas.RESULT}.avsc", sample_result)])
def test_current_schema_reads_data_written_with_a_release(release, filename, sample) -> None:
    old = load_schema(str(release / filename))
    new = schemas.load(filename.removesuffix(".avsc")).parsed
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, old, sample())
    buffer.seek(0)
    read = fastavro.schemaless_reader(buffer, old, new)
    assert read["LabInstanceId" if "LabInstanceId" in read else "version"] is not None


@pytest.mark.parametrize("release", RELEASES, ids=lambda p: p.name)
@pytest.mark.parametrize("filename", [EVENT_FILE, STATE_FILE, f"{schemas.RESULT}.avsc"])
def test_added_fields_have_defaults_and_none_are_removed(release, filename) -> None:
    old = fields(load_schema(str(release / filename), _write_hint=False))
    new = fields(load_schema(str(schemas.schema_dir() / filename), _write_hint=False))
    assert set(old) <= set(new), f"fields removed: {sorted(set(old) - set(new))}"
    for name in set(new) - set(old):
        assert "default" in new[name], f"{name} was added without a default"
    for name in old:
        assert json.dumps(old[name]["type"], sort_keys=True) == json.dumps(
            new[name]["type"], sort_keys=True) or _widened(old[name], new[name]), name


def _widened(old: dict, new: dict) -> bool:
    """A type change Avro resolution accepts: int→long/double, T→[null, T]."""
    promotions = {("int", "long"), ("int", "double"), ("long", "double"), ("float", "double")}
    if (old["type"], new["type"]) in promotions:
        return True
    return isinstance(new["type"], list) and new["type"][0] == "null" and \
        old["type"] in new["type"] and "default" in new
