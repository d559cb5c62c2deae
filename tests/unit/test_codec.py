"""Avro single-object encoding, checked against the Avro specification.

The decoder here holds only the ``.avsc`` files and the specification's own
fingerprint algorithm, as a downstream consumer would.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import fastavro
import pytest
from fastavro.schema import load_schema, to_parsing_canonical_form

from producer import schemas
from producer.codec import SingleObjectCodec
from producer.events import change_event, event_id, state_record
from producer.state import StoredSnapshot
from tests.unit.conftest import LIFECYCLE_CONTEXT

AVRO_DIR = Path(__file__).resolve().parents[2] / "avro"
EMPTY = 0xC15D213AA4D7A795


def crc64_avro(data: bytes) -> int:
    """The Rabin fingerprint exactly as the Avro specification spells it out."""
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (EMPTY & -(fp & 1))
        table.append(fp)
    fp = EMPTY
    for byte in data:
        fp = (fp >> 8) ^ table[(fp ^ byte) & 0xFF]
    return fp


def consumer_decode(data: bytes):
    """Decode a single-object encoded message knowing only ``avro/*.avsc``."""
    assert data[:2] == b"\xc3\x01", "single-object marker"
    wanted = int.from_bytes(data[2:10], "little")
    for path in sorted(AVRO_DIR.glob("*.avsc")):
        schema = load_schema(str(path))
        canonical = to_parsing_canonical_form(schema)
        if crc64_avro(canonical.encode()) == wanted:
            return fastavro.schemaless_reader(io.BytesIO(data[10:]), schema, None)
    raise AssertionError(f"no .avsc has fingerprint {wanted:016x}")


def test_every_event_decodes_from_the_avsc_files_alone(lifecycle_changes) -> None:
    context, changes = LIFECYCLE_CONTEXT, lifecycle_changes
    key_codec, event_codec = SingleObjectCodec(schemas.KEY), SingleObjectCodec(schemas.EVENT)
    for change in changes:
        event = consumer_decode(event_codec.encode(change_event(change, context, context.source())))
        assert consumer_decode(key_codec.encode(change.lab_instance_id)) == change.lab_instance_id
        assert event["after"]["LabInstanceId"] == change.lab_instance_id
        assert event["op"] == change.op and event["version"] == change.version
        assert event["changed_fields"] == list(change.changed_fields)
        assert (event["before"] is None) == (change.op == "c")
        assert event["source"]["api_host"] == "api.test"
        assert event["source"]["window_minutes"] == 10080
        # Timestamps travel as timestamp-millis: seconds × 1000.
        start = event["after"]["Start"]
        assert int(start.timestamp()) * 1000 == change.after["Start"]


def test_fingerprint_header_follows_the_specification() -> None:
    for name in schemas.ALL:
        schema = schemas.load(name)
        assert schema.fingerprint == crc64_avro(schema.canonical.encode()).to_bytes(8, "little")


def test_event_ids_are_deterministic_and_distinct(lifecycle_changes) -> None:
    changes = lifecycle_changes
    ids = [event_id(c) for c in changes]
    assert len(set(ids)) == len(ids)
    assert ids == [event_id(c) for c in changes]


def test_state_record_round_trips_through_the_stored_view(lifecycle_changes) -> None:
    context, changes = LIFECYCLE_CONTEXT, lifecycle_changes
    codec = SingleObjectCodec(schemas.STATE)
    for change in changes:
        stored = StoredSnapshot(codec.encode(state_record(change, context)), codec)
        assert stored.version == change.version
        assert stored.fingerprint == change.fingerprint
        assert stored.snapshot() == change.after


def test_decoding_rejects_another_schema() -> None:
    key = SingleObjectCodec(schemas.KEY).encode(1)
    with pytest.raises(ValueError, match="not a single-object encoded"):
        SingleObjectCodec(schemas.STATE).decode(key)


def test_nullable_fields_are_unions_with_null_first_and_null_default() -> None:
    for field in json.loads((AVRO_DIR / "skillable.lod.LabResult.avsc").read_text())["fields"]:
        if isinstance(field["type"], list):
            assert field["type"][0] == "null" and field["default"] is None, field["name"]


@pytest.mark.parametrize("value", [0, 1, -1, 63, -64, 64, 81234501, 2**63 - 1, -(2**63)])
def test_key_codec_writes_what_fastavro_writes(value) -> None:
    from producer.codec import KeyCodec

    fast = KeyCodec(schemas.KEY)
    assert fast.encode(value) == SingleObjectCodec(schemas.KEY).encode(value)
    assert fast.decode(fast.encode(value)) == value == consumer_decode(fast.encode(value))


def test_key_codec_refuses_what_a_long_cannot_hold() -> None:
    from producer.codec import KeyCodec

    with pytest.raises(ValueError, match="long"):
        KeyCodec(schemas.KEY).encode(2**63)
