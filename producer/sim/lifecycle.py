"""Lab instances of the Skillable API simulator: what launches and how it evolves.

A lab instance is planned in full at the moment it launches: its fixed
attributes (lab profile, user, class, geolocation, lab host) and its
timeline, the ordered list of results the API reports for it, each one in
force from a given second on. The result "at time t" is then a lookup, so it
is the same whenever and however often it is asked for. Nothing here reads
a clock or does I/O.

A timeline is stored as packed bytes (six bytes a step) so that half a
million lab instances fit in a modest amount of memory.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from random import Random
from typing import Any

RESULT_FIELDS = (
    "LabInstanceId",
    "LabProfileId",
    "Start",
    "End",
    "LastActivity",
    "UserId",
    "ClassId",
    "CompletionStatus",
    "TotalRunTimeSeconds",
    "TaskCompletePercent",
    "IsExam",
    "ExamPassed",
    "ExamScore",
    "ExamMaxPossibleScore",
    "ExamPassingScore",
    "IpAddress",
    "Country",
    "Region",
    "City",
    "Latitude",
    "Longitude",
    "LabHostId",
    "DatacenterId",
    "DeliveryRegionId",
)

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

# No lab instance changes later than this after its Start. Queries use it to
# skip lab instances that launched too early to matter.
MAX_LIFETIME_SECONDS = 6 * 3600

# One timeline step: seconds after Start at which the result took effect
# (also its TotalRunTimeSeconds), LastActivity as seconds after Start
# (NO_ACTIVITY for null), CompletionStatus, TaskCompletePercent.
Step = tuple[int, int, int, int]
_STEP = struct.Struct("<HHBB")
NO_ACTIVITY = 0xFFFF


@dataclass(frozen=True, slots=True)
class LabProfile:
    lab_profile_id: int
    is_exam: bool
    has_tasks: bool
    typical_seconds: int
    max_score: int
    passing_score: int


@dataclass(frozen=True, slots=True)
class Geo:
    country: str | None
    region: str | None
    city: str | None
    latitude: float | int | None
    longitude: float | int | None


@dataclass(frozen=True, slots=True)
class Datacenter:
    datacenter_id: int
    delivery_region_id: int
    first_lab_host_id: int
    lab_host_count: int


@dataclass(frozen=True, slots=True)
class Catalog:
    """What lab instances are drawn from; built once per simulator seed."""

    profiles: tuple[LabProfile, ...]
    user_ids: tuple[str, ...]
    class_ids: tuple[str, ...]
    datacenters: tuple[Datacenter, ...]


UNKNOWN_GEO = Geo(None, None, None, None, None)

# Country-level entries carry whole-number coordinates, as geolocation
# databases give for a country centroid; they serialise as JSON integers.
GEOS = (
    Geo("Switzerland", "Zürich", "Zürich", 47.376887, 8.541694),
    Geo("Switzerland", None, None, 47, 8),
    Geo("United States", "Washington", "Seattle", 47.606209, -122.332071),
    Geo("United States", "Texas", "Austin", 30.267153, -97.743061),
    Geo("United States", None, None, 37.751, -97.822),
    Geo("United Kingdom", "England", "London", 51.507351, -0.127758),
    Geo("Germany", "Hesse", "Frankfurt am Main", 50.110922, 8.682127),
    Geo("Germany", None, None, 51, 9),
    Geo("France", "Île-de-France", "Paris", 48.856614, 2.352222),
    Geo("India", "Karnataka", "Bengaluru", 12.971599, 77.594563),
    Geo("Japan", "Tokyo", "Tokyo", 35.676192, 139.650311),
    Geo("Brazil", "São Paulo", "São Paulo", -23.55052, -46.633309),
    Geo("Australia", "New South Wales", "Sydney", -33.86882, 151.209296),
    Geo("Canada", "Ontario", "Toronto", 43.653226, -79.383184),
    Geo("Singapore", None, "Singapore", 1.352083, 103.819836),
    Geo("South Africa", "Gauteng", "Johannesburg", -26.204103, 28.047305),
)

# Addresses from the documentation ranges (RFC 5737, RFC 3849).
IP_ADDRESSES = tuple(
    [f"{net}.{host}" for net in ("192.0.2", "198.51.100", "203.0.113") for host in range(1, 255)]
    + [f"2001:db8:85a3::8a2e:370:{host:x}" for host in range(1, 129)]
)

_DATACENTERS = (
    Datacenter(3, 2, 40, 60),
    Datacenter(4, 3, 120, 40),
    Datacenter(12, 5, 3300, 24),
    Datacenter(14, 6, 3307, 16),
    Datacenter(21, 7, 5100, 32),
    Datacenter(22, 7, 5200, 32),
)

_EXAM_MAX_SCORES = (10, 50, 100, 100, 100, 200, 1000)

# Ways a lab instance ends, with their weights for exams and other labs.
_COMPLETES = "complete"
_CANCELS = "cancel"
_NO_SHOWS = "no_show"
_CREATION_FAILS = "creation_failed"
_STORAGE_FAILS = "storage_failed"
_RESUME_FAILS = "resume_failed"
_SAVE_FAILS = "save_failed"
_ENDINGS = (
    _COMPLETES,
    _CANCELS,
    _NO_SHOWS,
    _CREATION_FAILS,
    _STORAGE_FAILS,
    _RESUME_FAILS,
    _SAVE_FAILS,
)
_ENDING_WEIGHTS = (68.0, 16.0, 8.0, 4.5, 0.6, 0.8, 0.8)
_ENDING_CUM_WEIGHTS = tuple(
    sum(_ENDING_WEIGHTS[: i + 1]) for i in range(len(_ENDING_WEIGHTS))
)
_SESSION_END_STATUS = {
    _COMPLETES: COMPLETE,
    _CANCELS: CANCELLED,
    _RESUME_FAILS: RESUME_FAILED,
    _SAVE_FAILS: SAVE_FAILED,
}


def build_catalog(rng: Random, profile_count: int = 40) -> Catalog:
    """Draw the lab profiles, users and classes that a simulator's labs use."""
    profile_ids = rng.sample(range(40000, 42000), profile_count)
    profiles = tuple(_draw_profile(rng, pid) for pid in profile_ids)
    user_ids = tuple(f"u-{rng.getrandbits(24):06x}" for _ in range(20000))
    class_ids = tuple(f"class-2025-q{1 + i % 4}-{i:03d}" for i in range(60))
    return Catalog(profiles, user_ids, class_ids, _DATACENTERS)


def _draw_profile(rng: Random, lab_profile_id: int) -> LabProfile:
    is_exam = rng.random() < 0.25
    max_score = rng.choice(_EXAM_MAX_SCORES)
    passing_score = max(1, round(max_score * rng.uniform(0.6, 0.8)))
    return LabProfile(
        lab_profile_id=lab_profile_id,
        is_exam=is_exam,
        has_tasks=is_exam or rng.random() < 0.7,
        typical_seconds=rng.randrange(15, 150) * 60,
        max_score=max_score,
        passing_score=passing_score,
    )


class LabInstance:
    """One launched lab: its fixed attributes and its packed timeline."""

    __slots__ = (
        "lab_instance_id",
        "start",
        "profile",
        "user_id",
        "class_id",
        "is_exam",
        "ip_address",
        "geo",
        "lab_host_id",
        "datacenter",
        "exam_score",
        "timeline",
    )

    def __init__(self, lab_instance_id: int, start: int, profile: LabProfile) -> None:
        self.lab_instance_id = lab_instance_id
        self.start = start
        self.profile = profile
        self.user_id: str | None = None
        self.class_id: str | None = None
        self.is_exam: bool | None = profile.is_exam
        self.ip_address: str | None = None
        self.geo = UNKNOWN_GEO
        self.lab_host_id: int | None = None
        self.datacenter = _DATACENTERS[0]
        self.exam_score: int | None = None
        self.timeline = b""

    def steps(self) -> list[Step]:
        """Every step of the timeline, including those still in the future."""
        return list(_STEP.iter_unpack(self.timeline))

    def step_at(self, now: int) -> Step | None:
        """The step in force at `now`, or None before the launch."""
        elapsed = now - self.start
        if elapsed < 0:
            return None
        last = _STEP.unpack_from(self.timeline, len(self.timeline) - _STEP.size)
        if last[0] <= elapsed:
            return last
        current = None
        for step in _STEP.iter_unpack(self.timeline):
            if step[0] > elapsed:
                break
            current = step
        return current

    def changed_at(self, step: Step) -> int:
        """Epoch second at which `step` became the lab instance's result."""
        return self.start + step[0]

    def result(self, step: Step) -> dict[str, Any]:
        """The result as the API reports it while `step` is in force."""
        offset, activity, status, task_percent = step
        start = self.start
        profile = self.profile
        geo = self.geo
        scored = status == COMPLETE and self.exam_score is not None
        return {
            "LabInstanceId": self.lab_instance_id,
            "LabProfileId": profile.lab_profile_id,
            "Start": start,
            "End": None if status in RUNNING_STATUSES else start + offset,
            "LastActivity": None if activity == NO_ACTIVITY else start + activity,
            "UserId": self.user_id,
            "ClassId": self.class_id,
            "CompletionStatus": status,
            "TotalRunTimeSeconds": offset,
            "TaskCompletePercent": task_percent,
            "IsExam": self.is_exam,
            "ExamPassed": self._passed() if scored else None,
            "ExamScore": self.exam_score if scored else None,
            "ExamMaxPossibleScore": profile.max_score if scored else None,
            "ExamPassingScore": profile.passing_score if scored else None,
            "IpAddress": self.ip_address,
            "Country": geo.country,
            "Region": geo.region,
            "City": geo.city,
            "Latitude": geo.latitude,
            "Longitude": geo.longitude,
            "LabHostId": self.lab_host_id,
            "DatacenterId": self.datacenter.datacenter_id,
            "DeliveryRegionId": self.datacenter.delivery_region_id,
        }

    def _passed(self) -> bool:
        return (self.exam_score or 0) >= self.profile.passing_score


def plan_lab_instance(
    rng: Random, catalog: Catalog, lab_instance_id: int, start: int
) -> LabInstance:
    """Draw a lab instance launched at `start`, with its whole timeline."""
    profile = rng.choice(catalog.profiles)
    instance = LabInstance(lab_instance_id, start, profile)
    _draw_people(rng, catalog, instance)
    _draw_placement(rng, catalog, instance)
    ending = rng.choices(_ENDINGS, cum_weights=_ENDING_CUM_WEIGHTS)[0]
    steps = _draw_timeline(rng, profile, ending)
    if ending == _COMPLETES and profile.is_exam:
        instance.exam_score = _draw_exam_score(rng, profile)
    if ending == _STORAGE_FAILS:
        instance.lab_host_id = None
    instance.timeline = b"".join(_STEP.pack(*step) for step in steps)
    return instance


def _draw_people(rng: Random, catalog: Catalog, instance: LabInstance) -> None:
    if rng.random() < 0.98:
        instance.user_id = rng.choice(catalog.user_ids)
    if rng.random() < 0.4:
        instance.class_id = rng.choice(catalog.class_ids)
    if not instance.profile.is_exam and rng.random() < 0.03:
        instance.is_exam = None


def _draw_placement(rng: Random, catalog: Catalog, instance: LabInstance) -> None:
    datacenter = rng.choice(catalog.datacenters)
    instance.datacenter = datacenter
    instance.lab_host_id = datacenter.first_lab_host_id + rng.randrange(
        datacenter.lab_host_count
    )
    if rng.random() < 0.65:
        instance.ip_address = rng.choice(IP_ADDRESSES)
        if rng.random() < 0.95:
            instance.geo = rng.choice(GEOS)


def _draw_exam_score(rng: Random, profile: LabProfile) -> int:
    return round(profile.max_score * rng.uniform(0.3, 1.0))


def _draw_timeline(rng: Random, profile: LabProfile, ending: str) -> list[Step]:
    launch: Step = (0, NO_ACTIVITY, INCOMPLETE, 0)
    if ending == _CREATION_FAILS:
        return [launch, (rng.randrange(8, 90), NO_ACTIVITY, LAB_CREATION_FAILED, 0)]
    if ending == _STORAGE_FAILS:
        failed_at = rng.randrange(3, 45)
        return [launch, (failed_at, NO_ACTIVITY, STORAGE_PROVISIONING_FAILED, 0)]
    if ending == _NO_SHOWS:
        return [launch, (rng.randrange(600, 1800), NO_ACTIVITY, NO_SHOW, 0)]
    return [launch, *_draw_session(rng, profile, ending)]


def _draw_session(rng: Random, profile: LabProfile, ending: str) -> list[Step]:
    """Activity updates, then the ending: the steps after the launch."""
    length = _draw_session_length(rng, profile, ending)
    final_percent = _draw_final_percent(rng, profile, ending)
    updates = rng.randint(1, 4)
    steps: list[Step] = []
    offset = activity = 0
    for number, at in enumerate(_activity_times(rng, length, updates), start=1):
        offset = at
        activity = max(activity, at - rng.randrange(0, 30))
        percent = final_percent * number // (updates + 1)
        steps.append((offset, activity, INCOMPLETE, percent))
    if ending != _RESUME_FAILS:
        activity = max(activity, length - rng.randrange(0, 30))
    if ending == _COMPLETES and profile.is_exam:
        return steps + _grading(rng, length, activity, final_percent)
    status = _SESSION_END_STATUS[ending]
    return [*steps, (length, activity, status, final_percent)]


def _draw_session_length(rng: Random, profile: LabProfile, ending: str) -> int:
    scale = rng.uniform(0.05, 0.7) if ending == _CANCELS else rng.uniform(0.4, 1.4)
    return min(4 * 3600, max(300, round(profile.typical_seconds * scale)))


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


def _grading(rng: Random, submitted: int, activity: int, percent: int) -> list[Step]:
    """Submitted for grading, grading in progress, then complete and scored."""
    grading = submitted + rng.randrange(30, 300)
    scored = grading + rng.randrange(20, 600)
    return [
        (submitted, activity, SUBMITTED_FOR_GRADING, percent),
        (grading, activity, GRADING_IN_PROGRESS, percent),
        (scored, activity, COMPLETE, percent),
    ]
