"""The Kafka messages of one change: the event's key and value, the state's key and value.

Without a Schema Registry every message is Avro single-object encoded, and
each change's snapshot is written once (by fastavro) and shared by its event
and its state record, which ``producer.avro_writer`` builds around it. With a
registry, keys and events go through confluent_kafka's serializers; the state
topic, read only by this producer, is single-object encoded either way.
"""

from __future__ import annotations

from typing import Any

from producer import schemas
from producer.avro_writer import Encoded, RecordWriter
from producer.codec import MARKER, KeyCodec, RegistryCodec, SingleObjectCodec
from producer.diff import Change
from producer.events import PollContext, change_event, state_record

Message = tuple[bytes, bytes]


class ChangeEncoder:
    """Encodes changes for ``events_topic`` (and the state topic)."""

    def __init__(self, events_topic: str, registry: Any | None = None) -> None:
        self.events_topic = events_topic
        self.key = KeyCodec(schemas.KEY)
        self._snapshot = SingleObjectCodec(schemas.RESULT).body
        self._state = RecordWriter(schemas.load(schemas.STATE).parsed)
        self._state_header = MARKER + schemas.load(schemas.STATE).fingerprint
        self._registry_key = self._registry_event = None
        if registry is not None:
            self._registry_key = RegistryCodec(schemas.KEY, registry, is_key=True)
            self._registry_event = RegistryCodec(schemas.EVENT, registry, is_key=False)
        self._event = RecordWriter(schemas.load(schemas.EVENT).parsed)
        self._source = self._event.part(f"{schemas.NAMESPACE}.Source")
        self._event_header = MARKER + schemas.load(schemas.EVENT).fingerprint

    def source(self, context: PollContext) -> Any:
        """The poll's ``source``, encoded once for all of its events."""
        source = context.source()
        return source if self._registry_event is not None else Encoded(self._source(source))

    def encode(self, change: Change, context: PollContext, source: Any
               ) -> tuple[Message, Message]:
        """``((event key, event value), (state key, state value))`` of ``change``."""
        key = self.key.encode(change.lab_instance_id)
        after = Encoded(self._snapshot(change.after))
        state = self._state_header + self._state(
            state_record(change, context) | {"snapshot": after})
        event = change_event(change, context, source)
        if self._registry_event is not None:
            topic = self.events_topic
            return ((self._registry_key(change.lab_instance_id, topic),
                     self._registry_event(event, topic)), (key, state))
        if change.before is not None:
            event["before"] = Encoded(self._snapshot(change.before))
        event["after"] = after
        return (key, self._event_header + self._event(event)), (key, state)
