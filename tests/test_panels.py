"""Every lesson's live panels: each knob changes the picture, bad knobs get one-line errors,
and the widget redraws in place when a knob moves."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import pytest

from asyncio_patterns.demos.panels import PANELS
from asyncio_patterns.lab.panel import Panel, panel_figure, png

ROOT = Path(__file__).resolve().parent.parent
PNG = b"\x89PNG\r\n\x1a\n"
ALL = [(stem, make) for stem, makers in PANELS.items() for make in makers]


@pytest.mark.parametrize(("stem", "make"), ALL, ids=[f"{s}-{m.__name__}" for s, m in ALL])
def test_every_knob_changes_the_picture(stem, make):
    panel = make()
    first, starts = panel.picture, dict(panel.values)
    assert first.startswith(PNG)
    for name, value, picture in panel.turn_each_knob():
        if value == starts[name]:
            assert picture == first, f"{name} back to {value!r} did not redraw the first state"
        else:
            assert picture != first, f"{name}={value!r} drew the same picture"
    assert plt.get_fignums() == [], "a redraw left a figure open"


@pytest.mark.parametrize(("stem", "make"), ALL, ids=[f"{s}-{m.__name__}" for s, m in ALL])
def test_the_notebook_shows_the_panel(stem, make):
    cells = json.loads((ROOT / "notebooks" / f"{stem}.ipynb").read_text())["cells"]
    shown = [c for c in cells if c["cell_type"] == "code" and f"{make.__name__}()" in "".join(c["source"])]
    assert shown, f"no cell of {stem} displays {make.__name__}()"
    outputs = shown[0]["outputs"]
    assert [o["output_type"] for o in outputs] == ["display_data", "display_data"]
    assert "image/png" in outputs[0]["data"], "the static picture of the first state comes first"
    assert "application/vnd.jupyter.widget-view+json" in outputs[1]["data"]


def bars(flat: bool = False):
    fig, ax = panel_figure(2.0, legend=False)
    ax.bar([0, 1, 2], [1, 2, 1 if flat else 3])
    return fig


def test_a_widget_redraws_when_its_knob_moves():
    panel = Panel(bars, flat=[False, True])
    box = panel.widget()
    toggle, image, status = box.children[0].children[0], box.children[1], box.children[2]
    assert image.value == panel.picture
    assert (toggle.button_style, toggle.icon) == ("", ""), "off looks like a plain button"
    toggle.value = True
    assert (toggle.button_style, toggle.icon) == ("success", "check"), "on is plain to see on a projector"
    assert panel.values == {"flat": True}
    assert image.value == panel.picture != png(bars())
    assert status.value.startswith("Redrawn in ")


def test_a_failing_redraw_is_reported_in_the_panel():
    def draw(n: int = 1):
        if n > 1:
            raise ValueError("n must be 1")
        return bars()

    panel = Panel(draw, n=range(1, 3))
    box = panel.widget()
    box.children[0].children[0].value = 2
    assert box.children[2].value == "Could not redraw: ValueError: n must be 1"
    assert plt.get_fignums() == []


def test_the_text_fallback_names_the_knobs():
    assert repr(Panel(bars, flat=[False, True])) == (
        "<bars panel: flat=False; run the cell in Jupyter to turn the knobs>")


def test_a_figure_beyond_its_canvas_is_grown_not_cut():
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1], [0, 1], label="a legend outside the axes")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))
    wide = png(fig)
    width = int.from_bytes(wide[16:20], "big")
    assert width > 3 * 80, "the legend beyond the canvas was cut off"


@pytest.mark.parametrize(("knobs", "message"), [
    ({}, "a panel needs at least one knob, such as tasks=range(1, 21)"),
    ({"tilt": [False, True]}, "tilt: bars() has no parameter tilt with a default; the panel starts at the defaults"),
    ({"flat": [True]}, "flat: the default False is not among [True]; add it"),
    ({"flat": "yes"}, "flat: give its choices as a range, [False, True] or a list, got 'yes'"),
])
def test_bad_knobs_get_one_line_errors(knobs, message):
    with pytest.raises(ValueError) as error:
        Panel(bars, **knobs)
    assert str(error.value) == message


def test_set_refuses_what_a_knob_cannot_do():
    panel = Panel(bars, flat=[False, True])
    with pytest.raises(ValueError, match=r"^tilt: not a knob of this panel; its knobs are flat$"):
        panel.set(tilt=1)
    with pytest.raises(ValueError, match=r"^flat: 2 is not among its choices \[False, True\]$"):
        panel.set(flat=2)
