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
