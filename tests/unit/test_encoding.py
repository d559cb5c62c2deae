"""The envelope writer and the change encoder agree byte for byte with fastavro."""

from __future__ import annotations

import io

import fastavro
import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

from producer import schemas
from producer.avro_writer import Encoded, RecordWriter
from producer.codec import SingleObjectCodec
from producer.encoding import ChangeEncoder
from producer.events import change_event, state_record
from tests.unit.conftest import LIFECYCLE_CONTEXT as CONTEXT
from tests.unit.test_codec import consumer_decode


def test_the_writer_matches_fastavro_for_events_and_state_records(lifecycle_changes) -> None:
    event_schema = schemas.load(schemas.EVENT).parsed
    state_schema = schemas.load(schemas.STATE).parsed
    event_writer, state_writer = RecordWriter(event_schema), RecordWriter(state_schema)
    for change in lifecycle_changes:
        for writer, schema, record in (
                (event_writer, event_schema, change_event(change, CONTEXT, CONTEXT.source())),
                (state_writer, state_schema, state_record(change, CONTEXT))):
            expected = io.BytesIO()
            fastavro.schemaless_writer(expected, schema, record)
            assert writer(record) == expected.getvalue()


def test_spliced_snapshots_give_the_same_bytes(lifecycle_changes) -> None:
    encoder = ChangeEncoder("events")
    events, states = SingleObjectCodec(schemas.EVENT), SingleObjectCodec(schemas.STATE)
    source = encoder.source(CONTEXT)
    for change in lifecycle_changes:
        (key, event), (state_key, state) = encoder.encode(change, CONTEXT, source)
        assert event == events.encode(change_event(change, CONTEXT, CONTEXT.source()))
        assert state == states.encode(state_record(change, CONTEXT))
        assert consumer_decode(key) == consumer_decode(state_key) == change.lab_instance_id


def test_registry_mode_encodes_events_for_the_registry(lifecycle_changes) -> None:
    registry = SchemaRegistryClient.new_client({"url": "mock://encoding"})
    encoder = ChangeEncoder("events", registry)
    update = lifecycle_changes[2]
    (key, event), (_, state) = encoder.encode(update, CONTEXT, encoder.source(CONTEXT))
    value = SerializationContext("events", MessageField.VALUE)
    decoded = AvroDeserializer(registry)(event, value)
    assert decoded["version"] == update.version and event[0] == 0
    assert state == SingleObjectCodec(schemas.STATE).encode(state_record(update, CONTEXT))


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
