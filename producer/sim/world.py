"""The simulated Skillable account: a clock and the lab instances launched on it.

`Simulator` answers the questions the API commands ask (latest results in
a window, results in a time range) and the one the tests ask (every state
each lab instance went through), all at the current simulated time.

Simulated time is `start_time + wall seconds × speed + advances`, in epoch
seconds. Lab instances launch as a Poisson process at `rate` per simulated
hour, drawn from one seeded random stream in launch order; each timeline is
fixed at launch. So the whole history is a pure function of the seed, the
settings and the simulated time: two simulators built alike agree.
"""

from __future__ import annotations

import threading
import time
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator, Mapping
from random import Random
from typing import Any, NamedTuple

from producer.sim.faults import FaultPlan
from producer.sim.labs import LabInstance, build_catalog, plan_lab_instance
from producer.sim.lifecycle import MAX_LIFETIME_SECONDS

DEFAULT_API_KEY = "sim-key"
DEFAULT_RATE = 30.0
SEVEN_DAYS_SECONDS = 7 * 24 * 3600

Result = dict[str, Any]


class History(NamedTuple):
    """Every state of each lab instance up to `now`, oldest first."""

    now: int
    instances: dict[int, list[Result]]


class SimClock:
    """Simulated epoch time that runs at `speed` and can be frozen or advanced."""

    def __init__(
        self,
        start_time: float,
        speed: float,
        wall: Callable[[], float] = time.monotonic,
    ) -> None:
        self._wall = wall
        self._lock = threading.Lock()
        self._base = float(start_time)
        self._wall_base = wall()
        self.speed = speed
        self.frozen = False

    def now(self) -> float:
        with self._lock:
            return self._now()

    def freeze(self) -> None:
        """Stop the clock where it is; advance() still moves it."""
        with self._lock:
            self._base = self._now()
            self.frozen = True

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the simulated clock cannot go backwards")
        with self._lock:
            self._base += seconds

    def _now(self) -> float:
        if self.frozen:
            return self._base
        return self._base + (self._wall() - self._wall_base) * self.speed


class Simulator:
    """Lab instances of one simulated account, queried at simulated time.

    seed: fixes the catalog, every launch and every timeline.
    speed: simulated seconds per wall second (0: the clock stands still
        until advance() moves it).
    start_time: simulated epoch seconds when the simulator is ready
        (default: the wall clock's).
    rate: lab launches per simulated hour, from start_time on.
    initial_instances: lab instances launched over the seven days before
        start_time, all with their latest change inside that window.
    api_key: the `api_key` header value the API commands accept.
    faults: a FaultPlan, or fault name -> probability per API request.
    """

    def __init__(
        self,
        seed: int = 0,
        speed: float = 1.0,
        start_time: int | None = None,
        *,
        rate: float = DEFAULT_RATE,
        initial_instances: int = 0,
        api_key: str = DEFAULT_API_KEY,
        faults: FaultPlan | Mapping[str, float] | None = None,
    ) -> None:
        if speed < 0 or rate < 0 or initial_instances < 0:
            raise ValueError("speed, rate and initial_instances must not be negative")
        self.seed = seed
        self.rate = rate
        self.api_key = api_key
        self.start_time = int(time.time() if start_time is None else start_time)
        self.faults = _fault_plan(faults, seed)
        catalog_rng = Random(f"skillable-sim:{seed}:catalog")
        self.catalog = build_catalog(catalog_rng)
        self.first_lab_instance_id = 80_000_000 + catalog_rng.randrange(10_000_000)
        self._lock = threading.Lock()
        self._instances: list[LabInstance] = []
        self._starts = array("q")
        self._seed_initial_instances(initial_instances)
        self._launch_rng = Random(f"skillable-sim:{seed}:launches")
        self._next_launch = self.start_time + self._launch_gap()
        self.clock = SimClock(self.start_time, speed)

    # The clock.

    def now(self) -> int:
        """The simulated time in whole epoch seconds."""
        return int(self.clock.now())

    def freeze(self) -> None:
        """Stop the simulated clock: no lab instance changes from now on."""
        self.clock.freeze()

    def advance(self, seconds: float) -> int:
        """Move the simulated clock forward; returns the new time."""
        self.clock.advance(seconds)
        return self.now()

    @property
    def frozen(self) -> bool:
        return self.clock.frozen

    @property
    def lab_instance_count(self) -> int:
        """Lab instances launched so far (at the current simulated time)."""
        self._launch_until(self.now())
        return len(self._instances)

    # The questions the API commands ask.

    def latest_results(self, minutes: int) -> list[Result]:
        """Current results of the lab instances that changed in the last `minutes`."""
        now = self.now()
        cutoff = now - minutes * 60
        found = []
        earliest = cutoff - MAX_LIFETIME_SECONDS
        for instance in self._launched_between(earliest, now, now):
            step = instance.step_at(now)
            if step is not None and instance.changed_at(step) >= cutoff:
                found.append(instance.result(step))
        return found

    def results(self, start: int, end: int) -> list[Result]:
        """Current results of lab instances that started or ended in [start, end]."""
        now = self.now()
        found = []
        earliest = start - MAX_LIFETIME_SECONDS
        for instance in self._launched_between(earliest, min(end, now), now):
            step = instance.step_at(now)
            if step is None:
                continue
            result = instance.result(step)
            ended = result["End"]
            if start <= instance.start <= end or (
                ended is not None and start <= ended <= end
            ):
                found.append(result)
        return found

    def history(self, lab_instance_id: int | None = None) -> History:
        """Every distinct result of each lab instance up to now, in order."""
        now = self.now()
        if lab_instance_id is None:
            chosen: Iterator[LabInstance] = self._launched_between(0, now, now)
        else:
            chosen = iter(self._find(lab_instance_id, now))
        instances = {i.lab_instance_id: _states_until(i, now) for i in chosen}
        return History(now, instances)

    # Launching lab instances.

    def _seed_initial_instances(self, count: int) -> None:
        """Lab instances launched over the seven days before start_time."""
        rng = Random(f"skillable-sim:{self.seed}:initial")
        first = self.start_time - SEVEN_DAYS_SECONDS + 60
        span = SEVEN_DAYS_SECONDS - 120
        for number in range(count):
            start = first + int((number + rng.random()) * span / count)
            self._add(plan_lab_instance(rng, self.catalog, self._next_id(), start))

    def _launch_until(self, now: int) -> int:
        with self._lock:
            while self.rate > 0 and self._next_launch <= now:
                start = int(self._next_launch)
                instance = plan_lab_instance(
                    self._launch_rng, self.catalog, self._next_id(), start
                )
                self._add(instance)
                self._next_launch += self._launch_gap()
            return len(self._instances)

    def _launch_gap(self) -> float:
        if self.rate <= 0:
            return float("inf")
        return self._launch_rng.expovariate(self.rate / 3600.0)

    def _next_id(self) -> int:
        return self.first_lab_instance_id + len(self._instances)

    def _add(self, instance: LabInstance) -> None:
        self._instances.append(instance)
        self._starts.append(instance.start)

    def _launched_between(
        self, first: int, last: int, now: int
    ) -> Iterator[LabInstance]:
        """Lab instances with first <= Start <= last, in LabInstanceId order."""
        count = self._launch_until(now)
        low = bisect_left(self._starts, first, 0, count)
        high = bisect_right(self._starts, last, 0, count)
        return iter(self._instances[low:high])

    def _find(self, lab_instance_id: int, now: int) -> list[LabInstance]:
        count = self._launch_until(now)
        index = lab_instance_id - self.first_lab_instance_id
        if 0 <= index < count and self._instances[index].start <= now:
            return [self._instances[index]]
        return []


def _fault_plan(faults: FaultPlan | Mapping[str, float] | None, seed: int) -> FaultPlan:
    if isinstance(faults, FaultPlan):
        return faults
    return FaultPlan(faults or {}, seed=seed)


def _states_until(instance: LabInstance, now: int) -> list[Result]:
    return [instance.result(step) for step in instance.steps_until(now)]
