"""Change detection: which results of an answer differ from the published state.

Pure: no network, no Kafka. A result is compared with the last snapshot
published for its lab instance (or with an earlier result for the same
instance in the same answer). Equal fingerprints mean equal values; different
fingerprints are confirmed field by field, comparing values (never text), with
the excluded fields left out. Absence from an answer is not a change.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
import xxhash

from producer import model
from producer.state import FINGERPRINT_AT, VERSION_AT, State

CREATE = "c"
UPDATE = "u"

_encode = msgspec.msgpack.Encoder().encode
_xxh3 = xxhash.xxh3_64_digest


@dataclass(frozen=True, slots=True)
class Change:
    """One change to publish."""

    lab_instance_id: int
    op: str
    version: int
    before: dict[str, Any] | None
    after: dict[str, Any]
    changed_fields: tuple[str, ...]
    fingerprint: bytes


def fingerprint(result: Any) -> bytes:
    """64-bit hash (XXH3) of a result's values: msgspec's MessagePack of the struct.

    Canonical because the struct holds typed values in schema order (1 and
    1.0 in a double field are both 1.0), whatever the API's text looked like.
    """
    return _xxh3(_encode(result))


class Differ:
    """Compares answers with the state, leaving ``exclude_fields`` out."""

    def __init__(self, exclude_fields: Iterable[str] = ()) -> None:
        excluded = frozenset(exclude_fields)
        unknown = sorted(excluded - set(model.FIELDS))
        if unknown:
            raise ValueError(f"unknown LabResult field(s): {', '.join(unknown)}")
        if "LabInstanceId" in excluded:
            raise ValueError("LabInstanceId is the key and cannot be excluded")
        self.compared = tuple(f for f in model.FIELDS if f not in excluded)

    def diff(self, results: Sequence[Any], state: State,
             pending: dict[int, Change] | None = None) -> list[Change]:
        """The changes in ``results``, in answer order.

        ``pending`` holds changes not yet committed (from earlier answers of
        the same poll); it is updated with the new ones.
        """
        changes: list[Change] = []
        pending = {} if pending is None else pending
        stored = state.raw
        for result in results:
            lab_instance_id = result.LabInstanceId
            digest = fingerprint(result)
            # The common case, first and cheap: unchanged since the last commit.
            data = stored(lab_instance_id)
            if (data is not None and data[FINGERPRINT_AT:VERSION_AT] == digest
                    and lab_instance_id not in pending):
                continue
            change = self._change(result, digest, state, pending)
            if change is not None:
                pending[lab_instance_id] = change
                changes.append(change)
        return changes

    def _change(self, result: Any, digest: bytes, state: State,
                pending: dict[int, Change]) -> Change | None:
        earlier = pending.get(result.LabInstanceId)
        if earlier is not None:
            return self._against(result, digest, earlier.version, earlier.fingerprint,
                                 lambda: earlier.after)
        stored = state.get(result.LabInstanceId)
        if stored is None:
            return Change(result.LabInstanceId, CREATE, 1, None, model.to_avro(result),
                          (), digest)
        return self._against(result, digest, stored.version, stored.fingerprint,
                             stored.snapshot)

    def _against(self, result: Any, digest: bytes, version: int,
                 previous_digest: bytes, previous: Any) -> Change | None:
        if digest == previous_digest:
            return None
        before = previous()
        after = model.to_avro(result)
        changed = tuple(f for f in self.compared if before.get(f) != after[f])
        if not changed:
            return None
        return Change(result.LabInstanceId, UPDATE, version + 1, before, after,
                      changed, digest)
