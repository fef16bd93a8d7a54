import signal

import pytest

from asyncio_patterns.demos.event.threads import SIGNAL_MODES, signal_set_demo, thread_set_demo


def test_set_from_a_thread_waits_for_the_loops_next_timer():
    result = thread_set_demo(safe=False, set_after=0.02, timeout=0.2)
    assert not result.prompt
    assert result.woke_after == pytest.approx(0.18, abs=0.05)


def test_call_soon_threadsafe_wakes_the_loop_at_once():
    result = thread_set_demo(safe=True, set_after=0.02, timeout=0.2)
    assert result.prompt and result.woke_after < 0.05
    assert repr(result) == "loop.call_soon_threadsafe(event.set): the waiter woke promptly: True"


@pytest.mark.skipif(not hasattr(signal, "SIGUSR1"), reason="needs SIGUSR1 (Unix)")
def test_only_the_signal_handler_that_sets_directly_is_late():
    results = signal_set_demo(send_after=0.02, timeout=0.2)
    assert [r.how for r in results] == list(SIGNAL_MODES)
    assert [r.prompt for r in results] == [False, True, True]


def test_timeout_must_outlast_the_set():
    with pytest.raises(ValueError, match="timeout must be longer than set_after"):
        thread_set_demo(set_after=0.5, timeout=0.1)
    with pytest.raises(ValueError, match=r"^timeout must be longer than send_after, got timeout=0.2 send_after=0.3$"):
        signal_set_demo(send_after=0.3, timeout=0.2)
