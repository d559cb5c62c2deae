"""The envelope writer and the change encoder agree byte for byte with fastavro."""

from __future__ import annotations

import io
from pathlib import Path

import fastavro
import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

from producer import model, schemas
from producer.avro_writer import Encoded, RecordWriter
from producer.codec import SingleObjectCodec
from producer.diff import Differ
from producer.encoding import ChangeEncoder
from producer.events import PollContext, change_event, state_record
from producer.state import State
from tests.unit.test_codec import consumer_decode

CONTEXT = PollContext("p", "api.test", "LatestResults", 0, 60_000, 1, 1_000)


@pytest.fixture
def changes(skillable_fixtures: Path) -> list:
    """Every change of the lifecycle: creates and updates, nulls and values."""
    state, differ, out = State(), Differ(), []
    for poll in range(1, 5):
        body = (skillable_fixtures / "lifecycle" / f"poll-{poll}.json").read_bytes()
        found = differ.diff(model.decode_answer(body).Results, state)
        state.apply({c.lab_instance_id: state.codec.encode(state_record(c, CONTEXT))
                     for c in found})
        out += found
    return out


def test_the_writer_matches_fastavro_for_events_and_state_records(changes) -> None:
    event_schema = schemas.load(schemas.EVENT).parsed
    state_schema = schemas.load(schemas.STATE).parsed
    event_writer, state_writer = RecordWriter(event_schema), RecordWriter(state_schema)
    for change in changes:
        for writer, schema, record in (
                (event_writer, event_schema, change_event(change, CONTEXT, CONTEXT.source())),
                (state_writer, state_schema, state_record(change, CONTEXT))):
            expected = io.BytesIO()
            fastavro.schemaless_writer(expected, schema, record)
            assert writer(record) == expected.getvalue()


def test_spliced_snapshots_give_the_same_bytes(changes) -> None:
    encoder = ChangeEncoder("events")
    events, states = SingleObjectCodec(schemas.EVENT), SingleObjectCodec(schemas.STATE)
    source = encoder.source(CONTEXT)
    for change in changes:
        (key, event), (state_key, state) = encoder.encode(change, CONTEXT, source)
        assert event == events.encode(change_event(change, CONTEXT, CONTEXT.source()))
        assert state == states.encode(state_record(change, CONTEXT))
        assert consumer_decode(key) == consumer_decode(state_key) == change.lab_instance_id


def test_registry_mode_encodes_events_for_the_registry(changes) -> None:
    registry = SchemaRegistryClient.new_client({"url": "mock://encoding"})
    encoder = ChangeEncoder("events", registry)
    (key, event), (_, state) = encoder.encode(changes[2], CONTEXT, encoder.source(CONTEXT))
    decoded = AvroDeserializer(registry)(event, SerializationContext("events",
                                                                     MessageField.VALUE))
    assert decoded["version"] == changes[2].version and event[0] == 0
    assert state == SingleObjectCodec(schemas.STATE).encode(state_record(changes[2], CONTEXT))


@pytest.mark.parametrize(("schema", "message"), [
    ({"type": "record", "name": "R", "fields": [{"name": "a", "type": ["int", "string"]}]},
     "unions"),
    ({"type": "record", "name": "R", "fields": [{"name": "m", "type": {
        "type": "map", "values": "int"}}]}, "map"),
])
def test_unsupported_schemas_are_refused_when_compiled(schema, message) -> None:
    with pytest.raises(NotImplementedError, match=message):
        RecordWriter(fastavro.parse_schema(schema))


def test_a_fixed_of_the_wrong_size_is_refused() -> None:
    writer = RecordWriter(schemas.load(schemas.STATE).parsed)
    record = {"fingerprint": b"short", "version": 1, "changed_ms": 1,
              "snapshot": Encoded(b"")}
    with pytest.raises(ValueError, match="fixed"):
        writer(record)
