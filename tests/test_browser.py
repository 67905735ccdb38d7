"""The saved stepper page, driven in Debian's Chromium (headless) through Playwright.

Opens the lecture's sigmoid circuit page from a file:// URL, steps gate by gate with clicks
and arrow keys, checks what each step makes visible on which wire, the captions and the
names they use, the running sum of a node used twice, clicks a node for its chain-rule
expansion, and takes a screenshot.  Needs /usr/bin/chromium (`make test` installs it)."""
import re
import struct

import pytest

from autodiff import Value
from autodiff.examples import sigmoid_circuit
from visualize import stepper

GREEN, RED = "#1a7f37", "#cf222e"


def open_page(browser, root, path):
    stepper(root).save(str(path))
    pg = browser.new_page(viewport={"width": 1300, "height": 650})
    pg.errors = []
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    pg.goto(path.as_uri())
    return pg


@pytest.fixture(scope="module")
def page(browser, tmp_path_factory):
    pg = open_page(browser, sigmoid_circuit()[0],
                   tmp_path_factory.mktemp("stepper") / "steps.html")
    yield pg
    pg.close()


def state(pg):
    el = pg.locator("#stepper")
    return (int(el.get_attribute("data-step")), el.get_attribute("data-phase"),
            el.get_attribute("data-current"))


def visible_texts(pg, nid, color):
    return pg.evaluate("""([nid, color]) => Array.from(
        document.querySelectorAll('#wire-' + nid + ' text'))
        .filter(t => t.getAttribute('fill') === color && !t.classList.contains('hide'))
        .map(t => t.textContent)""", [nid, color])


def all_visible(pg, color):
    """{wire id: [texts]} of every wire's visible texts in ``color``."""
    return pg.evaluate("""(color) => {
        const out = {};
        document.querySelectorAll('#diagram g[id^="wire-"]').forEach(g => {
          const ts = Array.from(g.querySelectorAll('text')).filter(t =>
            t.getAttribute('fill') === color && !t.classList.contains('hide'))
            .map(t => t.textContent);
          if (ts.length) out[g.id.slice(5)] = ts;
        });
        return out; }""", color)


def drawn_texts(pg):
    return set(pg.evaluate("""() => Array.from(document.querySelectorAll('#diagram text'))
        .map(t => t.textContent.trim())"""))


def step_data(pg):
    return pg.evaluate("JSON.parse(document.getElementById('stepdata').textContent)")


def caption(pg):
    return pg.locator("#caption").text_content()


def test_sigmoid_circuit_takes_17_presses_gate_by_gate(page):
    pg = page
    pg.click("#reset")
    assert pg.errors == []
    assert state(pg) == (0, "start", "")
    # the inputs hold their values from the start; nothing computed is shown yet
    assert all_visible(pg, GREEN) == {"n0": ["2.00"], "n1": ["-1.00"], "n3": ["-3.00"],
                                      "n4": ["-2.00"], "n7": ["-3.00"]}
    assert all_visible(pg, RED) == {}
    presses = 0
    while "Done" not in caption(pg):
        pg.click("#next")
        presses += 1
        assert presses <= 18
    assert presses == 17  # 8 gates forward, the output's gradient 1, 8 gates backward
    assert pg.locator("#counter").text_content() == "step 17 / 17"
    # the end: every wire holds the slides' numbers
    assert visible_texts(pg, "n0", RED) == ["-0.20"]  # w0
    assert visible_texts(pg, "n1", RED) == ["0.39"]   # x0
    assert visible_texts(pg, "n4", RED) == ["-0.59"]  # x1
    assert visible_texts(pg, "n12", GREEN) == ["0.73"]


def test_each_forward_step_shows_its_gate_output(page):
    pg = page
    pg.click("#reset")
    before = all_visible(pg, GREEN)
    for k in range(1, 9):
        pg.keyboard.press("ArrowRight")
        step, phase, cur = state(pg)
        assert (step, phase) == (k, "forward")
        now = all_visible(pg, GREEN)
        new = {n: t for n, t in now.items() if before.get(n) != t}
        assert list(new) == [cur]  # exactly the highlighted gate's output wire
        assert "current" in pg.locator(f"#gate-{cur}").get_attribute("class")
        before = now
    assert caption(pg) == ("Forward 8/8: gate 1/x reads n11 and computes "
                           "f = 1/1.37 = 0.73")
    assert visible_texts(pg, "n12", RED) == []


def test_each_backward_step_shows_gradients_on_the_receiving_wires(page):
    pg = page
    data = step_data(pg)
    pg.click("#reset")
    for _ in range(9):
        pg.click("#next")
    assert state(pg) == (9, "backward", "n12")
    assert caption(pg) == "Backward pass: it starts at the output f, with df/df = 1.00 (red)."
    assert all_visible(pg, RED) == {"n12": ["1.00"]}
    before = all_visible(pg, RED)
    for k in range(10, 18):
        pg.click("#next")
        now = all_visible(pg, RED)
        new = {n: t for n, t in now.items() if before.get(n) != t}
        receivers = {s[0] for s in data["steps"][k]["show"]}
        assert new and set(new) == receivers, k  # what the gate sends, where it goes
        before = now
    # at step 16 the '*' gate of w0*x0 sends 0.20 x -1 to w0 and 0.20 x 2 to x0 at once
    # (the '+' gates visit their first input first, as the engine does); at step 17 the
    # second '*' gate sends to w1 and x1
    pg.click("#reset")
    for _ in range(16):
        pg.keyboard.press("ArrowRight")
    assert visible_texts(pg, "n0", RED) == ["-0.20"]
    assert visible_texts(pg, "n1", RED) == ["0.39"]
    assert visible_texts(pg, "n3", RED) == []  # w1: its gate comes next
    cap = caption(pg)
    assert "0.1966 x 2.00 = 0.39  -> x0" in cap  # the factors give the product shown
    assert "-> w0" in cap
    pg.keyboard.press("ArrowRight")
    assert visible_texts(pg, "n3", RED) == ["-0.39"]
    assert "0.1966 x -2.00 = -0.39  -> w1" in caption(pg)


def test_every_name_a_caption_uses_is_drawn(page):
    pg = page
    drawn = drawn_texts(pg)
    data = step_data(pg)
    for k, st in enumerate(data["steps"]):
        for name in st["names"]:
            assert name in drawn, (k, name)
            assert re.search(rf"(^|[^\w.]){re.escape(name)}([^\w.]|$)", st["caption"]) \
                or st["phase"] == "start", (k, name)
        # every n<k> a caption says is a name on the diagram
        for n in re.findall(r"\bn\d+\b", st["caption"]):
            assert n in drawn, (k, n)


def test_node_used_twice_shows_its_running_sum(browser, tmp_path):
    x = Value(0.5, "x")
    y = Value(0.4, "y")
    out = x * y + x * y  # x gets 0.40 from each product
    out.label = "L"
    pg = open_page(browser, out, tmp_path / "twice.html")
    data = step_data(pg)
    x_id = next(n for n, info in data["nodes"].items() if info["name"] == "x")
    seen = []
    for _ in range(len(data["steps"]) - 1):
        pg.click("#next")
        seen.append(visible_texts(pg, x_id, RED))
    arrivals = [t for t in seen if t]
    assert arrivals[0] == ["0.40"]  # the first share
    assert ["0.40 + 0.40 = 0.80"] in arrivals  # then the sum, when the second arrives
    assert seen[-1] == ["0.40 + 0.40 = 0.80"] or seen[-1] == ["0.80"]
    assert "dL/dx = 0.40 + 0.40 = 0.80" in "".join(st["caption"] for st in data["steps"])
    pg.click("#prev")
    pg.click("#next")
    assert pg.errors == []
    pg.close()


def test_play_pause(page):
    pg = page
    pg.click("#reset")
    pg.click("#play")
    assert pg.locator("#stepper").get_attribute("data-playing") == "true"
    pg.wait_for_function("Number(document.getElementById('stepper').dataset.step) >= 2",
                         timeout=5000)
    pg.click("#play")  # pause
    assert pg.locator("#stepper").get_attribute("data-playing") == "false"
    paused_at = state(pg)[0]
    pg.wait_for_timeout(1200)
    assert state(pg)[0] == paused_at


def test_click_node_moves_the_highlight_and_shows_chain_rule(page, tmp_path):
    pg = page
    pg.click("#reset")
    for _ in range(3):
        pg.click("#next")
    pg.click("#wire-n1 text >> nth=0")  # the input x0
    text = pg.locator("#expansion").text_content()
    assert text.startswith("df/dx0 = sum over 1 path")
    assert "f <- [1/x] <- [+1] <- [exp] <- [*-1] <- [+] <- [+] <- [*] <- x0" in text
    assert text.rstrip().endswith("= 0.39")
    assert state(pg)[2] == "n1"
    assert "current" in pg.locator("#wire-n1").get_attribute("class")
    assert pg.locator("#diagram g.current").count() == 1
    pg.click("#gate-n10")  # the exp gate
    assert pg.locator("#expansion").get_attribute("data-node") == "n10"
    assert state(pg)[2] == "n10"
    assert "current" in pg.locator("#gate-n10").get_attribute("class")
    assert pg.locator("#diagram g.current").count() == 1
    assert "-0.53" in pg.locator("#expansion").text_content()
    shot = tmp_path / "stepper.png"
    pg.screenshot(path=str(shot), full_page=True)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    width, height = struct.unpack(">II", data[16:24])
    assert width >= 1000 and height >= 300
    assert pg.errors == []


def test_micrograd_graph_steps_in_the_browser(browser, tmp_path):
    """micrograd's own Value: the page steps gate by gate to the gradients micrograd's
    backward() computes, and names its ReLU and **2 gates as micrograd writes them."""
    import micrograd.engine as mg
    a, b = mg.Value(2.0), mg.Value(-3.0)
    out = (a * b + a * a).relu() * b + (a ** 2)
    out.backward()
    pg = open_page(browser, out, tmp_path / "micrograd.html")
    data = step_data(pg)
    gates = sum(1 for st in data["steps"] if st["phase"] == "forward")
    assert len(data["steps"]) - 1 == 2 * gates + 1
    for _ in range(len(data["steps"]) - 1):
        pg.click("#next")
    assert "Done" in caption(pg)
    want = {f"{a.grad:.2f}", f"{b.grad:.2f}"}
    got = {t.split(" = ")[-1] for ts in all_visible(pg, RED).values() for t in ts}
    assert want <= got
    assert {"ReLU", "**2"} <= drawn_texts(pg)
    assert pg.errors == []
    pg.close()


@pytest.mark.parametrize("width", [1300, 800])
def test_notebook_frame_shows_the_whole_stepper(browser, tmp_path, width):
    """The stepper as a notebook shows it (its _repr_html_ iframe): the page inside fits
    the frame, so the circuit and the captions are not cut off."""
    f, _ = sigmoid_circuit()
    path = tmp_path / "cell.html"
    path.write_text(f"<html><body style='margin:0'>{stepper(f)._repr_html_()}</body></html>")
    pg = browser.new_page(viewport={"width": width, "height": 900})
    pg.goto(path.as_uri())
    frame = pg.frames[1]
    frame.wait_for_selector("#stepper")
    inner = frame.evaluate("document.documentElement.scrollHeight")
    outer = pg.evaluate("document.querySelector('iframe').clientHeight")
    assert inner <= outer, (inner, outer)
    pg.close()
