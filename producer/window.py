"""The window planner: what each poll asks the API for.

Pure. A LatestResults window covers the time since the start of the last
successful poll plus a safety overlap, rounded up to whole minutes and
clamped to the API's range (1..10080). The first poll after start-up asks for
the whole 7 days: diffing against the restored state makes re-reading old
results harmless. When the last successful poll is more than 7 days back,
LatestResults cannot reach it; the part it cannot cover is backfilled with the
Results command, in ranges of at most 7 days.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

MAX_MINUTES = 10_080
MAX_SECONDS = MAX_MINUTES * 60


@dataclass(frozen=True, slots=True)
class Range:
    """A ``Results`` request: lab instances that started or ended in [start, end]."""

    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Window:
    """One poll's plan: ``minutes`` back from ``end`` (epoch seconds), plus backfill."""

    minutes: int
    end: float
    gap_seconds: float | None = None
    """Time since the last successful poll started, when it exceeds 7 days."""
    backfill: tuple[Range, ...] = field(default=())

    @property
    def start(self) -> float:
        return self.end - self.minutes * 60


def plan(now: float, last_success_start: float | None, overlap_seconds: float, *,
         first: bool = False, backfill: bool = True) -> Window:
    """The plan for a poll starting at ``now``.

    ``last_success_start`` may come from before a restart (the checkpoint);
    ``first`` marks the first poll of this process, which asks for 7 days.
    """
    if last_success_start is None:
        return Window(MAX_MINUTES, now)
    elapsed = max(0.0, now - last_success_start)
    minutes = math.ceil((elapsed + overlap_seconds) / 60)
    minutes = MAX_MINUTES if first else min(max(minutes, 1), MAX_MINUTES)
    if elapsed <= MAX_SECONDS:
        return Window(minutes, now)
    ranges = backfill_ranges(last_success_start - overlap_seconds,
                             now - MAX_SECONDS + overlap_seconds) if backfill else ()
    return Window(minutes, now, elapsed, ranges)


def backfill_ranges(start: float, end: float) -> tuple[Range, ...]:
    """[start, end] cut into ``Results`` ranges of at most 7 days, oldest first."""
    ranges = []
    cursor = math.floor(start)
    stop = math.ceil(end)
    while cursor < stop:
        upper = min(cursor + MAX_SECONDS, stop)
        ranges.append(Range(cursor, upper))
        cursor = upper
    return tuple(ranges)
