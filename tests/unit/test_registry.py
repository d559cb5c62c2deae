"""Schema Registry wire format, with confluent_kafka's in-process mock registry."""

from __future__ import annotations

from pathlib import Path

from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

from producer import model, schemas
from producer.codec import RegistryCodec
from producer.diff import Differ
from producer.events import PollContext, change_event
from producer.state import State


def test_events_round_trip_through_the_registry_format(skillable_fixtures: Path) -> None:
    registry = SchemaRegistryClient.new_client({"url": "mock://test"})
    key_codec = RegistryCodec(schemas.KEY, registry, is_key=True)
    event_codec = RegistryCodec(schemas.EVENT, registry, is_key=False)
    body = (skillable_fixtures / "example.json").read_bytes()
    [change, _] = Differ().diff(model.decode_answer(body).Results, State())
    context = PollContext("p", "api.test", "LatestResults", 0, 1, 5, 2)

    key = key_codec(change.lab_instance_id, "events")
    value = event_codec(change_event(change, context, context.source()), "events")

    assert value[0] == 0 and key[0] == 0  # Confluent magic byte, then the schema id
    assert registry.get_latest_version("events-value").schema.schema_str
    decode_value = AvroDeserializer(registry)
    decode_key = AvroDeserializer(registry)
    event = decode_value(value, SerializationContext("events", MessageField.VALUE))
    assert event["after"]["LabInstanceId"] == 349744 and event["op"] == "c"
    assert decode_key(key, SerializationContext("events", MessageField.KEY)) == 349744
