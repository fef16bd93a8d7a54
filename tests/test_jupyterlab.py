"""The learner's path, in a real browser: `make lab`, then Run All Cells in JupyterLab.

`make lab` is started as a learner starts it (with a fixed token and no browser of its
own), headless Chromium opens the URL it prints, runs every cell of a lesson through
JupyterLab's Run menu and saves it. The saved copy must then show what nbval checks
in a kernel alone: every cell ran in order, errors only in cells tagged to raise, the
plots rendered, and no warning about something left behind. JupyterLab must also open
clean: no prompt about Jupyter news, no update check.

The lessons are copied to a temporary folder first, so the committed notebooks are
never touched. Needs Debian's `chromium` (`.ci/run` installs it); without it the test
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
from pathlib import Path

import pytest
from test_notebooks import LEAK_WARNINGS  # the same list the kernel-only leak check uses

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
LESSONS = ["00_start_here.ipynb", "02_semaphore_concurrency_limits.ipynb"]
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
    """`make lab` serving a copy of the course; yields (URL it printed, folder it serves)."""
    folder = tmp_path_factory.mktemp("course")
    shutil.copytree(ROOT / "notebooks", folder / "notebooks")
    token = secrets.token_hex(8)
    # A workspace folder of its own: no tabs restored from an earlier visit.
    args = (f"--no-browser --ServerApp.ip=127.0.0.1 --IdentityProvider.token={token} "
            f"--LabApp.workspaces_dir={folder / 'workspaces'}")
    server = subprocess.Popen(
        ["make", "-s", "-C", str(ROOT), "lab", f"PORT={free_port()}", f"LAB_ROOT={folder}", f"LAB_ARGS={args}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    printed: list[str] = []
    urls: list[str] = []
    found = threading.Event()
    # A token given on the command line is printed masked, as "?token=...".
    start_here = re.compile(r"http://127\.0\.0\.1:\d+/lab/tree/notebooks/00_start_here\.ipynb\?token=")

    def read() -> None:  # keeps the pipe drained for the server's whole life
        for line in server.stdout:
            printed.append(line)
            if match := start_here.search(line):
                urls.append(match.group() + token)
                found.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        assert found.wait(90), "make lab printed no URL for the start-here notebook:\n" + "".join(printed)
        yield urls[0], folder
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
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"


def open_notebook(page, url: str) -> str:
    """Open ``url``; return the first heading of the notebook it brings to the front."""
    page.goto(url)
    name = url.split("?")[0].rsplit("/", 1)[-1]
    page.wait_for_selector(f"#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current:has-text('{name}')", timeout=90_000)
    return page.wait_for_selector(f"{PANEL} .jp-MarkdownCell h1", timeout=90_000).inner_text()


def run_all_and_save(page, url: str) -> None:
    open_notebook(page, url)
    page.wait_for_selector(f"{PANEL} .jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=90_000)
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    # Busy first, then idle once the last cell has finished.
    page.wait_for_selector(f"{PANEL} .jp-Notebook-ExecutionIndicator[data-status='busy']", timeout=30_000)
    page.wait_for_selector(f"{PANEL} .jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)
    page.keyboard.press("Control+s")
    page.wait_for_selector(".jp-mod-dirty", state="detached", timeout=30_000)


def test_make_lab_prints_a_url_that_opens_the_start_here_notebook(lab, browser):
    url, _ = lab
    page = browser.new_page()
    assert open_notebook(page, url).startswith("Start here")
    page.close()


def test_jupyterlab_opens_with_no_news_prompt_and_no_update_check(lab, browser):
    """The settings shipped in jupyterlab-settings/ (installed by binder/postBuild) are in force."""
    url, _ = lab
    page = browser.new_page()
    asked = []
    page.on("request", lambda request: asked.append(request.url))
    open_notebook(page, url)
    # The prompt would be shown as soon as JupyterLab is restored; give it time to appear.
    page.wait_for_timeout(3000)
    assert page.get_by_text("official Jupyter news").count() == 0, "JupyterLab asked about Jupyter news"
    announcements = [u for u in asked if re.search(r"/lab/api/(news|update)\b", u)]
    assert not announcements, f"JupyterLab fetched news or checked for updates: {announcements}"
    base, token = url.split("/lab/tree/")[0], url.rsplit("token=", 1)[1]
    answer = page.request.get(f"{base}/lab/api/settings/@jupyterlab/apputils-extension:notification?token={token}")
    # Overrides become the schema's defaults, which the learner's own settings may change later.
    defaults = {name: spec["default"] for name, spec in answer.json()["schema"]["properties"].items()}
    assert (defaults["fetchNews"], defaults["checkForUpdates"]) == ("false", False), defaults
    page.close()


@pytest.mark.parametrize("name", LESSONS)
def test_run_all_cells_in_jupyterlab(lab, browser, name):
    url, folder = lab
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    run_all_and_save(page, url.replace("00_start_here.ipynb", name))
    page.close()

    saved = json.loads((folder / "notebooks" / name).read_text())
    stored = json.loads((ROOT / "notebooks" / name).read_text())
    code = [c for c in saved["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]
    assert [c["execution_count"] for c in code] == list(range(1, len(code) + 1))
    for cell in code:
        raised = [o for o in cell["outputs"] if o["output_type"] == "error"]
        expected = "raises-exception" in cell["metadata"].get("tags", [])
        assert bool(raised) == expected, f"{'no' if expected else 'an'} error in:\n{''.join(cell['source'])}"
        text = json.dumps(cell["outputs"])
        for warning in LEAK_WARNINGS:
            assert warning not in text, f"{warning!r} after:\n{''.join(cell['source'])}"

    def plots(nb):
        return sum("image/png" in o.get("data", {}) for c in nb["cells"] for o in c.get("outputs", []))

    assert plots(saved) == plots(stored) > 0
