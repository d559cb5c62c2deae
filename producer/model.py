"""The LatestResults answer as typed records, derived from the Avro schema.

``LabResult`` is a msgspec Struct built at import time from
``avro/skillable.lod.LabResult.avsc``, so the API model can never drift from
the published contract. Decoding validates in one pass: unknown fields are
ignored, a nullable field may be null or absent, an integer is accepted where
a double is expected, and ``int``/``long`` values must fit their width.
"""

from __future__ import annotations

from typing import Annotated, Any, Optional

import msgspec

from producer import schemas

INT32 = msgspec.Meta(ge=-(2**31), le=2**31 - 1)
INT64 = msgspec.Meta(ge=-(2**63), le=2**63 - 1)
# Epoch seconds that still fit an int64 once multiplied by 1000.
EPOCH_SECONDS = msgspec.Meta(ge=-(2**63) // 1000, le=(2**63 - 1) // 1000)
_PRIMITIVES: dict[str, Any] = {
    "int": Annotated[int, INT32],
    "long": Annotated[int, INT64],
    "double": float,
    "float": float,
    "string": str,
    "boolean": bool,
}


def _python_type(avro_type: Any) -> tuple[Any, bool]:
    """The Python type of an Avro field type, and whether it is nullable."""
    if isinstance(avro_type, list):
        branches = [t for t in avro_type if t != "null"]
        if len(branches) != 1:
            raise ValueError(f"unsupported union {avro_type!r}")
        return Optional[_python_type(branches[0])[0]], "null" in avro_type
    if isinstance(avro_type, dict):
        if avro_type.get("logicalType") == "timestamp-millis":
            return Annotated[int, EPOCH_SECONDS], False
        return _python_type(avro_type["type"])
    return _PRIMITIVES[avro_type], False


def _struct_fields() -> list[tuple[Any, ...]]:
    fields: list[tuple[Any, ...]] = []
    for field in schemas.result_fields():
        python_type, nullable = _python_type(field["type"])
        if nullable:
            fields.append((field["name"], python_type, None))
        else:
            fields.append((field["name"], python_type))
    # msgspec wants required fields before those with defaults.
    fields.sort(key=len)
    return fields


LabResult = msgspec.defstruct(
    "LabResult", _struct_fields(), frozen=True, gc=False, module=__name__
)
"""One lab instance result, fields named as in the API."""

FIELDS: tuple[str, ...] = tuple(f["name"] for f in schemas.result_fields())
"""``LabResult`` field names in schema order."""

TIMESTAMP_FIELDS = schemas.timestamp_fields()


class LatestResultsAnswer(msgspec.Struct, gc=False):
    """The envelope both LatestResults and Results answer with."""

    Status: int
    Results: Optional[list[LabResult]] = None  # type: ignore[valid-type]
    Error: Optional[str] = None


_decoder = msgspec.json.Decoder(LatestResultsAnswer)


def decode_answer(body: bytes) -> LatestResultsAnswer:
    """Decode and validate an answer; raises ``msgspec.DecodeError`` if it is not one."""
    return _decoder.decode(body)


def values(result: Any) -> tuple[Any, ...]:
    """The result's values in schema order (the comparison and hashing form)."""
    return tuple(getattr(result, name) for name in FIELDS)


def to_avro(result: Any) -> dict[str, Any]:
    """The result as a ``LabResult`` Avro record: timestamps in epoch millis."""
    record = msgspec.structs.asdict(result)
    for name in TIMESTAMP_FIELDS:
        if record[name] is not None:
            record[name] *= 1000
    return record
