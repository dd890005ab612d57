"""The one backoff formula: doubling from a base, capped, jitter only upwards."""

from __future__ import annotations

import pytest

from monitor.core.backoff import backoff_delay


@pytest.mark.parametrize(
    ("attempt", "base", "cap", "expected"),
    [
        pytest.param(1, 30.0, 3600.0, 30.0, id="first-failure-waits-the-base"),
        pytest.param(2, 30.0, 3600.0, 60.0, id="then-doubles"),
        pytest.param(5, 30.0, 3600.0, 480.0, id="keeps-doubling"),
        pytest.param(8, 30.0, 3600.0, 3600.0, id="capped"),
        pytest.param(0, 30.0, 3600.0, 30.0, id="no-attempt-yet-counts-as-first"),
        pytest.param(10_000, 2.5, 60.0, 60.0, id="huge-attempt-no-overflow"),
        pytest.param(3, 3600.0, 21600.0, 14400.0, id="runner-shape"),
    ],
)
def test_backoff_doubles_up_to_the_cap(
    attempt: int, base: float, cap: float, expected: float
) -> None:
    assert backoff_delay(attempt, base=base, cap=cap) == expected


@pytest.mark.parametrize(
    ("draw", "expected"),
    [(0.0, 4.0), (0.5, 5.0), (0.99, 5.98)],  # 4 s stretched by up to half of it
)
def test_jitter_only_lengthens_the_wait(draw: float, expected: float) -> None:
    assert backoff_delay(3, base=1.0, cap=60.0, jitter=0.5, rng=lambda: draw) == pytest.approx(
        expected
    )


def test_jitter_never_passes_the_cap() -> None:
    assert backoff_delay(6, base=1.0, cap=40.0, jitter=0.5, rng=lambda: 0.99) == 40.0


def test_without_jitter_no_random_draw_is_made() -> None:
    def refuse() -> float:
        raise AssertionError("drew a random number")

    assert backoff_delay(2, base=1.0, cap=10.0, rng=refuse) == 2.0
