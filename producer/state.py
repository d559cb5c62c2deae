"""The producer's memory of what it last published, one record per lab instance.

Each lab instance maps to the exact bytes of its latest state-topic value (a
single-object encoded ``LabResultState``). Keeping the bytes rather than
decoded records makes a restore a plain copy and keeps memory small; the
fingerprint and version are read straight from the bytes, and the snapshot is
decoded only when a result has really changed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from producer import schemas
from producer.codec import HEADER_SIZE, KeyCodec, SingleObjectCodec, read_long

FINGERPRINT_SIZE = 8
FINGERPRINT_AT = HEADER_SIZE
VERSION_AT = HEADER_SIZE + FINGERPRINT_SIZE
CHECKPOINT_KEY = -1
"""Reserved state-topic key of the poll checkpoint (lab instance ids are positive)."""


class StoredSnapshot:
    """A view of one encoded state record."""

    __slots__ = ("_data", "_codec")

    def __init__(self, data: bytes, codec: SingleObjectCodec) -> None:
        self._data = data
        self._codec = codec

    @property
    def fingerprint(self) -> bytes:
        return self._data[FINGERPRINT_AT:VERSION_AT]

    @property
    def version(self) -> int:
        return read_long(self._data, VERSION_AT)[0]

    def record(self) -> dict[str, Any]:
        """The whole ``LabResultState`` record, timestamps as epoch millis."""
        return self._codec.decode(self._data, plain=True)

    def snapshot(self) -> dict[str, Any]:
        """The stored ``LabResult``, timestamps as epoch millis."""
        return self.record()["snapshot"]


class State:
    """Lab instance id → encoded state record, as of the last commit."""

    def __init__(self) -> None:
        self.codec = SingleObjectCodec(schemas.STATE)
        self.key_codec = KeyCodec(schemas.KEY)
        self.checkpoint_codec = SingleObjectCodec(schemas.CHECKPOINT)
        self._records: dict[int, bytes] = {}
        self.raw = self._records.get
        """The encoded record of a lab instance, or None (the dict's own ``get``)."""
        self._key_header = self.key_codec.header
        self._value_header = self.codec.header
        self.last_poll_started_ms: int | None = None
        """Start of the last successful poll, from the checkpoint record."""

    def __len__(self) -> int:
        return len(self._records)

    def __contains__(self, lab_instance_id: int) -> bool:
        return lab_instance_id in self._records

    def __iter__(self) -> Iterator[int]:
        return iter(self._records)

    def get(self, lab_instance_id: int) -> StoredSnapshot | None:
        data = self._records.get(lab_instance_id)
        return None if data is None else StoredSnapshot(data, self.codec)

    def load(self, key: bytes, value: bytes | None) -> None:
        """Take one state-topic message during a restore; raises ``ValueError``.

        This runs once per record of the state topic, so it stays lean.
        """
        if not key.startswith(self._key_header):
            raise ValueError("key is not a single-object encoded LabInstanceId")
        # read_long(key, HEADER_SIZE), inlined: it is most of a restore's time.
        byte = key[HEADER_SIZE]
        number, shift, at = byte & 0x7F, 7, HEADER_SIZE + 1
        while byte & 0x80:
            byte = key[at]
            number |= (byte & 0x7F) << shift
            shift += 7
            at += 1
        lab_instance_id = (number >> 1) ^ -(number & 1)
        if value is None:
            self._records.pop(lab_instance_id, None)
        elif value.startswith(self._value_header):
            self._records[lab_instance_id] = value
        elif lab_instance_id == CHECKPOINT_KEY:
            self.last_poll_started_ms = self.checkpoint_codec.decode(value)["poll_started_ms"]
        else:
            raise ValueError("value is not a single-object encoded LabResultState")

    def put(self, lab_instance_id: int, data: bytes | None) -> None:
        """Store an encoded record; ``None`` (a tombstone) forgets the instance."""
        if data is None:
            self._records.pop(lab_instance_id, None)
        else:
            self._records[lab_instance_id] = data

    def expired(self, before_ms: int) -> list[int]:
        """Lab instances whose last change was detected before ``before_ms``."""
        return [i for i, data in self._records.items() if changed_ms(data) < before_ms]

    def apply(self, updates: dict[int, bytes | None]) -> None:
        """Apply the records of a committed transaction."""
        for lab_instance_id, data in updates.items():
            self.put(lab_instance_id, data)


def changed_ms(data: bytes) -> int:
    """The ``changed_ms`` field of an encoded state record."""
    _, offset = read_long(data, VERSION_AT)
    return read_long(data, offset)[0]
