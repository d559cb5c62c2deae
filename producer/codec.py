"""Avro encoding of keys, change events and state records.

Two wire formats:

* Avro single-object encoding (the Avro specification's): the marker
  ``C3 01``, the 8-byte little-endian CRC-64-AVRO fingerprint of the writer
  schema's canonical form, then the binary body. A consumer holding only the
  ``.avsc`` files can pick the schema by fingerprint and decode. Used for the
  events when no Schema Registry is configured, and always for the state topic,
  which only this producer reads.
* The Confluent Schema Registry wire format (magic byte 0, 4-byte schema id,
  body), through ``confluent_kafka.schema_registry`` when
  ``SCHEMA_REGISTRY_URL`` is set.
"""

from __future__ import annotations

from io import BytesIO
from typing import Any

from fastavro import schemaless_reader, schemaless_writer

from producer import schemas

MARKER = b"\xc3\x01"
HEADER_SIZE = len(MARKER) + 8


class SingleObjectCodec:
    """Single-object encoding and decoding for one schema."""

    def __init__(self, name: str) -> None:
        schema = schemas.load(name)
        self.schema = schema
        self.header = MARKER + schema.fingerprint
        self._parsed = schema.parsed
        self._plain = schemas.without_logical_types(name)

    def __call__(self, value: Any, topic: str = "") -> bytes:
        return self.encode(value)

    def encode(self, value: Any) -> bytes:
        out = BytesIO()
        out.write(self.header)
        schemaless_writer(out, self._parsed, value)
        return out.getvalue()

    def body(self, value: Any) -> bytes:
        """The Avro binary body alone, without the single-object header."""
        out = BytesIO()
        schemaless_writer(out, self._parsed, value)
        return out.getvalue()

    def decode(self, data: bytes, *, plain: bool = False) -> Any:
        """Decode ``data``; with ``plain``, timestamps stay epoch-millis integers."""
        if data[:HEADER_SIZE] != self.header:
            raise ValueError(
                f"not a single-object encoded {self.schema.name} "
                f"(header {data[:HEADER_SIZE].hex()})"
            )
        reader = self._plain if plain else self._parsed
        return schemaless_reader(BytesIO(data[HEADER_SIZE:]), reader, None)


class KeyCodec(SingleObjectCodec):
    """Single-object encoding of the ``long`` key, written without fastavro.

    A key is the header and one zig-zag varint; building it directly costs a
    fraction of a general-purpose record write, twice per change.
    """

    def __init__(self, name: str) -> None:
        super().__init__(name)
        if self.schema.canonical != '"long"':
            raise ValueError(f"{name} is not a long schema")

    def encode(self, value: int) -> bytes:
        return self.header + zigzag_varint(value)

    def decode(self, data: bytes, *, plain: bool = False) -> int:
        if data[:HEADER_SIZE] != self.header:
            raise ValueError("not a single-object encoded LabInstanceId")
        return read_long(data, HEADER_SIZE)[0]


def zigzag_varint(value: int) -> bytes:
    """The Avro binary encoding of a ``long``."""
    if not -(2**63) <= value < 2**63:
        raise ValueError(f"{value} does not fit an Avro long")
    number = (value << 1) ^ (value >> 63)
    out = bytearray()
    while number > 0x7F:
        out.append((number & 0x7F) | 0x80)
        number >>= 7
    out.append(number)
    return bytes(out)


def read_long(data: bytes, offset: int) -> tuple[int, int]:
    """Decode the Avro ``long`` (zig-zag varint) at ``offset``; return it and the next offset."""
    byte = data[offset]
    accumulated = byte & 0x7F
    shift = 7
    while byte & 0x80:
        offset += 1
        byte = data[offset]
        accumulated |= (byte & 0x7F) << shift
        shift += 7
    return (accumulated >> 1) ^ -(accumulated & 1), offset + 1


class RegistryCodec:
    """Schema Registry wire format for one schema, registered on first use."""

    def __init__(self, name: str, client: Any, *, is_key: bool) -> None:
        from confluent_kafka.schema_registry.avro import AvroSerializer
        from confluent_kafka.serialization import MessageField, SerializationContext

        self._context = SerializationContext
        self._field = MessageField.KEY if is_key else MessageField.VALUE
        self._serializer = AvroSerializer(
            client, schemas.load(name).json, conf={"auto.register.schemas": True}
        )

    def __call__(self, value: Any, topic: str) -> bytes:
        return self._serializer(value, self._context(topic, self._field))


def registry_client(url: str, user_info: str | None) -> Any:
    """A Schema Registry client for ``url``, with basic auth when given."""
    from confluent_kafka.schema_registry import SchemaRegistryClient

    conf = {"url": url}
    if user_info:
        conf["basic.auth.user.info"] = user_info
    return SchemaRegistryClient(conf)
