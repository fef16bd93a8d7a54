"""What is every task waiting on? A snapshot of a loop's pending tasks, each with the line it
is suspended at and the asyncio call it waits in, drawn as a tree of who awaits whom.

    print(snapshot())               # inside a running loop: every pending task but this one
    watched = run_virtual(watch(main(), after=5))   # main() still running after 5 s?
    print(watched.stuck)            # then where each of its tasks was waiting, at that moment

    main            cell:12  async with asyncio.TaskGroup() as group:  in TaskGroup.__aexit__()
    ├── consumer-0  cell:5   item = await queue.get()                   in Queue.get()
    └── consumer-1  cell:5   item = await queue.get()                   in Queue.get()

On Python 3.14 and later the snapshot is built on ``asyncio.capture_call_graph``, which also
knows which task awaits which (through ``await task``, ``gather`` and ``TaskGroup``), so the
tasks are drawn as a tree. On 3.11 to 3.13 it is built on ``Task.get_stack()`` and each
coroutine's ``cr_await``, which know no such links: the same lines, one per task, no tree. A file is shown by its name alone
(``cell`` for a notebook cell), and the standard library's lines only by the function they
are in, so a snapshot prints the same on every machine.
"""

from __future__ import annotations

import asyncio
import functools
import linecache
import re
import sys
import sysconfig
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from .clock import task_label

__all__ = ["CALL_GRAPH", "Place", "Snapshot", "StuckTask", "Watched", "shorten", "snapshot", "watch"]

CALL_GRAPH = sys.version_info >= (3, 14)  # asyncio.capture_call_graph exists: who awaits whom is known

_STDLIB = tuple(str(Path(sysconfig.get_paths()[key]).resolve()) + "/" for key in ("stdlib", "platstdlib"))
_CELL = re.compile(r"ipykernel_\d+[/\\]\d+\.py$")  # where IPython stores the code of a notebook cell


@functools.lru_cache(maxsize=4096)
def _in_stdlib(file: str) -> bool:
    try:
        resolved = str(Path(file).resolve())
    except (OSError, ValueError):
        return False
    return resolved.startswith(_STDLIB) and "site-packages" not in resolved


@dataclass(frozen=True)
class Place:
    """A line a task is suspended at (or running, for the task that runs): a frame of its stack."""

    file: str
    line: int
    function: str  # the qualified name: "Lock.acquire", "worker"
    code: str  # the source line, stripped ("" if the source is not available)
    stdlib: bool  # inside the standard library (asyncio's own code, time.sleep's caller...)

    @classmethod
    def of(cls, frame: FrameType) -> Place:
        code = frame.f_code
        line = frame.f_lineno or code.co_firstlineno
        function = code.co_qualname.rsplit("<locals>.", 1)[-1]  # "outer.<locals>.worker" is "worker"
        return cls(code.co_filename, line, function,
                   linecache.getline(code.co_filename, line).strip(), _in_stdlib(code.co_filename))

    @property
    def short_file(self) -> str:
        """``cell`` for a notebook cell, else the file's name without its directory."""
        return "cell" if _CELL.search(self.file) else Path(self.file).name

    def __str__(self) -> str:
        return f"{self.short_file}:{self.line}"


@dataclass(frozen=True)
class StuckTask:
    """One pending task: its name, its stack and who awaits it."""

    name: str  # the task's name, or its coroutine's function name if it was left as 'Task-N'
    named: bool  # given a name of its own (create_task(..., name=...))
    stack: tuple[Place, ...]  # outermost first; the last is where it is suspended
    running: bool  # it was running, not suspended (only a snapshot from another thread sees this)
    awaited_by: tuple[int, ...]  # indices in Snapshot.tasks of the tasks awaiting it (3.14+)

    def where(self, mine: Callable[[Place], bool] | None = None) -> Place | None:
        """The innermost place that passes ``mine`` (by default: not the standard library's)."""
        mine = mine or (lambda place: not place.stdlib)
        return next((place for place in reversed(self.stack) if mine(place)), None)

    @property
    def waits_in(self) -> str:
        """The standard-library call it is suspended in, as the code above it called it:
        "Queue.join" (not the Event.wait inside it), "Lock.acquire" (not a private mixin's
        __aenter__); "" if it is running, suspended outside the standard library, or only in
        private helpers (contextlib's, around an ``@asynccontextmanager``)."""
        calls = []
        for place in reversed(self.stack):
            if not place.stdlib:
                break
            calls.append(place.function)
        if self.running or not calls:
            return ""
        public = [call for call in reversed(calls) if not call.startswith("_")]
        return public[0] if public else ""  # only private helpers, such as contextlib's: nothing to name

    def describe(self, mine: Callable[[Place], bool] | None = None) -> str:
        """One line: "worker-0 at line 8 of worker() (`await queue.get()`), in Queue.get()"."""
        return "".join(self._parts(mine))

    def _parts(self, mine: Callable[[Place], bool] | None) -> tuple[str, str]:
        """(who, where): "worker-0", " at line 8 of worker() (`...`), in Queue.get()"."""
        place = self.where(mine)
        label = self.name if self.named or place is None else f"{place.function}()"
        text = ""
        if place is not None:
            text += f" at line {place.line}"
            if label != f"{place.function}()":
                text += f" of {place.function}()"
            if place.code:
                text += f" (`{place.code}`)"
        if self.running:
            text += ", running"
        elif self.waits_in:
            text += f"{',' if place is not None else ''} in {self.waits_in}()"
        return label, text


def _natural(text: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


@dataclass(frozen=True)
class Snapshot:
    """The pending tasks of a loop at one moment (loop time ``time``)."""

    tasks: tuple[StuckTask, ...]
    time: float
    linked: bool  # who awaits whom is known (Python 3.14+): drawn as a tree

    def children(self, index: int) -> list[int]:
        return self._children().get(index, [])

    def _children(self) -> dict[int, list[int]]:
        kids: dict[int, list[int]] = {}
        for i, task in enumerate(self.tasks):
            for parent in task.awaited_by:
                kids.setdefault(parent, []).append(i)
        return kids

    def roots(self) -> list[int]:
        pending = range(len(self.tasks))
        return [i for i in pending if not any(j in pending for j in self.tasks[i].awaited_by)]

    def order(self) -> list[tuple[int, str]]:
        """(index, tree prefix) for every task, top to bottom, awaiters above what they await."""
        rows: list[tuple[int, str]] = []
        seen: set[int] = set()
        children = self._children()

        def visit(i: int, prefix: str, branch: str) -> None:
            rows.append((i, prefix + branch))
            if i in seen:  # awaited by two tasks: drawn under each, its children once
                return
            seen.add(i)
            kids = children.get(i, [])
            for n, kid in enumerate(kids):
                last = n == len(kids) - 1
                inner = prefix + ("" if not branch else "    " if branch.startswith("└") else "│   ")
                visit(kid, inner, "└── " if last else "├── ")

        for root in self.roots():
            visit(root, "", "")
        return rows

    def lines(self) -> list[str]:
        """The tree (a list on Python 3.11-3.13): name, file:line, the line's code, the call it waits in."""
        if not self.tasks:
            return ["no task is pending"]
        rows = []
        for i, prefix in self.order():
            task = self.tasks[i]
            place = task.where()
            where = str(place) if place else "-"
            code = place.code if place else ""
            state = "running" if task.running else f"in {task.waits_in}()" if task.waits_in else ""
            rows.append((prefix + task.name, where, code, state))
        widths = [max(len(row[k]) for row in rows) for k in range(3)]
        return [f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c:<{widths[2]}}  {d}".rstrip() for a, b, c, d in rows]

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def __repr__(self) -> str:
        return str(self)

    def summary(self, mine: Callable[[Place], bool] | None = None, *, most: int = 4) -> str:
        """Where the tasks wait, in one sentence's worth: tasks waiting at the same place are
        counted ("worker() x3 ..."), at most ``most`` places are named."""
        groups: dict[str, list[str]] = {}
        for task in sorted(self.tasks, key=lambda t: _natural(t.name)):
            who, where = task._parts(mine)
            groups.setdefault(where, []).append(who)
        parts = [(f"{names[0]} x{len(names)}" if len(set(names)) == 1 < len(names) else ", ".join(names)) + where
                 for where, names in groups.items()]
        if len(parts) > most:
            parts = parts[:most] + [f"and {len(parts) - most} more"]
        return "; ".join(parts)


def _stack_314(task: asyncio.Task) -> tuple[list[FrameType], list[asyncio.Future]]:
    graph = asyncio.capture_call_graph(task)
    frames = [entry.frame for entry in reversed(graph.call_stack)]  # outermost first
    return frames, [parent.future for parent in graph.awaited_by]


def _stack_311(task: asyncio.Task) -> tuple[list[FrameType], list[asyncio.Future]]:
    # Task.get_stack() gives a suspended task's own coroutine frame only; the coroutines it
    # awaits are followed through cr_await, as capture_call_graph does. 3.11-3.13 keep no
    # record of who awaits a task.
    frames = task.get_stack()
    awaited = getattr(task.get_coro(), "cr_await", None)
    while awaited is not None:
        frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "gi_frame", None)
        if frame is not None:
            frames.append(frame)
        awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "gi_yieldfrom", None)
    return frames, []


def snapshot(loop: asyncio.AbstractEventLoop | None = None, *,
             besides: asyncio.Task | None = None) -> Snapshot:
    """Every pending task of ``loop`` (by default the running one) but ``besides`` (by default
    the current task), with where each is waiting. May be called from another thread, as the
    checkers do while the loop's thread is busy: the task that is running shows as running."""
    loop = loop or asyncio.get_running_loop()
    if besides is None and loop is _running_loop():
        besides = asyncio.current_task(loop)
    pending = [task for task in asyncio.all_tasks(loop) if task is not besides and not task.done()]
    capture = _stack_314 if CALL_GRAPH else _stack_311
    stacks, parents = {}, {}
    for task in pending:
        frames, awaiters = capture(task)
        if getattr(task.get_coro(), "cr_running", False):
            frames = _running_frames(task.get_coro().cr_frame) or frames
        stacks[task] = tuple(Place.of(frame) for frame in frames)
        parents[task] = awaiters
    pending.sort(key=lambda t: (_natural(task_label(t)), [(p.file, p.line) for p in stacks[t]]))
    index = {task: i for i, task in enumerate(pending)}
    tasks = tuple(
        StuckTask(task_label(task), not re.fullmatch(r"Task-\d+", task.get_name()), stacks[task],
                  bool(getattr(task.get_coro(), "cr_running", False)),
                  tuple(sorted(index[p] for p in parents[task] if p in index)))
        for task in pending)
    return Snapshot(tasks, loop.time(), CALL_GRAPH)


def _running_frames(outer: FrameType) -> list[FrameType]:
    """The frames of the thread running the coroutine whose frame is ``outer``, from ``outer``
    in: where a task that is running now (seen from another thread) really is."""
    for top in sys._current_frames().values():
        frames = []
        frame: FrameType | None = top
        while frame is not None:
            frames.append(frame)
            if frame is outer:
                return frames[::-1]
            frame = frame.f_back
    return []


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


@dataclass(frozen=True)
class Watched:
    """How a watched run went: it finished with ``result``, or was still running at loop
    time ``stuck.time`` and was cancelled after ``stuck`` was taken."""

    result: Any = None
    stuck: Snapshot | None = None

    @property
    def finished(self) -> bool:
        return self.stuck is None


async def watch(main: Coroutine[Any, Any, Any], *, after: float, name: str = "main") -> Watched:
    """Run ``main`` as a task called ``name``; if it is still running ``after`` seconds later,
    take a :func:`snapshot` of every task (the watcher aside), then cancel ``main`` and wait
    for it. Tasks ``main`` created and did not cancel are left for the caller's loop to end."""
    task = asyncio.get_running_loop().create_task(main, name=name)
    done, _ = await asyncio.wait({task}, timeout=after)
    if done:
        return Watched(task.result())
    stuck = snapshot()
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        if asyncio.current_task().cancelling():
            raise  # the watcher itself was cancelled, not just main
    except Exception:  # main's own clean-up failed while it was cancelled: the snapshot is the news
        pass
    return Watched(None, stuck)


_PATH = re.compile(r"""(?P<path>(?:[A-Za-z]:)?[\w.-]*[/\\][^\s'",:<>()]*[/\\](?P<name>[^\s'",:<>()/\\]+\.py))"""
                   r"""(?P<sep>["']?(?::|, line ))(?P<line>\d+)""")


def shorten(text: str) -> str:
    """A tool's output with each path cut to its file name, and the standard library's line
    numbers (which change between patch releases) dropped: "locks.py:110" becomes "locks.py"."""
    def one(match: re.Match) -> str:
        path, name, sep = match["path"], match["name"], match["sep"]
        quote = sep[0] if sep[0] in "\"'" else ""
        if _CELL.search(path):
            name = "cell"
        if _in_stdlib(path):
            return f"{name}{quote}"
        return f"{name}{sep}{match['line']}"
    return _PATH.sub(one, text)
