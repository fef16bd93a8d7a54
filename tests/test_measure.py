import asyncio

import pytest

from asyncio_patterns import measure, percentile, run_virtual, sweep


async def job(n):
    await asyncio.sleep(0.05)


def test_littles_law_holds_in_virtual_time():
    m = run_virtual(measure(job, jobs=200, concurrency=8))
    assert m.throughput == pytest.approx(8 / 0.05)
    assert m.p50 == m.p95 == pytest.approx(0.05)
    assert str(m) == "200 jobs at concurrency 8: 160.0 jobs/s, p50 50.0 ms, p95 50.0 ms"


def test_concurrency_is_never_exceeded_and_every_job_runs_once():
    running, most, seen = 0, 0, []

    async def counted(n):
        nonlocal running, most
        running += 1
        most = max(most, running)
        seen.append(n)
        await asyncio.sleep(0.01 * (n % 3 + 1))
        running -= 1

    run_virtual(measure(counted, jobs=50, concurrency=4))
    assert most == 4 and sorted(seen) == list(range(50))


def test_errors_are_counted_not_raised():
    async def flaky(n):
        await asyncio.sleep(0.01)
        if n % 5 == 0:
            raise ConnectionError

    m = run_virtual(measure(flaky, jobs=20, concurrency=2))
    assert m.errors == 4 and str(m).endswith("4 errors")


def test_sweep_gives_one_measurement_per_level():
    results = run_virtual(sweep(job, [1, 2, 4], jobs=8))
    assert [r.concurrency for r in results] == [1, 2, 4]
    assert [round(r.throughput) for r in results] == [20, 40, 80]


@pytest.mark.parametrize("kwargs, message", [
    ({"jobs": 0}, "jobs must be a whole number >= 1, got 0"),
    ({"concurrency": 2.5}, "concurrency must be a whole number >= 1, got 2.5"),
])
def test_bad_arguments_say_what_to_change(kwargs, message):
    with pytest.raises(ValueError, match=message):
        run_virtual(measure(job, **kwargs))


def test_percentile_interpolates():
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([5], 95) == 5
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1], 101)
