"""Lesson 09's demos: the fake connections see sharing, the timeline's pool shares nothing,
the sweep follows Little's law, and the real runs count connections as theory says."""

import asyncio
from statistics import fmean
import pytest

from asyncio_patterns import run_real, run_virtual
from asyncio_patterns.demos.pool import (COST_MODES, FakeService, connection_costs, connector_queue,
                                         little_throughput, little_wait, pool_sweep, pool_trace, pooled_run)


def test_a_fake_connection_notices_a_second_user():
    service = FakeService()

    async def main():
        conn = await service.connect()
        await asyncio.gather(conn.query(1.0), conn.query(1.0))

    run_virtual(main())
    assert service.shared == [(1, 0.0)]
    assert "conn 1 was handed to a second task while in use, at 0 s" in service.report()


def test_the_pool_trace_reuses_two_connections_and_shares_none():
    trace, service = pool_trace()
    assert service.shared == [] and len(service.connections) == 2 and service.still_open == []
    uses = [(s.lane, s.name, round(s.start, 6)) for s in trace.spans if s.name.startswith("conn ")]
    assert uses == [("task A", "conn 1", 0.1), ("task B", "conn 2", 0.3), ("task D", "conn 2", 1.3),
                    ("task C", "conn 1", 1.1)]
    assert trace.total("waiting", "task C") == pytest.approx(0.6)


def test_the_sweep_follows_littles_law():
    sizes = [1, 2, 3, 4, 6, 8, 12, 16, 32]
    results = pool_sweep(sizes, clients=16, requests=50, service_time=0.02, connect_cost=0.05)
    for size, result in zip(sizes, results):
        if 16 % size == 0 or size > 16:  # every round full: the one-off connect (0.05 s) is the only gap
            expected = 16 * 50 / (0.05 + 16 * 50 * 0.02 / min(size, 16))
            assert result.throughput == pytest.approx(expected, rel=1e-9)
        assert result.throughput <= little_throughput(size, 16, 0.02)
        # Little's law gives the mean wait; only each client's first acquire (1 in 50) differs from it
        theory = little_wait(size, 16, 0.02)
        assert abs(fmean(result.latencies) - theory) <= 2 * (theory + 0.05) / 50


def test_the_median_wait_is_not_what_littles_law_gives():
    three, twelve = pool_sweep([3, 12], clients=16, requests=50, service_time=0.02, connect_cost=0.05)
    assert (round(three.p50 * 1000), round(little_wait(3, 16, 0.02) * 1000, 1)) == (80, 86.7)
    assert (round(twelve.p50 * 1000), round(little_wait(12, 16, 0.02) * 1000, 1)) == (0, 6.7)


def test_a_new_connection_per_request_pays_the_connect_cost_each_time():
    runs = {mode: run_real(connection_costs(mode, requests=8, concurrency=2)) for mode in COST_MODES}
    assert [runs[m].stats.connections_opened for m in COST_MODES] == [8, 8, 2]
    assert runs["one shared session"].stats.setup_seconds == pytest.approx(0.1)
    assert runs["one shared session"].requests_per_second > runs["a session per request"].requests_per_second
    with pytest.raises(ValueError, match="mode must be one of"):
        run_real(connection_costs("pooled"))


def test_a_real_pool_opens_size_connections_and_keeps_size_in_flight():
    measurement, stats = run_real(pooled_run(2, clients=4, requests=3))
    assert (stats.connections_opened, stats.max_in_flight, stats.ok) == (2, 2, 12)
    assert measurement.jobs == 12 and len(measurement.latencies) == 12


def test_aiohttp_queues_requests_beyond_its_connector_limit():
    run = run_real(connector_queue(12, latency=0.2, limit=8))
    assert (run.stats.max_in_flight, run.stats.connections_opened, run.stats.ok) == (8, 8, 12)
    assert (run.limit, run.queued, run.per_round) == (8, 4, {1: 8, 2: 4})
    assert run.rounds[:8] == [1] * 8  # the first eight got a connection before any answer came back
    assert len(run.took) == 12 and min(run.took) >= 0.2


def test_a_per_host_limit_makes_three_rounds():
    run = run_real(connector_queue(9, latency=0.1, limit_per_host=3))
    assert (run.stats.max_in_flight, run.stats.connections_opened) == (3, 3)
    assert (run.limit, run.queued, run.per_round) == (3, 6, {1: 3, 2: 3, 3: 3})
