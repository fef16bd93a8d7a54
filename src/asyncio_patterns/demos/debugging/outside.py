"""Look at a stuck program from outside: start one of :mod:`.programs` in a process of its own,
then read its tasks with ``python -m asyncio pstree`` (Python 3.14+), with the sampling
profiler's stack dump (3.15+), or with the task dump it prints on SIGUSR1.

    with stuck_program("deadlock") as program:
        print(pstree(program))

The process is killed when the ``with`` block ends, however it ends, and ends itself after
``limit`` seconds in any case. Output is shortened by :func:`~asyncio_patterns.lab.stuck.shorten`
(file names without their directories, no line numbers inside the standard library) and
loses the task ids, which change every run.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from ...lab.stuck import shorten

__all__ = ["Program", "dangling_warnings", "pstree", "stack_dump", "stuck_program", "task_dump"]

PROGRAMS = ("dangling", "deadlock", "stall")  # the programs of .programs
END_OF_DUMP = "end of dump"  # the line that ends a program's task dump
WAIT = 20.0  # real seconds to wait for a program to be ready, or for a tool to answer
ANSWER = 3.0  # real seconds to wait for a task dump: a loop that turns answers in milliseconds


@dataclass
class Program:
    """A running program of :mod:`.programs`."""

    name: str
    process: subprocess.Popen

    @property
    def pid(self) -> int:
        return self.process.pid


def _command(name: str, *options: str, limit: float) -> list[str]:
    if name not in PROGRAMS:
        raise ValueError(f"name must be one of {sorted(PROGRAMS)}, got {name!r}")
    return [sys.executable, *options, "-m", "asyncio_patterns.demos.debugging.programs", name, "--limit", str(limit)]


@contextmanager
def stuck_program(name: str, *, limit: float = 60.0) -> Iterator[Program]:
    """Start program ``name`` and wait until it says it is stuck; kill it at the end."""
    process = subprocess.Popen(_command(name, limit=limit), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True)
    try:
        line = _read_line(process)
        if line != "ready":
            raise RuntimeError(f"program {name!r} did not get ready: it printed {line!r}")
        yield Program(name, process)
    finally:
        process.kill()
        process.wait(WAIT)
        process.stdout.close()


def _read_line(process: subprocess.Popen, wait: float = WAIT) -> str:
    result: list[str] = []
    reader = threading.Thread(target=lambda: result.append(process.stdout.readline()), daemon=True)
    reader.start()
    reader.join(wait)
    return result[0].strip() if result else ""


def _tool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=WAIT)


def pstree(program: Program) -> str:
    """``python -m asyncio pstree PID`` of the program, shortened. Where this Python has no
    such command, or the system does not let it read the process, one line says so and the
    program's own task dump (:func:`task_dump`) follows: the same picture, from inside."""
    if sys.version_info < (3, 14):
        why = f"python -m asyncio pstree needs Python 3.14 or later (this is {sys.version_info.major}.{sys.version_info.minor})"
    else:
        done = _tool("-m", "asyncio", "pstree", str(program.pid))
        if done.returncode == 0:
            return shorten(done.stdout).rstrip()
        refused = "permission" in (done.stdout + done.stderr).lower()
        why = ("python -m asyncio pstree was not allowed to read the process here (see 'Permission requirements' "
               "in the Python docs)" if refused else
               f"python -m asyncio pstree failed: {(done.stderr or done.stdout).strip().splitlines()[-1]}")
    return f"{why}; the program's own task dump instead:\n{task_dump(program)}"


def stack_dump(program: Program) -> str:
    """``python -m profiling.sampling dump PID`` (Python 3.15+): the stack of the program's main
    thread, the line it is running now included, without the standard library's entries; one
    line where that is not available."""
    if sys.version_info < (3, 15):
        return (f"python -m profiling.sampling needs Python 3.15 or later (this is "
                f"{sys.version_info.major}.{sys.version_info.minor})")
    done = _tool("-m", "profiling.sampling", "dump", str(program.pid))
    if done.returncode != 0:
        return f"python -m profiling.sampling dump could not read the process: {(done.stderr or done.stdout).strip()[:200]}"
    text = _STDLIB_ENTRY.sub("", shorten(done.stdout))  # the standard library's entries left out
    return re.sub(r"PID \d+, thread \d+", "PID, thread", text).rstrip()


def task_dump(program: Program) -> str:
    """Ask the program for its task dump (SIGUSR1) and return it. A program whose loop is
    blocked cannot answer: its handler runs only when the loop turns."""
    if not hasattr(signal, "SIGUSR1"):
        return "(no SIGUSR1 on this system: no task dump)"
    program.process.send_signal(signal.SIGUSR1)
    lines = []
    while (line := _read_line(program.process, ANSWER)) != END_OF_DUMP:
        if not line:
            return "\n".join(lines + ["(no answer: the program's event loop is not turning)"])
        lines.append(line)
    return "\n".join(lines)


_STDLIB_ENTRY = re.compile(r'^  File (?:"[^"]+\.py"|"<frozen [\w.]+>", line \d+), in [^\n]*\n(?:    [^\n]*\n)?', re.M)


def dangling_warnings(*, dev: bool = False) -> str:
    """Run the ``dangling`` program (with ``-X dev``: asyncio's debug mode and the origin of
    every coroutine) and return what it printed, shortened: the standard library's entries
    are left out of the tracebacks."""
    done = subprocess.run(_command("dangling", *(["-X", "dev"] if dev else []), limit=WAIT),
                          capture_output=True, text=True, timeout=WAIT * 2)
    text = shorten(done.stdout + done.stderr)
    text = _STDLIB_ENTRY.sub("", text)
    return re.sub(r" created at [\w.]+\.py>", ">", text).rstrip()
