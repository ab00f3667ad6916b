"""Sick-probe assessment: disagreeing with every other region on nearly everything."""

from __future__ import annotations

from picket.collector.consensus.sick import MIN_COMPARED, Comparison, assess


def rows(disagree: int, agree: int) -> list[Comparison]:
    bad = [Comparison(f"d{i}", probe_ok=False, others_ok=True) for i in range(disagree)]
    good = [Comparison(f"a{i}", probe_ok=True, others_ok=True) for i in range(agree)]
    return bad + good


def test_failing_everything_others_see_up_is_unhealthy() -> None:
    result = assess(rows(5, 0), currently_unhealthy=False)
    assert (result.unhealthy, result.compared, result.disagreed) == (True, 5, 5)


def test_a_few_comparisons_are_not_enough_to_judge() -> None:
    assert not assess(rows(MIN_COMPARED - 1, 0), currently_unhealthy=False).unhealthy
    # ...nor to re-admit a probe already set aside.
    assert assess(rows(0, MIN_COMPARED - 1), currently_unhealthy=True).unhealthy


def test_failures_that_other_regions_share_are_an_outage_not_a_sick_probe() -> None:
    shared = [Comparison(f"m{i}", probe_ok=False, others_ok=False) for i in range(5)]
    assert not assess(shared, currently_unhealthy=False).unhealthy


def test_some_regional_failures_do_not_make_a_probe_sick() -> None:
    assert not assess(rows(8, 2), currently_unhealthy=False).unhealthy
    assert assess(rows(9, 1), currently_unhealthy=False).unhealthy


def test_readmission_needs_most_checks_to_agree_again() -> None:
    assert assess(rows(6, 4), currently_unhealthy=True).unhealthy
    assert not assess(rows(5, 5), currently_unhealthy=True).unhealthy
