"""The window planner."""

from producer.window import MAX_MINUTES, plan


def test_first_poll_asks_for_seven_days() -> None:
    window = plan(now=1_000_000.0, last_success_start=None, overlap_seconds=300)
    assert window.minutes == MAX_MINUTES and window.gap_seconds is None


def test_covers_time_since_last_success_plus_overlap_rounded_up() -> None:
    assert plan(10_000.0, 10_000.0 - 61, overlap_seconds=120).minutes == 4
    assert plan(10_000.0, 10_000.0 - 60, overlap_seconds=0).minutes == 1
    assert plan(10_000.0, 10_000.0, overlap_seconds=0).minutes == 1


def test_clamped_to_the_api_range_and_gap_reported() -> None:
    now = 100 * 86_400.0
    window = plan(now, now - 8 * 86_400, overlap_seconds=300)
    assert window.minutes == MAX_MINUTES
    assert window.gap_seconds == 8 * 86_400
    assert plan(now, now - 7 * 86_400 + 600, 300).gap_seconds is None


def test_clock_going_backwards_still_asks_a_valid_window() -> None:
    assert plan(1_000.0, 2_000.0, overlap_seconds=0).minutes == 1


def test_window_start() -> None:
    window = plan(10_000.0, 9_000.0, overlap_seconds=0)
    assert window.start == 10_000.0 - window.minutes * 60


def test_first_poll_after_a_restart_asks_seven_days_but_knows_the_gap() -> None:
    now = 100 * 86_400.0
    recent = plan(now, now - 3600, 300, first=True)
    assert recent.minutes == MAX_MINUTES and recent.gap_seconds is None
    long_ago = plan(now, now - 20 * 86_400, 300, first=True)
    assert long_ago.gap_seconds == 20 * 86_400


def test_a_long_gap_is_backfilled_in_ranges_of_at_most_seven_days() -> None:
    now = 100 * 86_400.0
    last = now - 20 * 86_400
    window = plan(now, last, overlap_seconds=300)
    ranges = window.backfill
    assert ranges[0].start == last - 300
    assert all(0 < r.end - r.start <= 7 * 86_400 for r in ranges)
    assert all(a.end == b.start for a, b in zip(ranges, ranges[1:]))
    # Backfill reaches past the start of the 7-day LatestResults window.
    assert ranges[-1].end >= window.start
    assert plan(now, last, 300, backfill=False).backfill == ()
