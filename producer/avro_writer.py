"""A small Avro binary writer, compiled from a schema, that splices pre-encoded records.

Every change produces two messages that embed the same ``LabResult``
snapshot: the change event and the state record. fastavro writes the
snapshot once per change; this writer builds the envelopes around those
bytes (and around the poll's ``source``, the same for every event of a poll).
Its layout comes from the parsed ``.avsc`` schema at run time, so no record
layout is written down here; the tests check its output byte for byte
against fastavro's.

Supported: records, ``[null, T]`` unions, arrays, fixed, and the primitive
types (logical types carry their underlying value, e.g. epoch millis).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from producer.codec import zigzag_varint

Write = Callable[[Any, list[bytes]], None]


class Encoded:
    """A value already in Avro binary for the type at its position."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


class RecordWriter:
    """Writes one record type; ``named`` holds every record type it contains."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.named: dict[str, _Record] = {}
        self._write = _compile(schema, self.named)

    def __call__(self, value: Any) -> bytes:
        out: list[bytes] = []
        self._write(value, out)
        return b"".join(out)

    def part(self, name: str) -> Callable[[Any], bytes]:
        """A writer for the named record type ``name`` inside this one."""
        record = self.named[name]

        def write(value: Any) -> bytes:
            out: list[bytes] = []
            record(value, out)
            return b"".join(out)

        return write


class _Record:
    __slots__ = ("fields",)

    def __init__(self) -> None:
        self.fields: list[tuple[str, Write]] = []

    def __call__(self, value: Any, out: list[bytes]) -> None:
        if type(value) is Encoded:
            out.append(value.data)
            return
        for name, write in self.fields:
            write(value[name], out)


def _long(value: int, out: list[bytes]) -> None:
    out.append(zigzag_varint(value))


def _string(value: str, out: list[bytes]) -> None:
    data = value.encode()
    out.append(zigzag_varint(len(data)))
    out.append(data)


def _bytes(value: bytes, out: list[bytes]) -> None:
    out.append(zigzag_varint(len(value)))
    out.append(value)


def _boolean(value: bool, out: list[bytes]) -> None:
    out.append(b"\x01" if value else b"\x00")


def _double(value: float, out: list[bytes]) -> None:
    out.append(struct.pack("<d", value))


def _float(value: float, out: list[bytes]) -> None:
    out.append(struct.pack("<f", value))


def _null(value: None, out: list[bytes]) -> None:
    if value is not None:
        raise ValueError(f"{value!r} where null is expected")


_PRIMITIVES: dict[str, Write] = {
    "long": _long, "int": _long, "string": _string, "bytes": _bytes,
    "boolean": _boolean, "double": _double, "float": _float, "null": _null,
}


def _compile(schema: Any, named: dict[str, _Record]) -> Write:
    if isinstance(schema, str):
        if schema in _PRIMITIVES:
            return _PRIMITIVES[schema]
        return _named(schema, named)
    if isinstance(schema, list):
        return _union(schema, named)
    kind = schema["type"]
    if kind == "record":
        record = named[schema["name"]] = _Record()
        record.fields = [(f["name"], _compile(f["type"], named)) for f in schema["fields"]]
        return record
    if kind == "array":
        return _array(_compile(schema["items"], named))
    if kind == "fixed":
        return _fixed(schema["size"])
    if kind in _PRIMITIVES:
        return _PRIMITIVES[kind]
    raise NotImplementedError(f"Avro type {kind!r} is not supported here")


def _named(name: str, named: dict[str, _Record]) -> Write:
    def write(value: Any, out: list[bytes]) -> None:
        named[name](value, out)

    return write


def _union(branches: list[Any], named: dict[str, _Record]) -> Write:
    if len(branches) != 2 or branches[0] != "null":
        raise NotImplementedError(f"only [null, T] unions are supported, not {branches!r}")
    write_value = _compile(branches[1], named)

    def write(value: Any, out: list[bytes]) -> None:
        if value is None:
            out.append(b"\x00")
        else:
            out.append(b"\x02")
            write_value(value, out)

    return write


def _array(write_item: Write) -> Write:
    def write(values: list[Any], out: list[bytes]) -> None:
        if values:
            out.append(zigzag_varint(len(values)))
            for value in values:
                write_item(value, out)
        out.append(b"\x00")

    return write


def _fixed(size: int) -> Write:
    def write(value: bytes, out: list[bytes]) -> None:
        if len(value) != size:
            raise ValueError(f"fixed({size}) given {len(value)} bytes")
        out.append(value)

    return write
