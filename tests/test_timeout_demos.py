"""Lesson 07's demos: the batch and swallow timelines (virtual time), the closed forms of the
shifted exponential, the virtual-time sweeps against them, and one small real run."""

import asyncio
import math
import random

import pytest

from asyncio_patterns import LabServer, TimedOut, percentile, run_real
from asyncio_patterns.demos.timeout import (
    ExpTail, StalledTail, batch_demo, hedge_run, hedge_sweep, hedged_quantile, hedged_survival, real_latencies,
    real_timeout_points, swallow_demo, timeout_sweep,
)

TAIL = ExpTail(latency=0.02, jitter=0.06)


def test_the_batch_ends_at_its_deadline_however_slow_the_slowest():
    batch = batch_demo(n=8, timeout=1.0)
    assert batch.elapsed == 1.0 and max(batch.latencies) > 4
    for result, latency in zip(batch.results, batch.latencies):
        assert (result == TimedOut(1.0)) == (latency >= 1.0)
    cut = [s for s in batch.trace.spans if s.name.endswith("deadline")]
    assert cut and all(s.end == 1.0 for s in cut)
    assert "2 TimedOut" in repr(batch) and sorted(batch.trace.lanes()) == sorted(f"request {i}" for i in range(8))


def test_swallowing_cancelled_error_runs_past_the_deadline_without_an_error():
    swallowed, raised = swallow_demo(swallow=True), swallow_demo(swallow=False)
    assert swallowed.ended == 3.5 and swallowed.outcome.startswith("no error at all")
    assert raised.ended == 1.5 and raised.outcome == "TimeoutError at t=1.5 s, on time"
    assert [m.time for m in swallowed.trace.marks] == [1.5]
    assert swallowed.trace.total("step run after the deadline") == 2.0


def test_the_closed_forms_of_the_shifted_exponential():
    assert TAIL.cdf(0.01) == 0 and TAIL.cdf(TAIL.quantile(0.95)) == pytest.approx(0.95)
    assert TAIL.quantile(0.5) == pytest.approx(0.02 + 0.06 * math.log(2))
    assert TAIL.mean_time(0.01) == 0.01 and TAIL.mean_time(100) == pytest.approx(0.08)
    rng = random.Random(1)
    draws = [TAIL.draw(rng) for _ in range(50_000)]
    for t in (0.05, 0.1, 0.3):
        assert sum(d <= t for d in draws) / len(draws) == pytest.approx(TAIL.cdf(t), abs=0.01)
        assert sum(min(d, t) for d in draws) / len(draws) == pytest.approx(TAIL.mean_time(t), rel=0.02)


def test_the_sampling_errors_are_the_spread_of_many_samples():
    rng, n = random.Random(2), 300
    samples = [[TAIL.draw(rng) for _ in range(n)] for _ in range(2000)]

    def spread(values):
        middle = sum(values) / len(values)
        return math.sqrt(sum((v - middle) ** 2 for v in values) / (len(values) - 1))

    assert spread([sum(s) / n for s in samples]) == pytest.approx(TAIL.mean_error(n), rel=0.1)
    for q in (0.5, 0.95, 0.99):
        assert spread([percentile(s, q * 100) for s in samples]) == pytest.approx(TAIL.quantile_error(q, n), rel=0.2)
    assert round(TAIL.mean_error(300) * 1000, 1) == 3.5 and round(TAIL.quantile_error(0.99, 300) * 1000, 1) == 34.5


STALLS = StalledTail(TAIL, stalled=0.02, stall=0.5)


def test_the_closed_forms_of_a_stalled_minority():
    assert STALLS.cdf(0.499) == pytest.approx(0.98 * TAIL.cdf(0.499)) and STALLS.cdf(0.5) == pytest.approx(0.98 * TAIL.cdf(0.5) + 0.02)
    for q in (0.5, 0.95, 0.979, 0.99, 0.9999):
        assert STALLS.cdf(STALLS.quantile(q)) >= q - 1e-12
        assert STALLS.cdf(STALLS.quantile(q) - 1e-9) < q  # the smallest latency that reaches q
    assert STALLS.quantile(0.99) == 0.5 and STALLS.survival(STALLS.quantile(0.95)) == pytest.approx(0.05)
    assert STALLS.mean_time(100) == pytest.approx(0.98 * 0.08 + 0.02 * 0.5)
    rng = random.Random(3)
    draws = [STALLS.draw(rng) for _ in range(50_000)]
    for t in (0.1, 0.3, 0.5, 0.6):
        assert sum(d <= t for d in draws) / len(draws) == pytest.approx(STALLS.cdf(t), abs=0.005)
        assert sum(min(d, t) for d in draws) / len(draws) == pytest.approx(STALLS.mean_time(t), rel=0.02)


def test_hedging_a_stalled_minority_cuts_the_p99_by_far_more_than_an_exponential_tail():
    # the lesson's numbers: p99 500 ms without a hedge, about 312 ms hedged at the p95 (theory)
    after = STALLS.quantile(0.95)
    assert round(after * 1000, 1) == 229.2
    assert hedged_survival(STALLS, after, 0.4) == pytest.approx(STALLS.survival(0.4) * STALLS.survival(0.4 - after))
    theory = hedged_quantile(STALLS, after, 0.99)
    assert round(theory * 1000) == 312 and hedged_survival(STALLS, after, theory) == pytest.approx(0.01)
    plain, hedge = hedge_sweep([None, after], STALLS, n=4000)
    assert plain.p99 == 0.5 and hedge.p99 == pytest.approx(theory, abs=0.03)
    assert hedge.extra_load == pytest.approx(0.05, abs=0.01)
    exponential_gain = TAIL.quantile(0.99) - hedged_quantile(TAIL, TAIL.quantile(0.95), 0.99)
    assert STALLS.quantile(0.99) - theory > 4 * exponential_gain


def test_the_virtual_sweep_follows_the_theory():
    points = timeout_sweep([0.04, 0.1, 0.2], latency=0.02, jitter=0.06, n=2000)
    for p in points:
        assert p.success_rate == pytest.approx(TAIL.cdf(p.timeout), abs=0.03)
        assert p.mean_time == pytest.approx(TAIL.mean_time(p.timeout), rel=0.03)
    assert points == timeout_sweep([0.04, 0.1, 0.2], latency=0.02, jitter=0.06, n=2000)  # deterministic


def test_hedged_theory():
    after = TAIL.quantile(0.95)
    assert hedged_survival(TAIL, after, after) == pytest.approx(0.05)
    t = after + 0.1
    assert hedged_survival(TAIL, after, t) == pytest.approx(TAIL.survival(t) * TAIL.survival(0.1))
    # past after + latency: P = exp(-(2t - d - 2l) / j), so p99 = l + d / 2 + (j / 2) ln 100
    assert hedged_quantile(TAIL, after, 0.99) == pytest.approx(0.02 + after / 2 + 0.03 * math.log(100))
    assert hedged_quantile(TAIL, TAIL.quantile(0.99), 0.99) == pytest.approx(TAIL.quantile(0.99))


def test_the_hedge_sweep_costs_the_share_past_the_trigger():
    plain, hedge = hedge_sweep([None, TAIL.quantile(0.9)], TAIL, n=2000)
    assert plain.extra_load == 0 and hedge.extra_load == pytest.approx(0.1, abs=0.02)
    assert hedge.p99 < plain.p99 and hedge.p50 == pytest.approx(plain.p50, rel=0.05)


def test_bad_arguments_say_what_to_pass():
    with pytest.raises(ValueError, match="timeouts must be a non-empty list"):
        timeout_sweep([], latency=0.02, jitter=0.06)
    with pytest.raises(ValueError, match="jitter must be a number of seconds > 0"):
        timeout_sweep([0.1], latency=0.02, jitter=0)
    with pytest.raises(ValueError, match="triggers must be a non-empty list"):
        hedge_sweep([], TAIL)


def test_a_small_real_run():
    async def main():
        async with LabServer(latency=0.005, jitter=0.005, seed=1) as server:
            sample = await real_latencies(server, n=40, concurrency=10)
            points = await real_timeout_points(server, [0.001, 1.0], n=20, concurrency=10)
            hedge = await hedge_run(server, n=20, after=0.0, concurrency=5)
        return sample, points, hedge

    sample, (none_in_time, all_in_time), hedge = run_real(main())
    assert len(sample) == 40 and min(sample) >= 0.005
    assert none_in_time.succeeded == 0 and all_in_time.succeeded == 20
    assert hedge.jobs == 20 and 20 < hedge.sent <= 40
