"""Lab instances of the Skillable API simulator and the results they report.

A catalog, drawn once per seed, holds what lab instances are made of: lab
profiles with a pool of timelines each, users, classes, datacenters with
their lab hosts, and IP geolocations. Planning a launch picks from it with
one random draw, so half a million lab instances build in seconds, and a
lab instance keeps only references and a few integers.

`LabInstance.result` renders a timeline step as the API's 24-field result,
in the API's field order. Nothing here reads a clock or does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from random import Random
from typing import Any

from producer.sim.lifecycle import (
    COMPLETE,
    NO_ACTIVITY,
    RUNNING_STATUSES,
    LabProfile,
    Step,
    Timeline,
    draw_timeline,
)

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

TIMELINES_PER_PROFILE = 128
_PROFILE_COUNT = 40
_USER_COUNT = 20000
_EXAM_MAX_SCORES = (10, 50, 100, 100, 100, 200, 1000)


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
    timelines: tuple[tuple[Timeline, ...], ...]
    user_ids: tuple[str, ...]
    class_ids: tuple[str, ...]


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
    [
        f"{net}.{n}"
        for net in ("192.0.2", "198.51.100", "203.0.113")
        for n in range(1, 255)
    ]
    + [f"2001:db8:85a3::8a2e:370:{n:x}" for n in range(1, 129)]
)

DATACENTERS = (
    Datacenter(3, 2, 40, 60),
    Datacenter(4, 3, 120, 40),
    Datacenter(12, 5, 3300, 24),
    Datacenter(14, 6, 3307, 16),
    Datacenter(21, 7, 5100, 32),
    Datacenter(22, 7, 5200, 32),
)


def build_catalog(rng: Random) -> Catalog:
    """Draw the lab profiles (with their timelines), users and classes."""
    profile_ids = rng.sample(range(40000, 42000), _PROFILE_COUNT)
    profiles = tuple(_draw_profile(rng, pid) for pid in profile_ids)
    timelines = tuple(
        tuple(draw_timeline(rng, profile) for _ in range(TIMELINES_PER_PROFILE))
        for profile in profiles
    )
    user_ids = tuple(f"u-{rng.getrandbits(24):06x}" for _ in range(_USER_COUNT))
    class_ids = tuple(f"class-2025-q{1 + i % 4}-{i:03d}" for i in range(60))
    return Catalog(profiles, timelines, user_ids, class_ids)


def _draw_profile(rng: Random, lab_profile_id: int) -> LabProfile:
    is_exam = rng.random() < 0.25
    max_score = rng.choice(_EXAM_MAX_SCORES)
    return LabProfile(
        lab_profile_id=lab_profile_id,
        is_exam=is_exam,
        has_tasks=is_exam or rng.random() < 0.7,
        typical_seconds=rng.randrange(15, 150) * 60,
        max_score=max_score,
        passing_score=max(1, round(max_score * rng.uniform(0.6, 0.8))),
    )


class LabInstance:
    """One launched lab: its fixed attributes and its timeline."""

    __slots__ = (
        "lab_instance_id",
        "start",
        "profile",
        "timeline",
        "user_id",
        "class_id",
        "is_exam",
        "ip_address",
        "geo",
        "lab_host_id",
        "datacenter",
    )

    def __init__(
        self, lab_instance_id: int, start: int, profile: LabProfile, timeline: Timeline
    ) -> None:
        self.lab_instance_id = lab_instance_id
        self.start = start
        self.profile = profile
        self.timeline = timeline
        self.user_id: str | None = None
        self.class_id: str | None = None
        self.is_exam: bool | None = profile.is_exam
        self.ip_address: str | None = None
        self.geo = UNKNOWN_GEO
        self.lab_host_id: int | None = None
        self.datacenter = DATACENTERS[0]

    def step_at(self, now: int) -> Step | None:
        """The timeline step in force at epoch second `now`."""
        return self.timeline.step_at(now - self.start)

    def steps_until(self, now: int) -> list[Step]:
        """Every step that took effect by epoch second `now`, oldest first."""
        elapsed = now - self.start
        return [step for step in self.timeline.steps() if step[0] <= elapsed]

    def changed_at(self, step: Step) -> int:
        """Epoch second at which `step` became the lab instance's result."""
        return self.start + step[0]

    def result(self, step: Step) -> dict[str, Any]:
        """The result as the API reports it while `step` is in force."""
        offset, activity, status, task_percent = step
        start = self.start
        profile = self.profile
        geo = self.geo
        score = self.timeline.exam_score if status == COMPLETE else None
        scored = score is not None
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
            "ExamPassed": score >= profile.passing_score if scored else None,
            "ExamScore": score,
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


def plan_lab_instance(
    rng: Random, catalog: Catalog, lab_instance_id: int, start: int
) -> LabInstance:
    """Draw a lab instance launched at `start`.

    Every discrete choice is cut from one 96-bit draw (a choice among n is
    the remainder of a division by n), which is several times cheaper than
    a Random call per choice.
    """
    bits = rng.getrandbits(96)
    bits, profile_index = divmod(bits, len(catalog.profiles))
    bits, timeline_index = divmod(bits, TIMELINES_PER_PROFILE)
    profile = catalog.profiles[profile_index]
    timeline = catalog.timelines[profile_index][timeline_index]
    instance = LabInstance(lab_instance_id, start, profile, timeline)
    bits = _choose_people(bits, catalog, instance)
    _choose_placement(bits, instance)
    return instance


def _choose_people(bits: int, catalog: Catalog, instance: LabInstance) -> int:
    bits, percent = divmod(bits, 100)
    bits, user = divmod(bits, len(catalog.user_ids))
    if percent < 98:
        instance.user_id = catalog.user_ids[user]
    bits, percent = divmod(bits, 100)
    bits, class_index = divmod(bits, len(catalog.class_ids))
    if percent < 40:
        instance.class_id = catalog.class_ids[class_index]
    bits, percent = divmod(bits, 100)
    if percent < 3 and not instance.profile.is_exam:
        instance.is_exam = None
    return bits


def _choose_placement(bits: int, instance: LabInstance) -> None:
    bits, datacenter_index = divmod(bits, len(DATACENTERS))
    datacenter = DATACENTERS[datacenter_index]
    bits, host = divmod(bits, datacenter.lab_host_count)
    instance.datacenter = datacenter
    if instance.timeline.on_lab_host:
        instance.lab_host_id = datacenter.first_lab_host_id + host
    bits, percent = divmod(bits, 100)
    bits, address = divmod(bits, len(IP_ADDRESSES))
    if percent < 65:
        instance.ip_address = IP_ADDRESSES[address]
        bits, percent = divmod(bits, 100)
        if percent < 95:
            instance.geo = GEOS[bits % len(GEOS)]
