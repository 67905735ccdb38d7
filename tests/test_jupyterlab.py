"""The teaching notebooks where learners run them: JupyterLab, in Debian's Chromium.

Starts JupyterLab on localhost (a free port, a random token, its network features off:
no news feed, no update check, a read-only extension manager; settings and workspaces
in a temporary directory), opens each notebook in headless Chromium through Playwright,
runs all cells and checks what a learner sees: no error output, every picture the cell
declares (metadata ``{"gradwire": {"shows": n}}``) rendered and visible; in notebook 01
the stepper answers Next (its caption and highlighted gate change); in notebook 03 the
live-view widgets render, the background one advances while it trains and Pause stops
it.  JupyterLab is shut down afterwards.  Needs /usr/bin/chromium and jupyterlab>=4.
Screenshots of what was checked are written to the test's temporary directory."""
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import jupyterlab  # noqa: F401  (in the test extra: `make test` installs it)
import pytest

REPO = Path(__file__).resolve().parents[1]
RUN = ["01-sigmoid-backprop", "02-neuron-to-mlp", "03-training-interactively",
       "04-losses-and-search", "05-micrograd-by-hand"]
SETTINGS = {  # user settings: no news or update requests, every cell kept in the page
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
        {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}
RUN_TIMEOUT = 420_000   # ms for all cells of one notebook (the machine may be loaded)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, token: str, method: str = "GET"):
    req = urllib.request.Request(url, method=method,
                                 headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(req, timeout=10) as r:
        body = r.read()
    return json.loads(body) if body else None


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("jupyterlab")
    books = root / "notebooks"
    books.mkdir()
    for name in RUN:   # a copy: the run may save files next to the notebooks
        shutil.copy(REPO / "notebooks" / f"{name}.ipynb", books)
    settings = root / "user-settings"
    for rel, value in SETTINGS.items():
        path = settings / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
    port, token = _free_port(), secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    env.update(PYTHONPATH=os.pathsep.join([str(REPO)] + [p for p in [
                   os.environ.get("PYTHONPATH")] if p]),
               JUPYTER_CONFIG_DIR=str(root / "config"),
               JUPYTER_RUNTIME_DIR=str(root / "runtime"),
               IPYTHONDIR=str(root / "ipython"),
               PYDEVD_DISABLE_FILE_VALIDATION="1")
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser",
           "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
           "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
           f"--ServerApp.root_dir={books}", "--ServerApp.terminals_enabled=False",
           "--LabApp.news_url=None",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
           "--LabApp.extension_manager=readonly",
           f"--LabApp.user_settings_dir={settings}",
           f"--LabApp.workspaces_dir={root / 'workspaces'}",
           "--LabApp.expose_app_in_browser=True"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:   # containers and CI often run as root
        cmd.append("--allow-root")
    log = open(root / "jupyterlab.log", "wb")  # noqa: SIM115 - the server writes it; closed below
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                            stdin=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                _get(f"{base}/api/status", token)
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("JupyterLab did not start: "
                                       + (root / "jupyterlab.log").read_text()[-2000:]) from None
                time.sleep(0.5)
        yield {"base": base, "token": token, "root": root}
    finally:
        try:
            _get(f"{base}/api/shutdown", token, method="POST")   # kernels too
            proc.wait(timeout=30)
        except Exception:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()


@pytest.mark.timeout(600)
def test_network_features_are_off(lab):
    news = _get(f"{lab['base']}/lab/api/news", lab["token"])
    update = _get(f"{lab['base']}/lab/api/update", lab["token"])
    assert news["news"] == [] and update["notification"] is None


CELL_REPORT = r"""() => {
  const panel = window.jupyterapp.shell.currentWidget;
  return panel.content.widgets.map((cell, i) => {
    if (cell.model.type !== 'code') return null;
    const outputs = cell.model.outputs.toJSON();
    const shows = ((cell.model.getMetadata('gradwire') || {}).shows) || 0;
    const pics = [];
    for (const out of cell.node.querySelectorAll('.jp-OutputArea-output')) {
      const el = out.querySelector('img, svg, iframe, .jupyter-widgets');
      if (el) pics.push(el);
    }
    const seen = pics.map(el => {
      el.scrollIntoView({block: 'center'});
      const r = el.getBoundingClientRect();
      const st = getComputedStyle(el);
      let ok = r.width > 20 && r.height > 20 && st.visibility !== 'hidden' &&
               st.display !== 'none';
      if (el.tagName === 'IMG') ok = ok && el.complete && el.naturalWidth > 0;
      for (const img of (el.classList.contains('jupyter-widgets') ?
                         el.querySelectorAll('img') : []))
        ok = ok && img.complete && img.naturalWidth > 0;
      return {tag: el.tagName, ok: ok, w: Math.round(r.width), h: Math.round(r.height)};
    });
    return {index: i, count: cell.model.executionCount, shows: shows, pictures: seen,
            errors: outputs.filter(o => o.output_type === 'error')
                           .map(o => o.ename + ': ' + o.evalue)};
  }).filter(c => c !== null);
}"""

ALL_DONE = r"""() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  if (!kernel || kernel.status !== 'idle') return false;
  return panel.content.widgets.every(c => c.model.type !== 'code' ||
                                         c.model.executionCount !== null);
}"""


def open_and_run(browser, lab, name):
    """Open notebook ``name`` in JupyterLab, run all cells, wait until all ran; returns
    the page and a per-code-cell report (outputs' errors, pictures and their sizes)."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(f"{lab['base']}/lab/tree/{name}.ipynb?reset&token={lab['token']}")
    page.wait_for_function(
        "() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
        " return !!(w && w.sessionContext && w.sessionContext.session &&"
        " w.sessionContext.session.kernel &&"
        " w.sessionContext.session.kernel.status === 'idle'); }", timeout=180_000)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function(ALL_DONE, timeout=RUN_TIMEOUT, polling=500)
    page.wait_for_timeout(1000)   # let the last outputs render
    return page, page.evaluate(CELL_REPORT)


def check_report(name, report):
    assert report, f"{name}: no code cells found"
    for cell in report:
        where = f"{name} cell {cell['index']}"
        assert cell["errors"] == [], f"{where}: {cell['errors']}"
        assert len(cell["pictures"]) == cell["shows"], (
            f"{where} should show {cell['shows']} picture(s), shows {cell['pictures']}")
        assert all(p["ok"] for p in cell["pictures"]), f"{where}: not visible: {cell['pictures']}"


def step_number(text: str) -> int:
    m = re.match(r"step (\d+)", text.strip())
    assert m, f"unexpected status {text!r}"
    return int(m.group(1))


@pytest.mark.timeout(600)
def test_01_stepper_answers_next(lab, browser, tmp_path):
    page, report = open_and_run(browser, lab, "01-sigmoid-backprop")
    check_report("01", report)
    frame = page.frame_locator(".jp-OutputArea-output iframe").first
    caption, stepper = frame.locator("#caption"), frame.locator("#stepper")
    frame.locator("#next").scroll_into_view_if_needed()
    before = (caption.text_content(), stepper.get_attribute("data-current"))
    frame.locator("#next").click()
    first = (caption.text_content(), stepper.get_attribute("data-current"))
    frame.locator("#next").click()
    second = (caption.text_content(), stepper.get_attribute("data-current"))
    assert before[0] != first[0] != second[0]
    assert first[1] and second[1] and first[1] != second[1]
    lit = frame.locator(".current")
    assert lit.count() >= 1 and lit.first.get_attribute("id").endswith(second[1])
    page.locator(".jp-OutputArea-output iframe").first.screenshot(
        path=str(tmp_path / "01-stepper.png"))
    assert page.errors == []
    page.close()


@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", [n for n in RUN if n[:2] not in ("01", "03")])
def test_figures_render(lab, browser, tmp_path, name):
    page, report = open_and_run(browser, lab, name)
    check_report(name, report)
    for cell in (c for c in report if c["shows"]):
        page.locator(".jp-Notebook .jp-Cell").nth(cell["index"]).screenshot(
            path=str(tmp_path / f"{name[:2]}-cell{cell['index']}.png"))
    assert page.errors == []
    page.close()


@pytest.mark.timeout(600)
def test_03_live_view_trains_in_the_background_and_pauses(lab, browser, tmp_path):
    page, report = open_and_run(browser, lab, "03-training-interactively")
    check_report("03", report)
    views = page.locator(".gradwire-live")
    assert views.count() == 2
    # the synchronous run: its numbers are the ones the notebook asserts
    sync_status = views.nth(0).locator(".gradwire-live-status")
    assert step_number(sync_status.inner_text()) == 60
    # the background run: advancing while it trains...
    bg = views.nth(1)
    status = bg.locator(".gradwire-live-status")
    bg.scroll_into_view_if_needed()
    page.wait_for_function("el => /^step \\d+/.test(el.textContent.trim())",
                           arg=status.element_handle(), timeout=60_000)
    s1 = step_number(status.inner_text())
    page.wait_for_timeout(2500)
    s2 = step_number(status.inner_text())
    assert s2 > s1, f"the background run did not advance: {s1} -> {s2}"
    assert "training" in status.inner_text()
    figure = bg.locator(".gradwire-live-figure")
    assert figure.evaluate("img => img.complete && img.naturalWidth > 0")
    bg.screenshot(path=str(tmp_path / "03-live-training.png"))
    # ...and Pause stops it
    bg.locator(".gradwire-live-pause").click()
    page.wait_for_function("el => el.textContent.includes('(paused)')",
                           arg=status.element_handle(), timeout=60_000)
    s3 = step_number(status.inner_text())
    page.wait_for_timeout(2500)
    assert step_number(status.inner_text()) == s3
    assert bg.locator(".gradwire-live-pause").inner_text().strip() == "Play"
    bg.screenshot(path=str(tmp_path / "03-live-paused.png"))
    assert page.errors == []
    page.close()
