import tracemalloc

from asyncio_patterns.lab.memory import MemoryUse, traced_memory


def test_counts_what_the_block_allocates_and_keeps():
    with traced_memory() as used:
        kept = [bytearray(1000) for _ in range(1000)]
    assert 1_000_000 <= used.current <= used.peak < 1_500_000
    assert not tracemalloc.is_tracing()  # it started tracing, so it stopped it
    del kept


def test_freed_memory_still_shows_in_the_peak():
    with traced_memory() as used:
        temporary = bytearray(2_000_000)
        del temporary
    assert used.current < 100_000 and used.peak >= 2_000_000


def test_an_outer_trace_keeps_running_and_only_the_block_is_counted():
    tracemalloc.start()
    try:
        before = bytearray(3_000_000)
        with traced_memory() as used:
            inside = bytearray(1_000_000)
        assert tracemalloc.is_tracing()
        assert 1_000_000 <= used.peak < 1_100_000
        del before, inside
    finally:
        tracemalloc.stop()


def test_prints_in_megabytes():
    assert str(MemoryUse(current=1_250_000, peak=26_400_000)) == "1.2 MB still allocated, 26.4 MB at peak"
