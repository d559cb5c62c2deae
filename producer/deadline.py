"""A point in time that a poll cycle must finish by, which a stop can bring forward."""

from __future__ import annotations

import time
from collections.abc import Callable


class Deadline:
    """Absolute deadline on the monotonic clock."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.at = clock() + seconds

    def remaining(self) -> float:
        return self.at - self._clock()

    def expired(self) -> bool:
        return self.remaining() <= 0

    def shorten(self, seconds: float) -> None:
        """Bring the deadline forward to at most ``seconds`` from now."""
        self.at = min(self.at, self._clock() + seconds)
