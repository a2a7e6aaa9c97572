"""Every lesson's sliders in a real browser, as a learner meets them.

JupyterLab is served headless on a free local port, over copies of the lessons in a temporary folder
(so nothing in notebooks/ can change), and Debian's Chromium is driven through Playwright. Each lesson
with an explorer is opened, run top to bottom in fast mode, and checked for errors; then each slider is
moved with the keyboard, and its readout, the explorer's label and its picture must all change. A
dropdown must change the label and the picture too; a text box given an unknown word must show the
tokenizer's message and keep the picture. Screenshots go to build/browser/<lesson>/.

Needs `pip install playwright` (the test extra) and Chromium at /usr/bin/chromium (`make chromium`,
or `apt-get install chromium`); without them the test is skipped.
"""

import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SHOTS = ROOT / "build" / "browser"

sync_api = pytest.importorskip("playwright.sync_api", reason="the browser test needs Playwright: "
                               "pip install -c constraints.txt playwright (make test installs it)")
if not Path(CHROMIUM).exists():
    pytest.skip(f"the browser test needs Chromium at {CHROMIUM}: apt-get install chromium (or make chromium)",
                allow_module_level=True)


def _calls_widgets(path: Path) -> bool:
    cells = json.loads(path.read_text())["cells"]
    return any(re.search(r"\bwidgets\.\w+\(", "".join(c["source"])) for c in cells if c["cell_type"] == "code")


LESSONS = [p for p in sorted((ROOT / "notebooks").glob("*.ipynb")) if _calls_widgets(p)]

# One FigureControls as ipywidgets renders it: a VBox holding the controls, a Label and an Image.
EXPLORER = ".widget-vbox:has(> .widget-image)"
# The picture's bytes, hashed in the page: its src is a blob: URL, new on every update, so only the
# bytes say whether the picture changed. An update revokes the previous blob: a read that loses that
# race gives null and is read again.
DIGEST = """async img => {
    try {
        const bytes = await (await fetch(img.src)).arrayBuffer();
        const hash = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
        return Array.from(hash, b => b.toString(16).padStart(2, '0')).join('');
    } catch (error) {
        return null;
    }
}"""
# The errors of the open notebook, read from its model (an error output and a stderr stream look the
# same on the page). The app is reachable as window.jupyterapp with --LabApp.expose_app_in_browser.
ERRORS = """() => jupyterapp.shell.currentWidget.content.widgets.flatMap((cell, i) =>
    cell.model.type !== 'code' ? [] : cell.model.outputs.toJSON()
        .filter(o => o.output_type === 'error')
        .map(o => `cell ${i + 1} (${cell.model.sharedModel.getSource().split('\\n')[0]}): ` +
                  `${o.ename}: ${o.evalue}`))"""


def _wait(what: str, check, timeout: float, every: float = 0.25):
    """Poll check() until it returns something truthy; fail saying what did not happen."""
    end = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _digests() -> dict:
    return {p.name: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted((ROOT / "notebooks").glob("*.ipynb"))}


@dataclass
class Lab:
    url: str
    token: str
    before: dict = field(default_factory=_digests)  # the course's notebooks when the test started

    def api(self, path: str, method: str = "GET"):
        request = urllib.request.Request(self.url + path, method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def kernel(self, name: str) -> dict | None:
        """The kernel of the open lesson `name` (id, execution_state, last_activity), or None."""
        for session in self.api("/api/sessions"):
            if session["path"] == name:
                return session["kernel"]
        return None


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab over copies of the lessons, in fast mode, stopped by process group at the end."""
    root = tmp_path_factory.mktemp("lessons")
    for lesson in LESSONS:
        shutil.copy(lesson, root)
    # The course's settings, plus: every cell in the page (JupyterLab 4 otherwise renders only the cells
    # near the viewport) and no update check (the test stays on this machine).
    settings = tmp_path_factory.mktemp("settings")
    overrides = json.loads((ROOT / "scripts" / "jupyterlab-overrides.json").read_text())
    overrides.setdefault("@jupyterlab/notebook-extension:tracker", {})["windowingMode"] = "none"
    overrides.setdefault("@jupyterlab/apputils-extension:notification", {})["checkForUpdates"] = False
    (settings / "overrides.json").write_text(json.dumps(overrides))
    port, token = _free_port(), secrets.token_hex(16)
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={root}", f"--LabApp.app_settings_dir={settings}",
               f"--LabApp.user_settings_dir={settings / 'user'}", f"--LabApp.workspaces_dir={settings / 'ws'}",
               "--LabApp.expose_app_in_browser=True"]
    if os.getuid() == 0:
        command.append("--allow-root")  # Jupyter refuses root otherwise (CI machines often are root)
    # The server's environment reaches the kernels it starts: fast mode, one torch thread.
    env = dict(os.environ, MINIDIFF_FAST="1", OMP_NUM_THREADS="1")
    SHOTS.mkdir(parents=True, exist_ok=True)
    log = open(SHOTS / "jupyterlab.log", "w")
    server = subprocess.Popen(command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    try:
        lab = Lab(f"http://127.0.0.1:{port}", token)

        def answers():
            assert server.poll() is None, f"JupyterLab exited, see {SHOTS / 'jupyterlab.log'}"
            try:
                return lab.api("/api/status")
            except OSError:
                return None

        _wait("JupyterLab to answer on /api/status", answers, timeout=120)
        yield lab
    finally:
        # SIGTERM lets the server shut its kernels down; the group holds everything it started itself.
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM)
        yield chromium
        chromium.close()


def both(before: tuple, now: tuple) -> bool:
    """The picture and the label have both changed."""
    return now[0] != before[0] and now[1] != before[1]


class Lesson:
    """One open lesson: its page, its kernel and where its screenshots go."""

    def __init__(self, lab: Lab, page, name: str):
        self.lab, self.page, self.name = lab, page, name
        self.shots = SHOTS / Path(name).stem
        shutil.rmtree(self.shots, ignore_errors=True)
        self.shots.mkdir(parents=True)

    def idle_kernel(self, since: str | None = None, timeout: float = 120) -> dict:
        """Wait until the kernel is idle (and, with `since`, has done something after that time)."""
        def idle():
            kernel = self.lab.kernel(self.name)
            return kernel if (kernel and kernel["execution_state"] == "idle"
                              and kernel["last_activity"] != since) else None
        what = "the kernel to be idle" if since is None else "the kernel to handle the change and be idle again"
        return _wait(f"{self.name}: {what}", idle, timeout)

    def run_all(self, timeout: float = 600) -> None:
        """Run All from the Run menu; done when every code cell shows its number, [n]."""
        self.page.locator(".lm-MenuBar-itemLabel", has_text="Run").click()
        self.page.locator(".lm-Menu-itemLabel").get_by_text("Run All Cells", exact=True).click()
        prompts = self.page.locator(".jp-CodeCell .jp-InputPrompt")

        def finished():
            errors = self.page.evaluate(ERRORS)
            assert not errors, f"{self.name}: " + "; ".join(errors)  # Run All stops at an error
            texts = prompts.all_inner_texts()
            return texts and all(re.fullmatch(r"\[\d+\]:", t.strip()) for t in texts)

        _wait(f"{self.name}: Run All to finish (no cell showing [*] and each one numbered)", finished, timeout,
              every=1.0)
        self.idle_kernel()
        broken = self.page.get_by_text("Error displaying widget")
        assert broken.count() == 0, f"{self.name}: a widget failed to render: {broken.first.inner_text()}"

    def state(self, explorer) -> tuple[str, str]:
        """(hash of the picture's bytes, label text) of an explorer."""
        image = explorer.locator(":scope > .widget-image")
        digest = _wait(f"{self.name}: the picture's bytes", lambda: image.evaluate(DIGEST), timeout=10)
        return digest, explorer.locator(":scope > .widget-label").inner_text()

    def after(self, explorer, act, expect, settle: float = 5.0) -> tuple[tuple, tuple]:
        """Do `act`, wait until the kernel has handled it, and return the explorer's state before and
        after. The kernel sends the redraw before it reports idle; the page gets `settle` s more to show
        it as `expect(before, now)` says (and no more when nothing changes, e.g. lesson 03's s)."""
        before = self.state(explorer)
        since = self.lab.kernel(self.name)["last_activity"]
        act()
        self.idle_kernel(since, timeout=300)
        end = time.monotonic() + settle
        while not expect(before, now := self.state(explorer)) and time.monotonic() < end:
            time.sleep(0.25)
        return before, now

    def move(self, explorer, slider, label: str) -> bool:
        """Move a slider one step with the keyboard; True if the picture and the label changed."""
        handle, readout = slider.locator(".noUi-handle"), slider.locator(".widget-readout")
        handle.scroll_into_view_if_needed()
        shown = readout.inner_text()
        at_max = float(handle.get_attribute("aria-valuenow")) >= float(handle.get_attribute("aria-valuemax"))
        # press() focuses the handle first, as a learner's click or Tab would
        before, now = self.after(explorer, lambda: handle.press("ArrowLeft" if at_max else "ArrowRight"), both)
        assert readout.inner_text() != shown, f"{self.name}: slider {label!r}: its readout stayed at {shown}"
        return both(before, now)

    def shoot(self, explorer, name: str) -> None:
        explorer.screenshot(path=self.shots / f"{re.sub(r'[^A-Za-z0-9]+', '-', name).strip('-')}.png")


@pytest.mark.parametrize("path", LESSONS, ids=[p.stem for p in LESSONS])
def test_sliders_redraw_in_the_browser(lab, browser, path):
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    lesson = Lesson(lab, page, path.name)
    try:
        # A workspace of its own per lesson, so no tab of another lesson is restored with it.
        page.goto(f"{lab.url}/lab/workspaces/{path.stem}/tree/{path.name}?token={lab.token}")
        page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for(timeout=120_000)
        lesson.idle_kernel()
        lesson.run_all()
        explorers = page.locator(EXPLORER)
        assert explorers.count() > 0, f"{path.name}: calls widgets. but no explorer shows after Run All"
        for k, explorer in enumerate(explorers.all(), start=1):
            explorer.locator(":scope > .widget-image[src^='blob:']").wait_for()
            lesson.shoot(explorer, f"{k}-start")
            # A slider may matter only for another choice of a dropdown (lesson 03's cosine offset s
            # does nothing to a linear schedule): one that changed nothing is tried again after them.
            unchanged = []
            for slider in explorer.locator(".widget-slider").all():
                label = slider.locator(".widget-label").inner_text()
                if lesson.move(explorer, slider, label):
                    lesson.shoot(explorer, f"{k}-{label}")
                else:
                    unchanged.append((slider, label))
            for dropdown in explorer.locator(".widget-dropdown select").all():
                other = 0 if dropdown.evaluate("s => s.selectedIndex") else 1
                before, now = lesson.after(explorer, lambda: dropdown.select_option(index=other), both)
                assert both(before, now), \
                    f"{path.name}: explorer {k}: choosing option {other + 1} of a dropdown changed " \
                    f"{'neither picture nor label' if now == before else 'only one of picture and label'}"
                lesson.shoot(explorer, f"{k}-dropdown")
            for slider, label in unchanged:
                assert lesson.move(explorer, slider, label), \
                    f"{path.name}: explorer {k}: moving slider {label!r} did not change both the picture " \
                    f"and the label"
                lesson.shoot(explorer, f"{k}-{label}")
            # A text box (a prompt): an unknown word shows the tokenizer's message and keeps the picture.
            for box in explorer.locator(".widget-text input").all():
                typed = box.input_value() + " wug"
                before, now = lesson.after(explorer, lambda: (box.fill(typed), box.press("Enter")),
                                           lambda before, now: "wug" in now[1])
                assert "wug" in now[1] and now[0] == before[0], \
                    f"{path.name}: explorer {k}: after typing {typed!r} the label reads {now[1]!r} " \
                    f"(expected the tokenizer's message about 'wug', with the picture kept)"
                lesson.shoot(explorer, f"{k}-unknown-word")
    except BaseException:
        with contextlib.suppress(Exception):  # the failure itself matters more than its picture
            page.screenshot(path=lesson.shots / "failure.png")
        raise
    finally:
        for session in lab.api("/api/sessions"):  # free the kernel's memory for the next lesson
            lab.api(f"/api/sessions/{session['id']}", method="DELETE")
        context.close()


def test_course_notebooks_are_left_unchanged(lab):
    """The server served copies: the course's notebooks have the bytes and times they had before."""
    assert _digests() == lab.before
