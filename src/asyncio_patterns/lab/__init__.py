"""The bench every lesson uses: it runs, measures and draws, and knows no lesson.

- ``clock``: run a coroutine in virtual time (instant, exact, deterministic) or real time;
- ``faults``: try a scenario with a cancel at every await and an error from every call;
- ``loopthread``: the one way to run a loop in a thread of its own (the runners, the checkers);
- ``trace``: record what each task does as named spans;
- ``stuck``: where every pending task waits (a snapshot, a tree of who awaits whom on 3.14+);
- ``measure``: throughput and latency percentiles of N jobs at a concurrency;
- ``plots``: timelines of a trace, sweeps of a knob with theory dashed;
- ``server``: the lab HTTP server on 127.0.0.1 (``asyncio-labserver`` from a shell);
- ``cli``: the command lines' argument parser (one-line errors, exit status 2);
- ``arrivals``, ``depth``, ``memory``: arrivals per second, queue depth over time, memory used;
- ``validate``: the argument checks behind every one-line ``ValueError``.
"""
