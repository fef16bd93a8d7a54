"""Drive a child process from a lesson: read its lines, send it signals, always reap it.

    async with Child(jobservice_command("--jobs", "12")) as child:
        await child.wait_for("started job-3")
        child.send(signal.SIGTERM)
        finished = await child.finish()
    finished.returncode, finished.report

Every wait has a timeout. Leaving the block, a child still running is killed and waited
for, so no zombie process and no open pipe is left behind, whatever happened inside.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Child", "ChildError", "Finished", "child_script", "describe", "jobservice_command", "run_child"]

TIMEOUT = 15.0  # real seconds any one wait on a child may take; a healthy run takes well under one


class ChildError(RuntimeError):
    """The child did not do what was expected in time (it was killed)."""


def jobservice_command(*options: str) -> list[str]:
    """The ``asyncio-jobservice`` console script next to this Python, with ``options``."""
    return [str(Path(sys.executable).with_name("asyncio-jobservice")), *options]


def child_script(mode: str) -> list[str]:
    """The command that runs one of the pitfalls' child scripts (standard library only)."""
    return [sys.executable, str(Path(__file__).with_name("children.py")), mode]


@dataclass
class Finished:
    """How a child ended: its exit status (negative: killed by that signal) and what it printed."""

    returncode: int
    lines: list[str]
    stderr: str

    @property
    def report(self) -> dict:
        """The JSON object on the last line (the job service's report)."""
        return json.loads(self.lines[-1])

    @property
    def log(self) -> list[str]:
        """Every line but a JSON last line."""
        return self.lines[:-1] if self.lines and self.lines[-1].startswith("{") else list(self.lines)

    @property
    def exit(self) -> str:
        """The exit status in words: "exit status 0", "killed by SIGTERM"."""
        if self.returncode < 0:
            return f"killed by {signal.Signals(-self.returncode).name}"
        return f"exit status {self.returncode}"

    @property
    def last_error(self) -> str:
        """The last line of what it printed on stderr (a traceback's last line), or ""."""
        lines = self.stderr.strip().splitlines()
        return lines[-1] if lines else ""


@dataclass
class Child:
    """A child process, started in ``async with`` and killed and reaped on leaving it."""

    argv: list[str]
    timeout: float = TIMEOUT
    lines: list[str] = field(default_factory=list)
    process: asyncio.subprocess.Process | None = None
    finished: Finished | None = None

    async def __aenter__(self) -> Child:
        self.process = await asyncio.create_subprocess_exec(
            *self.argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHON_COLORS": "0"})  # plain tracebacks, whatever the terminal
        return self

    async def wait_for(self, text: str) -> str:
        """Read lines until one contains ``text``; return it. ChildError on EOF or timeout."""
        try:
            async with asyncio.timeout(self.timeout):
                while line := await self.process.stdout.readline():
                    self.lines.append(line.decode().rstrip("\n"))
                    if text in self.lines[-1]:
                        return self.lines[-1]
        except TimeoutError:
            raise ChildError(f"no line with {text!r} within {self.timeout:g} s") from None
        raise ChildError(f"the child ended without printing {text!r}")

    def send(self, signum: signal.Signals) -> bool:
        """Send the child a real signal; False if it had already exited."""
        try:
            self.process.send_signal(signum)
        except ProcessLookupError:
            return False
        return True

    async def finish(self) -> Finished:
        """Wait for the child to exit (at most ``timeout`` s) and collect the rest of its output."""
        try:
            out, err = await asyncio.wait_for(self.process.communicate(), self.timeout)
        except TimeoutError:
            raise ChildError(f"the child was still running {self.timeout:g} s later") from None
        self.lines += out.decode().splitlines()
        self.finished = Finished(self.process.returncode, list(self.lines), err.decode())
        return self.finished

    async def __aexit__(self, *exc_info: object) -> None:
        if self.finished is not None:
            return
        if self.process.returncode is None:
            try:
                self.process.kill()
            except ProcessLookupError:  # it has just exited
                pass
        await asyncio.wait_for(self.process.communicate(), self.timeout)  # reap it, close the pipes


async def run_child(mode: str, send: signal.Signals = signal.SIGTERM) -> Finished:
    """Run a pitfall's child script, send it ``send`` once it says "ready", wait for its end."""
    async with Child(child_script(mode)) as child:
        await child.wait_for("ready")
        child.send(send)
        return await child.finish()


def describe(finished: Finished) -> str:
    """A child's lines, how it ended and its last error, for a notebook to print.

    Consecutive "job N ..." lines are sorted: asyncio cancels a set of tasks (``all_tasks()``)
    in no fixed order, and the order says nothing there."""
    lines: list[str] = []
    for is_job, group in itertools.groupby(finished.lines, key=lambda line: line.startswith("job ")):
        lines += sorted(group) if is_job else list(group)
    return "\n".join([*lines, f"-> {finished.exit}; {finished.last_error or 'no error'}"])
