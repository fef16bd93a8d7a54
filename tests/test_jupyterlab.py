"""The learner's path, in a real browser: `make lab`, then Run All Cells in JupyterLab.

`make lab` is started as a learner starts it (with a fixed token and no browser of its
own), and one headless Chromium page opens the URL it prints. Every lesson in turn is
opened from the file browser, run through JupyterLab's Run menu and saved, then closed
with its kernel shut down. The saved copy must show what nbval checks in a kernel alone:
every cell ran in order, errors only in cells tagged to raise, the plots rendered, and no
warning about something left behind. Every live panel must have rendered as a widget, and
moving its first knob as a person does must redraw its picture. JupyterLab must also open
clean: no prompt about Jupyter news, no update check. A failure saves a screenshot of the
page and names it in its message.

`make lab` serves a temporary folder, into which it copies the lessons as it copies them for a
learner (my-notebooks/), so the committed notebooks are never touched. Needs Debian's `chromium` (`.ci/run` installs it); without it the test
is skipped, unless REQUIRE_BROWSER=1 says the run must include it.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest
from asyncio_patterns.demos.panels import PANELS
from test_notebooks import LEAK_WARNINGS  # the same list the kernel-only leak check uses

import find_python  # tools/, on the path through tests/conftest.py

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Every lesson, as found when the tests are collected: a new notebook joins by itself.
LESSONS = sorted(path.name for path in (ROOT / "notebooks").glob("*.ipynb"))
# Each lesson's live panels (lab/panel.py), as the registry lists them: each must show them all.
PANEL_LESSONS = {f"{stem}.ipynb": len(makers) for stem, makers in PANELS.items()}
# The line a panel's output shows where widgets do not run (Panel.__repr__).
PANEL_FALLBACK = re.compile(r"^<\w+ panel: .*; run the cell in Jupyter to turn the knobs>$")
RUN_ALL_TIMEOUT = 300  # seconds for one notebook's Run All; the slowest took 23 on a busy machine
# Chromium's own background traffic is refused on a closed network; keep it quiet.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

if not CHROMIUM and os.environ.get("REQUIRE_BROWSER") != "1":
    pytest.skip("needs chromium (apt-get install chromium); REQUIRE_BROWSER=1 makes this a failure",
                allow_module_level=True)
playwright = pytest.importorskip("playwright.sync_api")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """`make lab` serving a copy of the course; yields (URL it printed, folder of the copies it opens)."""
    folder = tmp_path_factory.mktemp("course")
    token = secrets.token_hex(8)
    # The interpreter .venv was built with, so that `make lab` does not rebuild it for another.
    python = find_python.built_with(str(ROOT / ".venv"))
    # A workspace folder of its own: no tabs restored from an earlier visit.
    args = (f"--no-browser --ServerApp.ip=127.0.0.1 --IdentityProvider.token={token} "
            f"--LabApp.workspaces_dir={folder / 'workspaces'}")
    server = subprocess.Popen(
        ["make", "-s", "-C", str(ROOT), "lab", f"PORT={free_port()}", f"LAB_ROOT={folder}", f"LAB_ARGS={args}",
         f"PYTHON={python}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    printed: list[str] = []
    urls: list[str] = []
    found = threading.Event()
    # A token given on the command line is printed masked, as "?token=...".
    start_here = re.compile(r"http://127\.0\.0\.1:\d+/lab/tree/my-notebooks/00_start_here\.ipynb\?token=")

    def read() -> None:  # keeps the pipe drained for the server's whole life
        for line in server.stdout:
            printed.append(line)
            if match := start_here.search(line):
                urls.append(match.group() + token)
                found.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        assert found.wait(90), "make lab printed no URL for the start-here notebook:\n" + "".join(printed)
        assert sorted(p.name for p in (folder / "my-notebooks").glob("*.ipynb")) == LESSONS, "make lab copies every lesson"
        yield urls[0], folder / "my-notebooks"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(10)
        server.stdout.close()


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


# JupyterLab reopens the tabs of the last visit behind the new one: look at the visible one.
NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden)"

# The prompts of the visible notebook's code cells ("[3]:", "[*]:" running or queued, "[ ]:").
PROMPTS = """notebook => [...document.querySelectorAll(`${notebook} .jp-CodeCell .jp-InputArea-prompt`)]
    .map(prompt => prompt.textContent.trim())"""
# Run All has finished when the kernel is idle, no cell waits to run and some cell has run
# (an unexpected error stops the run there: the checks of the saved file then name the cell).
# A dialog (the kernel died or restarted) stops the wait at once.
RUN_FINISHED = f"""notebook => {{
    if (document.querySelector('.jp-Dialog')) return true;
    const prompts = ({PROMPTS})(notebook);
    const indicator = document.querySelector(`${{notebook}} .jp-Notebook-ExecutionIndicator`);
    return indicator?.dataset.status === 'idle' && prompts.some(p => /\\d/.test(p))
        && !prompts.some(p => p.includes('*'));
}}"""
# The bytes an <img> shows, as a digest, with the URL it shows them from.
PICTURE = """async img => {
    const bytes = await (await fetch(img.src)).arrayBuffer();
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
    return {src: img.src, digest: Array.from(digest, b => b.toString(16).padStart(2, '0')).join('')};
}"""
REDRAWN = re.compile(r"^Redrawn in \d+ ms\.$")
# A new picture has loaded and the status line says it was redrawn.
REDRAW_FINISHED = """([img, status, src, redrawn]) => img.src !== src && img.complete && img.naturalWidth > 0
    && new RegExp(redrawn).test(status.textContent.trim())"""


def open_notebook(page, url: str) -> str:
    """Open ``url``; return the first heading of the notebook it brings to the front."""
    page.goto(url)
    return notebook_heading(page, url.split("?")[0].rsplit("/", 1)[-1])


def notebook_heading(page, name: str) -> str:
    """Wait for ``name`` to be the current tab; return its first heading."""
    page.wait_for_selector(f"#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current:has-text('{name}')", timeout=90_000)
    return page.wait_for_selector(f"{NOTEBOOK} .jp-MarkdownCell h1", timeout=90_000).inner_text()


def menu(page, top: str, item: str | re.Pattern) -> None:
    page.get_by_role("menuitem", name=top, exact=True).click()
    page.get_by_role("menuitem", name=item, exact=isinstance(item, str)).click()


def notebook_tab(page, name: str):
    return page.locator("#jp-main-dock-panel .lm-TabBar-tab", has_text=re.compile(f"^{re.escape(name)}$"))


def open_only(page, name: str) -> None:
    """Bring ``name`` to the front as a learner does (a double click in the file browser),
    after closing every other notebook, so one kernel runs at a time."""
    for other in page.locator("#jp-main-dock-panel .lm-TabBar-tab").all_inner_texts():
        if other.strip().endswith(".ipynb") and other.strip() != name:
            close_and_shut_down(page, other.strip())
    item = page.locator(".jp-DirListing-item", has=page.locator(
        ".jp-DirListing-itemText", has_text=re.compile(f"^{re.escape(name)}$")))
    for attempt in (1, 2):  # a listing redrawn between the two clicks makes the first one a miss
        if notebook_tab(page, name).count():
            break
        item.dblclick()
        try:
            notebook_tab(page, name).wait_for(timeout=15_000)
        except playwright.TimeoutError:
            if attempt == 2:
                raise AssertionError(f"a double click on {name} in the file browser did not open it") from None
    notebook_heading(page, name)
    # The notebook's kernel has started.
    page.wait_for_selector(f"{NOTEBOOK} .jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=90_000)


def close_and_shut_down(page, name: str) -> None:
    """File > Close and Shut Down Notebook, confirmed; then no kernel may be left running."""
    dialogs = page.locator(".jp-Dialog")
    while dialogs.count():  # one left by a failure ("the kernel appears to have died") would block the menu
        page.keyboard.press("Escape")
        dialogs.first.wait_for(state="detached", timeout=5_000)
    notebook_tab(page, name).click()
    menu(page, "File", re.compile(r"^Close and Shut Down Notebook"))
    page.locator(".jp-Dialog .jp-mod-accept").click()
    notebook_tab(page, name).wait_for(state="detached", timeout=30_000)
    api = page.url.split("/lab")[0] + "/api"  # the page's login cookie lets it in
    for _ in range(100):  # the shutdown request has been answered; a few polls at most
        kernels = page.request.get(f"{api}/kernels").json()
        sessions = page.request.get(f"{api}/sessions").json()
        # The notebook's kernel is gone, and every kernel left belongs to a notebook still open.
        if (not any(s["path"].endswith(f"/{name}") or s["path"] == name for s in sessions)
                and {k["id"] for k in kernels} <= {s["kernel"]["id"] for s in sessions}):
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"kernels still running after closing {name}: {kernels}")


def run_all_cells(page, stored: dict) -> None:
    """Edit > Clear Outputs of All Cells, then Run > Run All Cells; wait until it has finished.
    Clearing first means a prompt with a number is one this run wrote."""
    menu(page, "Edit", "Clear Outputs of All Cells")
    page.wait_for_function(f"notebook => !({PROMPTS})(notebook).some(p => /\\d/.test(p))", arg=NOTEBOOK,
                           timeout=30_000)
    menu(page, "Run", "Run All Cells")
    try:
        page.wait_for_function(RUN_FINISHED, arg=NOTEBOOK, polling=100, timeout=RUN_ALL_TIMEOUT * 1000)
    except playwright.TimeoutError:
        raise AssertionError(f"Run All Cells did not finish in {RUN_ALL_TIMEOUT} s{running(page, stored)}") from None
    dialog = page.locator(".jp-Dialog")
    if dialog.count():
        shown = " ".join(dialog.inner_text().split())
        raise AssertionError(f"JupyterLab showed a dialog during Run All Cells: {shown!r}{running(page, stored)}")


def running(page, stored: dict) -> str:
    """Which cell is running (the first "[*]:"), scrolled into view, for a failure's message."""
    prompts = page.evaluate(PROMPTS, NOTEBOOK)
    first = next((i for i, prompt in enumerate(prompts) if "*" in prompt), None)
    if first is None:
        return ""
    show(page.locator(f"{NOTEBOOK} .jp-CodeCell").nth(first))
    cell = [c for c in stored["cells"] if c["cell_type"] == "code"][first]
    return f"; cell {cell.get('id')} was running:\n{''.join(cell['source'])}"


def save(page) -> None:
    page.keyboard.press("Control+s")
    page.wait_for_selector("#jp-main-dock-panel .lm-TabBar-tab.jp-mod-dirty", state="detached", timeout=30_000)


def show(locator) -> None:
    """Scroll what a failure is about into view, for the screenshot. Cells above it may grow
    as they come into view and are drawn, so it scrolls again until it stays put."""
    try:
        locator.evaluate("""async element => {
            for (let i = 0; i < 5; i++) {
                element.scrollIntoView({block: 'center'});
                await new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)));
            }
        }""", timeout=5_000)
    except playwright.Error:
        pass


@contextmanager
def screenshot_on_failure(page, path: Path):
    """A failure inside saves a screenshot of the page at ``path`` and names it in its message."""
    try:
        yield
    except Exception as error:
        try:
            page.screenshot(path=path, full_page=True)
            where = f"screenshot: {path}"
        except playwright.Error as failed:
            where = f"no screenshot: {failed}"
        raise AssertionError(f"{error}\n{where}") from error


def check_saved(page, saved: dict, stored: dict) -> None:
    """What nbval checks in a kernel alone: every cell ran in order, errors only where tagged
    (raises-exception), no leak warning but where one is shown on purpose (shows-warning), the
    plots drawn."""
    code = [(i, c) for i, c in enumerate(saved["cells"]) if c["cell_type"] == "code" and "".join(c["source"]).strip()]
    cells = page.locator(f"{NOTEBOOK} .jp-Notebook-cell")
    for expected, (index, cell) in enumerate(code, start=1):
        source, tags = "".join(cell["source"]), cell["metadata"].get("tags", [])
        if cell["execution_count"] != expected:
            show(cells.nth(index))
            raise AssertionError(f"cell {cell.get('id')} ran as In [{cell['execution_count']}], "
                                 f"not In [{expected}]:\n{source}")
        raised = [o for o in cell["outputs"] if o["output_type"] == "error"]
        tagged = "raises-exception" in tags
        if bool(raised) != tagged:
            show(cells.nth(index))
            raise AssertionError(f"{'no' if tagged else 'an'} error in cell {cell.get('id')}:\n{source}")
        text = json.dumps(cell["outputs"])
        for warning in LEAK_WARNINGS:
            if warning in text and "shows-warning" not in tags:
                show(cells.nth(index))
                raise AssertionError(f"{warning!r} after cell {cell.get('id')}:\n{source}")

    def plots(nb):
        return sum("image/png" in o.get("data", {}) for c in nb["cells"] for o in c.get("outputs", []))

    drawn, expected = plots(saved), plots(stored)
    assert drawn == expected > 0, f"{drawn} plots drawn, {expected} in the notebook as stored"


def panels_shown(nb: dict) -> int:
    """How many live panels the notebook displays, counted by the line each shows where widgets do not run."""
    return sum("application/vnd.jupyter.widget-view+json" in o.get("data", {})
               and bool(PANEL_FALLBACK.match("".join(o["data"].get("text/plain", ""))))
               for c in nb["cells"] for o in c.get("outputs", []))


def turn_first_knob(page, box) -> None:
    """Move the panel's first slider one step with the keyboard (the other way at its end), or
    click its first toggle, or pick the next entry of its first menu; the picture must change
    and the status line say it redrew."""
    image, status = box.locator(":scope > img"), box.locator(":scope > .widget-label")
    box.scroll_into_view_if_needed()
    before = image.evaluate(PICTURE)
    sliders, toggles, menus = box.locator(".widget-slider"), box.locator(".widget-toggle-button"), box.locator("select")
    if sliders.count():
        knob = sliders.first.locator(".widget-label").inner_text()
        handle = sliders.first.locator(".noUi-handle")
        position = handle.get_attribute("aria-valuenow")
        key = "ArrowLeft" if position == handle.get_attribute("aria-valuemax") else "ArrowRight"
        handle.press(key)
        assert handle.get_attribute("aria-valuenow") != position, f"{key} did not move the {knob} slider"
        what = f"{key} on the {knob} slider"
    elif toggles.count():
        what = f"a click on the {toggles.first.inner_text()} toggle"
        toggles.first.click()
    else:
        options = menus.first.locator("option").all_inner_texts()
        current = menus.first.evaluate("select => select.selectedIndex")
        what = f"choosing {options[(current + 1) % len(options)]!r}"
        menus.first.select_option(index=(current + 1) % len(options))
    try:
        page.wait_for_function(REDRAW_FINISHED, timeout=30_000, arg=[
            image.element_handle(), status.element_handle(), before["src"], REDRAWN.pattern])
    except playwright.TimeoutError:
        raise AssertionError(f"after {what} the picture was not redrawn; the status says "
                             f"{status.inner_text()!r}") from None
    assert image.evaluate(PICTURE)["digest"] != before["digest"], f"after {what} the picture is the same"
    assert REDRAWN.match(status.inner_text().strip()), status.inner_text()


def check_panels(page, saved: dict, name: str) -> int:
    """Every live panel rendered as a widget, and moving its first knob redraws its picture."""
    shown = panels_shown(saved)
    wanted = PANEL_LESSONS.get(name, 0)
    assert shown >= wanted, f"{name} shows {shown} live panels; asyncio_patterns.demos.panels lists {wanted}"
    boxes = page.locator(f"{NOTEBOOK} .asyncio-patterns-panel")
    errors = page.locator(NOTEBOOK).get_by_text("Error displaying widget")
    try:
        playwright.expect(boxes).to_have_count(shown, timeout=30_000)
    except AssertionError:
        show(errors.first if errors.count() else boxes.first)
        raise AssertionError(f"{boxes.count()} live panels rendered of the {shown} displayed; "
                             f"{errors.count()} 'Error displaying widget'") from None
    if errors.count():
        show(errors.first)
        raise AssertionError(f"{errors.count()} 'Error displaying widget' in the notebook")
    for box in boxes.all():
        # The static first picture, the output just above the panel, is hidden while it is live.
        above = box.locator("xpath=ancestor::div[contains(@class, 'jp-OutputArea-child')][1]"
                            "/preceding-sibling::div[contains(@class, 'jp-OutputArea-child')][1]")
        assert above.count() == 1 and not above.is_visible(), f"{name}: a live panel's static picture is still shown"
        turn_first_knob(page, box)
    return shown


@pytest.fixture(scope="module")
def jupyterlab(lab, browser):
    """One JupyterLab page for the whole module, opened on the URL `make lab` printed.
    Every request it makes is recorded, from the first."""
    url, folder = lab
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    opened = time.monotonic()
    with screenshot_on_failure(page, folder / "start.png"):
        heading = open_notebook(page, url)
    yield SimpleNamespace(page=page, url=url, folder=folder, heading=heading, requested=requested, opened=opened)
    page.close()


def test_make_lab_prints_a_url_that_opens_the_start_here_notebook(jupyterlab):
    assert jupyterlab.heading.startswith("Start here")


@pytest.mark.parametrize("name", LESSONS)
def test_run_all_cells_in_jupyterlab(jupyterlab, name, tmp_path):
    """Run > Run All Cells, save, and the saved copy is checked; then every live panel's first
    knob is turned. The notebook is closed and its kernel shut down before the next one."""
    page, copy = jupyterlab.page, jupyterlab.folder / name
    stored = json.loads(copy.read_text())  # as copied at the start, before this run saves over it
    shot = tmp_path / f"{name.split('_')[0]}.png"
    started = time.monotonic()
    try:
        with screenshot_on_failure(page, shot):
            open_only(page, name)
            opened = time.monotonic()
            run_all_cells(page, stored)
            ran = time.monotonic()
            save(page)
            saved = json.loads(copy.read_text())
            check_saved(page, saved, stored)
            panels = check_panels(page, saved, name)
    finally:
        with screenshot_on_failure(page, shot.with_stem(f"{shot.stem}-close")):
            if notebook_tab(page, name).count():
                close_and_shut_down(page, name)
    print(f"{name}: opened in {opened - started:.1f} s, Run All {ran - opened:.1f} s, "
          f"{panels} panels turned, {time.monotonic() - started:.1f} s in all")


def test_the_course_map_link_lands_on_the_map_at_the_first_click(jupyterlab, tmp_path):
    """A lesson's footer links to the map in lesson 00; JupyterLab draws a long notebook lazily,
    so the map must be where the first click can scroll to it."""
    page, lesson = jupyterlab.page, LESSONS[1]
    with screenshot_on_failure(page, tmp_path / "course-map.png"):
        open_only(page, lesson)
        link = page.locator(f"{NOTEBOOK} a", has_text=re.compile("^Course map$")).last
        link.scroll_into_view_if_needed()
        link.click()
        notebook_heading(page, LESSONS[0])
        playwright.expect(page.locator(f"{NOTEBOOK} h2", has_text=re.compile("^Course map"))).to_be_in_viewport(
            timeout=15_000)
    for name in (lesson, LESSONS[0]):
        close_and_shut_down(page, name)


def test_jupyterlab_opens_with_no_news_prompt_and_no_update_check(jupyterlab):
    """The settings shipped in jupyterlab-settings/ (installed by binder/postBuild) are in force.
    Run last, this sees every request the page made while the lessons ran."""
    page, url = jupyterlab.page, jupyterlab.url
    # The prompt is shown once JupyterLab is restored and stays until answered: give it 3 s from
    # the page's opening (long past when the lessons ran first).
    page.wait_for_timeout(max(0.0, 3000 - 1000 * (time.monotonic() - jupyterlab.opened)))
    assert page.get_by_text("official Jupyter news").count() == 0, "JupyterLab asked about Jupyter news"
    announcements = [u for u in jupyterlab.requested if re.search(r"/lab/api/(news|update)\b", u)]
    assert not announcements, f"JupyterLab fetched news or checked for updates: {announcements}"
    base, token = url.split("/lab/tree/")[0], url.rsplit("token=", 1)[1]
    answer = page.request.get(f"{base}/lab/api/settings/@jupyterlab/apputils-extension:notification?token={token}")
    # Overrides become the schema's defaults, which the learner's own settings may change later.
    defaults = {name: spec["default"] for name, spec in answer.json()["schema"]["properties"].items()}
    assert (defaults["fetchNews"], defaults["checkForUpdates"]) == ("false", False), defaults
