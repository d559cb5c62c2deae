"""Change events and state records built from detected changes.

Pure: turns a ``Change`` and the poll it came from into the Avro records of
``LabResultChangeEvent`` (the public contract) and ``LabResultState`` (the
state topic's value).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from producer import __version__
from producer.diff import Change

CONNECTOR = "lab-results-producer"
# Namespace of the deterministic event ids (uuid5 of instance, version, content).
EVENT_ID_NAMESPACE = uuid.UUID("6f1d3c3e-57a4-4d55-9b8e-2b5a0c7e4f21")


@dataclass(frozen=True, slots=True)
class PollContext:
    """What every event of one poll shares."""

    poll_id: str
    api_host: str
    command: str
    window_start_ms: int
    window_end_ms: int
    window_minutes: int | None
    detected_ms: int

    def source(self) -> dict[str, Any]:
        return {
            "connector": CONNECTOR,
            "version": __version__,
            "api_host": self.api_host,
            "command": self.command,
            "window_start_ms": self.window_start_ms,
            "window_end_ms": self.window_end_ms,
            "window_minutes": self.window_minutes,
            "poll_id": self.poll_id,
        }


def event_id(change: Change) -> str:
    """Same lab instance, version and content: same id, across restarts."""
    name = f"{change.lab_instance_id}/{change.version}/{change.fingerprint.hex()}"
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, name))


def change_event(change: Change, poll: PollContext, source: dict[str, Any]) -> dict[str, Any]:
    """The ``LabResultChangeEvent`` record of ``change``."""
    return {
        "before": change.before,
        "after": change.after,
        "op": change.op,
        "ts_ms": poll.detected_ms,
        "source": source,
        "version": change.version,
        "changed_fields": list(change.changed_fields),
        "event_id": event_id(change),
    }


def state_record(change: Change, poll: PollContext) -> dict[str, Any]:
    """The ``LabResultState`` record that makes ``change`` the published state."""
    return {
        "fingerprint": change.fingerprint,
        "version": change.version,
        "changed_ms": poll.detected_ms,
        "snapshot": change.after,
    }
