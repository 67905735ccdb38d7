"""The saved stepper page, driven in Debian's Chromium (headless) through Playwright.

Opens the lecture's sigmoid circuit page from a file:// URL, steps with clicks and arrow
keys, checks captions and the highlighted gate, clicks a node for its chain-rule
expansion, and takes a screenshot.  Needs /usr/bin/chromium (`make test` installs it)."""
import struct

import pytest
from playwright.sync_api import sync_playwright

from autodiff.examples import sigmoid_circuit
from visualize import stepper

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]




@pytest.fixture(scope="module")
def page(tmp_path_factory):
    path = tmp_path_factory.mktemp("stepper") / "steps.html"
    stepper(sigmoid_circuit()[0]).save(str(path))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        pg = browser.new_page(viewport={"width": 1300, "height": 650})
        errors = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.goto(path.as_uri())
        pg.errors = errors
        yield pg
        browser.close()


def state(pg):
    el = pg.locator("#stepper")
    return (int(el.get_attribute("data-step")), el.get_attribute("data-phase"),
            el.get_attribute("data-current"))


def visible_texts(pg, nid, color):
    return pg.evaluate("""([nid, color]) => Array.from(
        document.querySelectorAll('#wire-' + nid + ' text'))
        .filter(t => t.getAttribute('fill') === color && !t.classList.contains('hide'))
        .map(t => t.textContent)""", [nid, color])


def test_walks_forward_then_backward(page, tmp_path):
    pg = page
    assert pg.errors == []
    assert state(pg) == (0, "start", "")
    assert "forward pass" in pg.locator("#caption").text_content()
    # nothing is shown yet: no green value, no red gradient on the output wire n12
    assert visible_texts(pg, "n12", "#1a7f37") == []
    pg.click("#next")
    assert state(pg) == (1, "forward", "n0")
    assert pg.locator("#caption").text_content() == "Forward 1/13 (input): w0 = 2.00"
    assert "current" in pg.locator("#wire-n0").get_attribute("class")
    for _ in range(9):
        pg.keyboard.press("ArrowRight")
    # step 10: the '*-1' gate, 1 * -1 = -1, highlighted
    assert state(pg) == (10, "forward", "n9")
    assert pg.locator("#caption").text_content() == \
        "Forward 10/13 (gate *-1): n9 = 1.00 * -1 = -1.00"
    assert "current" in pg.locator("#gate-n9").get_attribute("class")
    assert "current" not in (pg.locator("#wire-n0").get_attribute("class") or "")
    pg.keyboard.press("ArrowLeft")
    assert state(pg)[:2] == (9, "forward")
    for _ in range(4):
        pg.click("#next")
    # step 13: forward done, the output 0.73 is shown, no gradient yet
    assert state(pg) == (13, "forward", "n12")
    assert visible_texts(pg, "n12", "#1a7f37") == ["0.73"]
    assert visible_texts(pg, "n12", "#cf222e") == []
    pg.keyboard.press("ArrowRight")
    # step 14: backward starts at the 1/x gate: -1/1.37^2 = -0.53
    assert state(pg) == (14, "backward", "n12")
    cap = pg.locator("#caption").text_content()
    assert "d(1/x)/dx = -1/x^2 = -0.53;  1.00 x -0.53 = -0.53" in cap
    assert "current" in pg.locator("#gate-n12").get_attribute("class")
    assert visible_texts(pg, "n12", "#cf222e") == ["1.00"]
    for _ in range(2):
        pg.keyboard.press("ArrowRight")
    # step 16: the exp gate sends -0.53 * e^-1 = -0.20 back
    assert state(pg) == (16, "backward", "n10")
    assert "-0.53 x 0.37 = -0.20" in pg.locator("#caption").text_content()
    pg.click("#reset")
    assert state(pg) == (0, "start", "")
    assert visible_texts(pg, "n12", "#1a7f37") == []
    pg.screenshot(path=str(tmp_path / "start.png"))


def test_play_pause_runs_to_the_end(page):
    pg = page
    pg.click("#reset")
    pg.click("#play")
    assert pg.locator("#stepper").get_attribute("data-playing") == "true"
    pg.wait_for_function("document.getElementById('stepper').dataset.step >= '2'",
                         timeout=5000)
    pg.click("#play")  # pause
    assert pg.locator("#stepper").get_attribute("data-playing") == "false"
    paused_at = state(pg)[0]
    pg.wait_for_timeout(1200)
    assert state(pg)[0] == paused_at
    # last step: every input gradient is shown, w0's is -0.20
    for _ in range(40):
        pg.keyboard.press("ArrowRight")
    assert state(pg)[0] == 26
    assert visible_texts(pg, "n0", "#cf222e") == ["-0.20"]
    assert visible_texts(pg, "n4", "#cf222e") == ["-0.59"]
    assert "Done" in pg.locator("#caption").text_content()


def test_click_node_shows_chain_rule(page, tmp_path):
    pg = page
    pg.click("#wire-n1 text >> nth=0")  # the input x0
    text = pg.locator("#expansion").text_content()
    assert text.startswith("df/dx0 = sum over 1 path")
    assert "f <- [1/x] <- [+1] <- [exp] <- [*-1] <- [+] <- [+] <- [*] <- x0" in text
    assert text.rstrip().endswith("= 0.39")
    pg.click("#gate-n10")  # the exp gate's output
    assert pg.locator("#expansion").get_attribute("data-node") == "n10"
    assert "-0.53" in pg.locator("#expansion").text_content()
    shot = tmp_path / "stepper.png"
    pg.screenshot(path=str(shot), full_page=True)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    width, height = struct.unpack(">II", data[16:24])
    assert width >= 1000 and height >= 300
    assert pg.errors == []
