"""A live demo panel: knobs that re-run a demo in virtual time and redraw its figure in place.

    Panel(race_figure, tasks=range(2, 41), use_lock=[False, True])

``draw`` is a function of the knobs that returns a matplotlib figure; the panel starts at
``draw``'s own defaults, so the figure it shows first is ``draw()``. Each knob is given by
its choices:

- ``range(2, 41)``: a slider over those whole numbers;
- ``[False, True]``: a toggle;
- a list of numbers (``[0.01, 0.1, 1.0]``): a slider over those values;
- a list of anything else (``["none", "full", "equal"]``): a menu.

Displaying a panel stores its picture twice over: a static one, which is what a reader sees
where widgets do not run (a saved notebook, GitHub), and below it the live panel, whose
picture is an ``ipywidgets.Image`` redrawn from PNG bytes at each change. Once the live panel
is on screen it hides the static picture above it, so a room never watches the stale one.
``panel.set(tasks=10)`` turns a knob from code, as a slider would, and ``panel.redraw_seconds``
says how long the last redraw took (demo and drawing both).
"""

from __future__ import annotations

import gc
import inspect
import io
import time
from collections.abc import Callable, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import PIL.Image
from matplotlib.colors import to_rgba_array
from matplotlib.figure import Figure

__all__ = ["Panel", "panel_figure", "png"]

DPI = 80  # a projector's picture; it keeps a redraw well inside a fifth of a second
PAD = 0.1  # inches of margin round what is drawn
# In JupyterLab each output of a cell is a .jp-OutputArea-child: this hides the one just above
# a live panel (its static first picture) while the panel is rendered, and only then.
HIDE_STATIC_PICTURE = ("<style>.jp-OutputArea-child:has(+ .jp-OutputArea-child .asyncio-patterns-panel)"
                       " { display: none; }</style>")


def png(fig: Figure) -> bytes:
    """The figure as PNG bytes, cropped to what is drawn, and the figure closed.

    A figure that keeps everything on its canvas (an outside legend given room with
    ``fig.subplots_adjust(right=...)``, as :func:`panel_figure` does) is drawn once and
    cropped to its ink; one whose ink reaches an edge of the canvas, so that something may
    lie beyond it, is handed to ``savefig(bbox_inches="tight")``, which grows it and draws twice.
    """
    buffer = io.BytesIO()
    try:
        fig.set_dpi(DPI)
        fig.canvas.draw()
        pixels = np.asarray(fig.canvas.buffer_rgba())  # row 0 is the top of the canvas
        paper = np.array(to_rgba_array(fig.get_facecolor())[0] * 255, dtype=np.uint8)
        ink = np.any(pixels != paper, axis=2)
        rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
        height, width = ink.shape
        if not rows.size or rows[0] == 0 or cols[0] == 0 or rows[-1] == height - 1 or cols[-1] == width - 1:
            fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", pad_inches=PAD)
        else:
            pad = round(PAD * DPI)
            top, bottom = max(0, rows[0] - pad), min(height, rows[-1] + 1 + pad)
            left, right = max(0, cols[0] - pad), min(width, cols[-1] + 1 + pad)
            PIL.Image.fromarray(pixels[top:bottom, left:right]).save(buffer, format="png", compress_level=1)
    finally:
        plt.close(fig)
    return buffer.getvalue()


def panel_figure(height: float, *, rows: int = 1, cols: int = 1, legend: bool = True,
                 width: float = 12.0, **subplots: Any) -> tuple[Figure, Any]:
    """``plt.subplots`` with margins fixed in inches: lane labels on the left, a title on
    top, axis labels below and, with ``legend``, a timeline's legend on the right. Everything
    stays on the canvas whatever ``height`` is, so :func:`png` draws the figure only once."""
    fig, axes = plt.subplots(rows, cols, figsize=(width, height), **subplots)
    right = 3.4 if legend else 0.3
    fig.subplots_adjust(left=1.2 / width, right=1 - right / width,
                        bottom=0.6 / height, top=1 - 0.45 / height)
    return fig, axes


def _check_knob(name: str, choices: Any, start: Any) -> None:
    if isinstance(choices, range):
        if start not in choices:
            raise ValueError(f"{name}: the default {start!r} is not in {choices}; widen the range")
        return
    if not isinstance(choices, Sequence) or isinstance(choices, str) or not choices:
        raise ValueError(f"{name}: give its choices as a range, [False, True] or a list, got {choices!r}")
    if start not in choices:
        raise ValueError(f"{name}: the default {start!r} is not among {list(choices)}; add it")


def _knob(name: str, choices: Any, start: Any):
    """The ipywidget for one knob, set to ``start``."""
    import ipywidgets as widgets

    style = {"description_width": "initial"}
    if isinstance(choices, range):
        return widgets.IntSlider(value=start, min=choices.start, max=choices[-1], step=choices.step,
                                 description=name, continuous_update=False, style=style)
    if list(choices) == [False, True]:
        # JupyterLab draws a pressed toggle in a grey a projector washes out: on is green, ticked.
        toggle = widgets.ToggleButton(value=start, description=name)

        def mark(_change=None) -> None:
            toggle.button_style, toggle.icon = ("success", "check") if toggle.value else ("", "")

        toggle.observe(mark, names="value")
        mark()
        return toggle
    if all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in choices):
        return widgets.SelectionSlider(options=list(choices), value=start, description=name,
                                       continuous_update=False, style=style)
    return widgets.Dropdown(options=list(choices), value=start, description=name, style=style)


class Panel:
    """Knobs above a figure that ``draw(**knobs)`` redraws at every change."""

    def __init__(self, draw: Callable[..., Figure], **knobs: Any) -> None:
        if not knobs:
            raise ValueError("a panel needs at least one knob, such as tasks=range(1, 21)")
        defaults = {name: p.default for name, p in inspect.signature(draw).parameters.items()}
        for name in knobs:
            if defaults.get(name, inspect.Parameter.empty) is inspect.Parameter.empty:
                raise ValueError(f"{name}: {draw.__name__}() has no parameter {name} with a default; "
                                 f"the panel starts at the defaults")
        for name, choices in knobs.items():
            _check_knob(name, choices, defaults[name])
        self.draw = draw
        self.choices = dict(knobs)
        self.values = {name: defaults[name] for name in knobs}
        self.redraw_seconds = 0.0
        self.picture = b""  # the PNG of the current state
        self._widgets = None
        self._redraw()

    def _redraw(self) -> None:
        """Draw the current state and, if the panel is on screen, send the picture.

        A redraw makes thousands of short-lived matplotlib objects, and Python's cyclic
        garbage collector, run in the middle of one, added about a quarter to the median
        redraw and most of the slowest; so it waits until the picture is on its way, and
        collects while the room looks at it."""
        started = time.perf_counter()
        collecting = gc.isenabled()
        gc.disable()
        try:
            self.picture = png(self.draw(**self.values))
            if self._widgets is not None:
                self._widgets["image"].value = self.picture
        finally:
            self.redraw_seconds = time.perf_counter() - started
            if collecting:
                gc.enable()

    def set(self, **values: Any) -> bytes:
        """Turn knobs (by name) and redraw, as the widgets do; returns the new picture's PNG bytes."""
        for name, value in values.items():
            if name not in self.choices:
                raise ValueError(f"{name}: not a knob of this panel; its knobs are {', '.join(self.choices)}")
            choices = self.choices[name]
            if value not in choices:
                raise ValueError(f"{name}: {value!r} is not among its choices {list(choices)}")
        self.values |= values
        self._redraw()
        return self.picture

    def turn_each_knob(self):
        """Turn each knob in turn to its first choice, its last and back, as a slider would,
        redrawing each time; yields ``(knob, value, picture)`` after each redraw (its time is
        ``redraw_seconds``). The panel ends where it started."""
        for name, choices in self.choices.items():
            start = self.values[name]
            for value in (choices[0], choices[-1], start):
                yield name, value, self.set(**{name: value})

    def widget(self):
        """The live panel (knobs, picture, status line) as one ipywidgets box."""
        import ipywidgets as widgets

        if self._widgets is not None:
            return self._widgets["box"]
        knobs = {name: _knob(name, choices, self.values[name]) for name, choices in self.choices.items()}
        image = widgets.Image(value=self.picture, format="png")
        status = widgets.Label(value="Turn a knob: the demo re-runs in virtual time and redraws.")

        def changed(_change) -> None:
            try:
                self.set(**{name: knob.value for name, knob in knobs.items()})
            except Exception as error:  # the panel stays usable and says what went wrong
                status.value = f"Could not redraw: {type(error).__name__}: {error}"
            else:
                status.value = f"Redrawn in {self.redraw_seconds * 1000:.0f} ms."

        for knob in knobs.values():
            knob.observe(changed, names="value")
        box = widgets.VBox([widgets.HBox(list(knobs.values())), image, status,
                            widgets.HTML(HIDE_STATIC_PICTURE)])
        box.add_class("asyncio-patterns-panel")
        self._widgets = {"box": box, "image": image}
        return box

    def __repr__(self) -> str:
        knobs = ", ".join(f"{name}={value!r}" for name, value in self.values.items())
        return f"<{self.draw.__name__} panel: {knobs}; run the cell in Jupyter to turn the knobs>"

    def _ipython_display_(self) -> None:
        from IPython.display import Image, display

        display(Image(self.picture))
        bundle = self.widget()._repr_mimebundle_()
        bundle["text/plain"] = repr(self)  # a stable line where the widget does not render
        display(bundle, raw=True)
