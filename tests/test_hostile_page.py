"""Hostile input against the learner-facing views: the stepper page and the explainer.

Labels that look like the page template's placeholders or that open HTML comments and
scripts must neither run script nor break the page (checked in Chromium); a huge graph is
refused before any step is built; ``chain_rule`` works in linear time and memory on deep
graphs; bad arguments get errors naming the argument."""
import json
import re
import tracemalloc

import pytest

import visualize.steps as steps_module
from autodiff import Value, chain_rule
from visualize import GraphTooLarge, stepper

HOSTILE_LABELS = [
    "%DATA%<img src=x onerror=alert(1)>",
    "<!--<script>",
    "%SVG%%JS%%CSS%%TITLE%<script>alert(2)</script>",
    "</script><script>alert(3)</script>",
    "a\u2028b\u2029c<!--",
    "]]></script><svg onload=alert(4)>",
]


def hostile_graph(label):
    return (Value(2.0, label) * Value(3.0, "y")).exp()


# --- the page, as text ----------------------------------------------------------------

@pytest.mark.parametrize("label", HOSTILE_LABELS)
def test_page_is_filled_in_one_pass_and_data_cannot_close_its_script(label):
    page = stepper(hostile_graph(label)).html()
    # only the page's own two script elements open and close
    assert page.count("<script") == 2 and page.count("</script>") == 2
    assert "<img" not in page and "<svg onload" not in page
    data_text = re.search(r'<script type="application/json" id="stepdata">(.*?)</script>',
                          page, re.S).group(1)
    assert not re.search("[<>&\u2028\u2029]", data_text)  # all escaped
    data = json.loads(data_text)
    assert any(info["name"] == label for info in data["nodes"].values())
    # the body outside the scripts and the SVG holds no step data
    body = page.split("<body>", 1)[1].split('<script type="application/json"', 1)[0]
    assert '"caption":' not in body and '"phase":' not in body


def test_a_title_holding_placeholders_stays_text():
    from visualize import Stepper
    page = Stepper(Value(1.0, "x").exp(), title="%DATA% & %JS% <b>").html()
    assert "<title>%DATA% &amp; %JS% &lt;b&gt;</title>" in page
    assert page.count('"caption":') == 0 or page.index('"caption":') > page.index("stepdata")
    assert page.count("(function () {") == 1  # the script went in once, into its element


# --- the page, in Chromium --------------------------------------------------------------



@pytest.mark.parametrize("label", HOSTILE_LABELS[:2])
def test_hostile_label_runs_no_script_and_the_page_works(browser, tmp_path, label):
    path = tmp_path / "steps.html"
    page = stepper(hostile_graph(label))
    last = len(page.steps) - 1
    page.save(str(path))
    pg = browser.new_page()
    dialogs, errors = [], []
    pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(path.as_uri())
    pg.wait_for_timeout(300)
    assert dialogs == [] and errors == []
    assert pg.locator("img").count() == 0
    # the page's own script runs: it steps, and the label shows as text
    assert pg.locator("#counter").text_content() == f"step 0 / {last}"
    pg.click("#next")
    assert pg.locator("#stepper").get_attribute("data-step") == "1"
    assert label.replace("\u2028", "").replace("\u2029", "")[:3] in \
        pg.locator("#caption").text_content().replace("\u2028", "").replace("\u2029", "")
    for _ in range(last - 1):
        pg.click("#next")
    assert "Done" in pg.locator("#caption").text_content()
    pg.click("#wire-n0 text >> nth=0")
    assert label in pg.locator("#expansion").text_content()
    assert dialogs == [] and errors == []
    pg.close()


# --- size guard -----------------------------------------------------------------------------

def test_stepper_refuses_a_huge_graph_before_building_any_step(monkeypatch):
    x = Value(1.0, "x")
    y = x
    for _ in range(200_000):
        y = y + 1.0

    def built(*args, **kwargs):
        raise AssertionError("stepper built steps or a diagram of a graph it refuses")
    for name in ("forward_steps", "backward_steps", "_backward", "draw", "chain_rule"):
        if hasattr(steps_module, name):
            monkeypatch.setattr(steps_module, name, built)
    with pytest.raises(GraphTooLarge, match="max_nodes=150"):
        stepper(y)


# --- chain_rule: linear, validated ------------------------------------------------------

def test_chain_rule_memory_is_linear_in_depth():
    """y = x * x * ... * x (4,000 factors): 4,001 paths down to x, one per depth.  The
    walk keeps one pending hop per level; copying each path prefix instead (quadratic)
    holds about 64 MB here."""
    x = Value(0.999, "x")
    y = x
    for _ in range(4000):
        y = y * x
    tracemalloc.start()
    try:
        cr = chain_rule(y, x, max_paths=3)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert cr.n_paths == 4001 and len(cr.paths) == 3
    assert peak < 25e6, peak


@pytest.mark.parametrize("bad", [-1, 0, 2.5, "3", True, None])
def test_chain_rule_max_paths_is_validated(bad):
    x = Value(2.0, "x")
    with pytest.raises(ValueError, match=re.escape(f"chain_rule(max_paths={bad!r})")):
        chain_rule(x * x, x, max_paths=bad)


@pytest.mark.parametrize("bad", [-1, 13, 1.5, "a", None, True])
def test_precision_errors_name_the_argument(bad):
    x = Value(2.0, "x")
    with pytest.raises(ValueError, match=re.escape(f"chain_rule(precision={bad!r})")):
        chain_rule(x * x, x, precision=bad)
    with pytest.raises(ValueError, match=re.escape(f"stepper(precision={bad!r})")):
        stepper(x * x, precision=bad)
