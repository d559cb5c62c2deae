"""The window planner: how many minutes each LatestResults poll asks for.

Pure. The window covers the time since the start of the last successful poll
plus a safety overlap, rounded up to whole minutes and clamped to the API's
range (1..10080). The first poll after start-up asks for the whole 7 days:
diffing against the restored state makes re-reading old results harmless.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MAX_MINUTES = 10_080
MAX_SECONDS = MAX_MINUTES * 60


@dataclass(frozen=True, slots=True)
class Window:
    """One poll's window: ``minutes`` back from ``end`` (epoch seconds)."""

    minutes: int
    end: float
    gap_seconds: float | None = None
    """Time since the last successful poll started, when it exceeds 7 days."""

    @property
    def start(self) -> float:
        return self.end - self.minutes * 60


def plan(now: float, last_success_start: float | None, overlap_seconds: float) -> Window:
    """The window for a poll starting at ``now``."""
    if last_success_start is None:
        return Window(MAX_MINUTES, now)
    elapsed = max(0.0, now - last_success_start)
    minutes = math.ceil((elapsed + overlap_seconds) / 60)
    minutes = min(max(minutes, 1), MAX_MINUTES)
    gap = elapsed if elapsed > MAX_SECONDS else None
    return Window(minutes, now, gap)
