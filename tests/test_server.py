import asyncio
import json
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import aiohttp
import pytest

from asyncio_patterns import LabServer, measure, run_real
from asyncio_patterns.lab.server import main

# The console script pip installed beside this interpreter, as an instructor types it.
LABSERVER = [str(Path(sys.executable).with_name("asyncio-labserver"))]


async def fetch_all(server, n, concurrency, path="/items/{}"):
    async with aiohttp.ClientSession() as session:
        statuses = []

        async def get(i):
            async with session.get(server.url(path.format(i))) as response:
                await response.read()
                statuses.append(response.status)

        await measure(get, jobs=n, concurrency=concurrency)
        return statuses


def serve(coro_fn, **config):
    async def main():
        async with LabServer(**config) as server:
            return await coro_fn(server)

    return run_real(main())


def test_item_answers_json_after_the_latency():
    async def scenario(server):
        async with aiohttp.ClientSession() as session:
            began = time.perf_counter()
            async with session.get(server.url("/items/42")) as response:
                body = await response.json()
            return response.status, body, time.perf_counter() - began, server.stats

    status, body, took, stats = serve(scenario, latency=0.05)
    assert status == 200 and body == {"id": "42", "name": "item 42", "latency": 0.05}
    assert 0.05 <= took < 1.0
    assert (stats.requests, stats.ok, stats.connections_opened, stats.max_in_flight) == (1, 1, 1, 1)


def test_capacity_makes_extra_requests_wait():
    async def scenario(server):
        began = time.perf_counter()
        await fetch_all(server, 8, 8)
        return time.perf_counter() - began, server.stats

    took, stats = serve(scenario, latency=0.05, capacity=2)
    assert took >= 4 * 0.05  # 8 requests, 2 at a time
    assert stats.max_in_flight == 8 and stats.ok == 8


def test_failure_rate_is_seeded_and_roughly_right():
    def failures(seed):
        return serve(lambda s: fetch_all(s, 100, 20), latency=0, failure_rate=0.3, seed=seed).count(500)

    assert failures(1) == failures(1)
    assert 15 <= failures(1) <= 45


def test_outage_window_answers_503():
    async def scenario(server):
        return await fetch_all(server, 5, 5)

    assert serve(scenario, latency=0, outages=[(0, 60)]) == [503] * 5


def test_rate_limit_answers_429_with_retry_after():
    async def scenario(server):
        async with aiohttp.ClientSession() as session:
            answers = []
            for i in range(4):
                async with session.get(server.url(f"/items/{i}")) as response:
                    answers.append((response.status, response.headers.get("Retry-After")))
            return answers, server.stats

    answers, stats = serve(scenario, latency=0, rate_limit=2)
    assert answers[:2] == [(200, None), (200, None)]
    assert answers[2] == (429, "1") and stats.rate_limited >= 1


def test_rate_limit_counts_fixed_windows():
    async def scenario(server):
        statuses = []
        async with aiohttp.ClientSession() as session:
            for _ in range(2):  # 4 requests at once in one 0.2 s window, then 4 in the next
                for i in range(4):
                    async with session.get(server.url(f"/items/{i}")) as response:
                        statuses.append(response.status)
                await asyncio.sleep(0.25)
        return statuses, server.stats.rate_limited

    statuses, refused = serve(scenario, latency=0, rate_limit=3, rate_limit_window=0.2)
    assert statuses == [200, 200, 200, 429] * 2 and refused == 2


def test_stats_and_reset_over_http():
    async def scenario(server):
        await fetch_all(server, 3, 1)
        async with aiohttp.ClientSession() as session:
            async with session.get(server.url("/stats")) as response:
                before = await response.json()
            async with session.post(server.url("/reset")) as response:
                assert response.status == 200
        return before, server.stats

    before, after = serve(scenario, latency=0)
    assert before["requests"] == 3 and before["arrivals_per_second"] == [3]
    assert after.requests == 0 and after.in_flight == 0


def test_a_session_per_request_opens_a_connection_each():
    async def scenario(server):
        for i in range(3):
            async with aiohttp.ClientSession() as session:
                async with session.get(server.url(f"/items/{i}")) as response:
                    await response.read()
        await fetch_all(server, 6, 2)  # one shared session: at most 2 connections
        return server.stats.connections_opened

    assert serve(scenario, latency=0) == 5


@pytest.mark.parametrize("kwargs, message", [
    ({"latency": -1}, "latency must be a number >= 0, got -1"),
    ({"failure_rate": 1.5}, "failure_rate must be a number between 0 and 1, got 1.5"),
    ({"capacity": "8"}, "capacity must be a number >= 0, got '8'"),
])
def test_bad_config_says_what_to_change(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LabServer(**kwargs)


@pytest.mark.parametrize("argv, message", [
    (["--latency", "-0.5"], "argument --latency: must be >= 0, got -0.5"),
    (["--failure-rate", "2"], "argument --failure-rate: must be between 0 and 1, got 2"),
    (["--capacity", "lots"], "argument --capacity: expected a whole number, got 'lots'"),
    (["--port", "70000"], "argument --port: must be between 0 and 65535, got 70000"),
])
def test_command_line_rejects_bad_input_in_one_line(argv, message):
    result = subprocess.run([*LABSERVER, *argv],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"asyncio-labserver: error: {message} (see --help)"]


def test_command_line_help():
    result = subprocess.run([*LABSERVER, "--help"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and "--rate-limit" in result.stdout and "loopback" in result.stdout


def _sigint_as_in_a_terminal() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # Python then installs its KeyboardInterrupt handler


def test_command_line_serves_until_interrupted():
    # Started as a terminal starts it, with Python's own SIGINT handler, even where the tests
    # run with SIGINT ignored (a child inherits that); killed, whatever fails, before the test ends.
    proc = subprocess.Popen([*LABSERVER, "--port", "0", "--latency", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_sigint_as_in_a_terminal)
    try:
        line = proc.stdout.readline()
        url = line.split()[3]
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(url + "/items/5", timeout=10) as response:
            assert json.load(response)["id"] == "5"
        proc.send_signal(signal.SIGINT)  # as Ctrl-C
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def test_command_line_port_in_use():
    async def scenario(server):
        result = await asyncio.create_subprocess_exec(
            *LABSERVER, "--port", str(server.port),
            stderr=asyncio.subprocess.PIPE)
        try:
            _, err = await asyncio.wait_for(result.communicate(), 30)
        finally:  # one that served after all, or outlived the wait, must not outlive the test
            if result.returncode is None:
                result.kill()
                await result.wait()
        return result.returncode, err.decode()

    code, err = serve(scenario)
    assert code == 2 and "choose another --port" in err and len(err.strip().splitlines()) == 1


def test_connect_cost_delays_only_the_first_request_on_each_connection():
    async def scenario(server):
        async with aiohttp.ClientSession() as session:
            took = []
            for i in range(3):  # one session, one request at a time: one connection, reused
                began = time.perf_counter()
                async with session.get(server.url(f"/items/{i}")) as response:
                    await response.read()
                took.append(time.perf_counter() - began)
        async with aiohttp.ClientSession() as session:  # a new session: a new connection
            async with session.get(server.url("/items/9")) as response:
                await response.read()
        return took, server.stats

    took, stats = serve(scenario, latency=0.01, connect_cost=0.2)
    assert took[0] >= 0.21 and all(t < 0.2 for t in took[1:])
    assert (stats.requests, stats.ok, stats.connections_opened) == (4, 4, 2)
    assert stats.setup_seconds == pytest.approx(0.4)


def test_connect_cost_is_off_by_default_and_validated():
    assert LabServer().connect_cost == 0
    with pytest.raises(ValueError, match="connect_cost must be a number >= 0, got -0.1"):
        LabServer(connect_cost=-0.1)


def test_command_line_connect_cost():
    result = subprocess.run([*LABSERVER, "--connect-cost", "-1"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert result.stderr.strip() == "asyncio-labserver: error: argument --connect-cost: must be >= 0, got -1 (see --help)"
    result = subprocess.run([*LABSERVER, "--help"], capture_output=True, text=True, timeout=30)
    assert "--connect-cost" in result.stdout


def test_the_shared_command_line_pieces_give_one_line_errors():
    # lab.cli serves asyncio-labserver and asyncio-jobservice alike
    from asyncio_patterns.lab.cli import Parser, number_type

    parser = Parser(prog="demo")
    parser.add_argument("--n", type=number_type(1, 9, int))
    assert parser.parse_args(["--n", "3"]).n == 3
    with pytest.raises(SystemExit) as stopped:
        parser.parse_args(["--n", "10"])
    assert stopped.value.code == 2


def test_on_arrival_sees_each_request_counted_and_can_change_what_follows():
    class SlowsAfterTwo(LabServer):
        seen: list

        def on_arrival(self, elapsed):
            self.seen.append((self.stats.requests, elapsed >= 0))
            self.latency = 0.0 if self.stats.requests <= 2 else 0.3

    async def main():
        async with SlowsAfterTwo(latency=0.0) as server, aiohttp.ClientSession() as session:
            server.seen = []
            answered = []
            for i in range(3):
                async with session.get(server.url(f"/items/{i}")) as response:
                    answered.append((await response.json())["latency"])  # the latency it was served with
            return server.seen, answered

    seen, answered = run_real(main())
    assert seen == [(1, True), (2, True), (3, True)]
    assert answered == [0.0, 0.0, 0.3]
