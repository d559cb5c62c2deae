"""How a simulated lab instance evolves: completion statuses and timelines.

A timeline is the ordered list of results the API reports for one lab
instance, each in force from a given second after its Start. It is drawn in
full at launch, following the documented lifecycle: the lab launches
(Incomplete, End null, no activity yet), gets activity updates
(LastActivity, TotalRunTimeSeconds and TaskCompletePercent rise), then ends
one way: Complete, Cancelled, No Show, Resume Failed or Save Failed; for an
exam, Submitted For Grading, Grading In Progress, then Complete with the
exam fields set; or it fails early (Lab Creation Failed, Storage
Provisioning Failed, LastActivity null). Once ended it never changes.

Timelines are packed, six bytes a step, and shared: each lab profile has a
pool of them and every launch picks one. Nothing here reads a clock.
"""

from __future__ import annotations

import struct
from bisect import bisect
from dataclasses import dataclass
from random import Random

CANCELLED = 1
NO_SHOW = 2
INCOMPLETE = 3
COMPLETE = 4
STORAGE_PROVISIONING_FAILED = 10
LAB_CREATION_FAILED = 20
RESUME_FAILED = 30
SAVE_FAILED = 40
SUBMITTED_FOR_GRADING = 50
GRADING_IN_PROGRESS = 60

COMPLETION_STATUSES = frozenset({1, 2, 3, 4, 10, 20, 30, 40, 50, 60})
RUNNING_STATUSES = frozenset({INCOMPLETE, SUBMITTED_FOR_GRADING, GRADING_IN_PROGRESS})

# No lab instance changes later than this after its Start (sessions last at
# most four hours, grading at most fifteen minutes more).
MAX_LIFETIME_SECONDS = 6 * 3600
_MAX_SESSION_SECONDS = 4 * 3600

# One step: seconds after Start at which the result took effect (also its
# TotalRunTimeSeconds), LastActivity as seconds after Start (NO_ACTIVITY for
# null), CompletionStatus, TaskCompletePercent.
Step = tuple[int, int, int, int]
NO_ACTIVITY = 0xFFFF
_STEP = struct.Struct("<HHBB")

# Ways a lab instance ends, and how often.
_COMPLETES = "complete"
_CANCELS = "cancel"
_NO_SHOWS = "no_show"
_CREATION_FAILS = "creation_failed"
_STORAGE_FAILS = "storage_failed"
_RESUME_FAILS = "resume_failed"
_SAVE_FAILS = "save_failed"
_ENDINGS = (
    (_COMPLETES, 68.0),
    (_CANCELS, 16.0),
    (_NO_SHOWS, 8.0),
    (_CREATION_FAILS, 4.5),
    (_STORAGE_FAILS, 0.6),
    (_RESUME_FAILS, 0.8),
    (_SAVE_FAILS, 0.8),
)
_ENDING_BOUNDS = tuple(
    sum(w for _, w in _ENDINGS[: i + 1]) for i in range(len(_ENDINGS))
)
_SESSION_END_STATUS = {
    _COMPLETES: COMPLETE,
    _CANCELS: CANCELLED,
    _RESUME_FAILS: RESUME_FAILED,
    _SAVE_FAILS: SAVE_FAILED,
}


@dataclass(frozen=True, slots=True)
class LabProfile:
    """The lab a lab instance is based on, and what its sessions look like."""

    lab_profile_id: int
    is_exam: bool
    has_tasks: bool
    typical_seconds: int
    max_score: int
    passing_score: int


@dataclass(frozen=True, slots=True)
class Timeline:
    """The results of one lab instance as offsets from its Start."""

    packed: bytes
    exam_score: int | None
    on_lab_host: bool

    def steps(self) -> list[Step]:
        return list(_STEP.iter_unpack(self.packed))

    def step_at(self, elapsed: int) -> Step | None:
        """The step in force `elapsed` seconds after Start (None before it)."""
        if elapsed < 0:
            return None
        last = _STEP.unpack_from(self.packed, len(self.packed) - _STEP.size)
        if last[0] <= elapsed:
            return last
        current = None
        for step in _STEP.iter_unpack(self.packed):
            if step[0] > elapsed:
                break
            current = step
        return current


def draw_timeline(rng: Random, profile: LabProfile) -> Timeline:
    """Draw how one lab instance of `profile` goes, from launch to its end."""
    point = rng.random() * _ENDING_BOUNDS[-1]
    ending = _ENDINGS[bisect(_ENDING_BOUNDS, point)][0]
    steps = [(0, NO_ACTIVITY, INCOMPLETE, 0), *_draw_steps(rng, profile, ending)]
    exam_score = None
    if ending == _COMPLETES and profile.is_exam:
        exam_score = round(profile.max_score * rng.uniform(0.3, 1.0))
    packed = b"".join(_STEP.pack(*step) for step in steps)
    return Timeline(packed, exam_score, on_lab_host=ending != _STORAGE_FAILS)


def _draw_steps(rng: Random, profile: LabProfile, ending: str) -> list[Step]:
    """The steps after the launch."""
    if ending == _CREATION_FAILS:
        return [(rng.randrange(8, 90), NO_ACTIVITY, LAB_CREATION_FAILED, 0)]
    if ending == _STORAGE_FAILS:
        return [(rng.randrange(3, 45), NO_ACTIVITY, STORAGE_PROVISIONING_FAILED, 0)]
    if ending == _NO_SHOWS:
        return [(rng.randrange(600, 1800), NO_ACTIVITY, NO_SHOW, 0)]
    return _draw_session(rng, profile, ending)


def _draw_session(rng: Random, profile: LabProfile, ending: str) -> list[Step]:
    """Activity updates, then the ending of a lab the user worked in."""
    length = _draw_session_length(rng, profile, ending)
    final_percent = _draw_final_percent(rng, profile, ending)
    updates = rng.randint(1, 4)
    steps: list[Step] = []
    activity = 0
    for number, at in enumerate(_activity_times(rng, length, updates), start=1):
        activity = max(activity, at - rng.randrange(0, 30))
        percent = final_percent * number // (updates + 1)
        steps.append((at, activity, INCOMPLETE, percent))
    if ending != _RESUME_FAILS:
        activity = max(activity, length - rng.randrange(0, 30))
    if ending == _COMPLETES and profile.is_exam:
        return steps + _draw_grading(rng, length, activity, final_percent)
    status = _SESSION_END_STATUS[ending]
    return [*steps, (length, activity, status, final_percent)]


def _draw_session_length(rng: Random, profile: LabProfile, ending: str) -> int:
    scale = rng.uniform(0.05, 0.7) if ending == _CANCELS else rng.uniform(0.4, 1.4)
    return min(_MAX_SESSION_SECONDS, max(300, round(profile.typical_seconds * scale)))


def _draw_final_percent(rng: Random, profile: LabProfile, ending: str) -> int:
    if not profile.has_tasks:
        return 0
    if ending == _COMPLETES:
        return rng.choice((100, 100, 100, 90, 80, 75, 67, 50))
    return rng.randrange(0, 80)


def _activity_times(rng: Random, length: int, updates: int) -> list[int]:
    """`updates` strictly increasing offsets within (0, length)."""
    times = sorted(rng.randrange(30, length - updates) for _ in range(updates))
    for i in range(1, updates):
        times[i] = max(times[i], times[i - 1] + 1)
    return times


def _draw_grading(
    rng: Random, submitted: int, activity: int, percent: int
) -> list[Step]:
    """Submitted for grading, grading in progress, then complete and scored."""
    grading = submitted + rng.randrange(30, 300)
    scored = grading + rng.randrange(20, 600)
    return [
        (submitted, activity, SUBMITTED_FOR_GRADING, percent),
        (grading, activity, GRADING_IN_PROGRESS, percent),
        (scored, activity, COMPLETE, percent),
    ]
