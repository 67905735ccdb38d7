"""The command line against hostile or careless input: every case ends in one line
``gradwire: error: ...`` with exit status 2 naming the option or the value (never a
traceback, never a printed ``inf`` or a 300-digit number), is refused before any file is
written, or works as a user would expect (a formula starting with ``-``)."""
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

from visualize import cli
from visualize.cli import main

ROOT = Path(__file__).resolve().parents[1]
LONG_DIGITS = re.compile(r"\d{30,}")  # a float printed in fixed point


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code, err, *fragments):
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("gradwire: error: "), err
    assert "Traceback" not in err
    for frag in fragments:
        assert frag in lines[0], lines[0]
    return lines[0]


def table(out):
    """The gradient table rows: name -> (value text, gradient text)."""
    rows = {}
    for line in out.splitlines():
        m = re.fullmatch(r"\s+(\w+)\s+(-?[\d.e+-]+)\s+([+-][\d.e+-]+)", line)
        if m:
            rows[m.group(1)] = (m.group(2), m.group(3))
    return rows


@pytest.fixture
def no_dot(tmp_path, monkeypatch):
    """A PATH on which Graphviz's ``dot`` cannot be found."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


# --- render / explain: errors inside the engine -------------------------------------------

@pytest.mark.parametrize("cmd", ["render", "explain"])
@pytest.mark.parametrize("expr, sets, fragments", [
    ("sqrt(x)", ["x=0"], ["backward pass of 'sqrt(x)'", "sqrt", "1/(2*sqrt(x))"]),
    ("x**0.5", ["x=0"], ["backward pass of 'x**0.5'", "**0.5"]),
    ("x*x", ["x=1e200"], ["'x*x': the value is not finite", "x = 1e+200", "--set"]),
    ("1/x", ["x=1e-310"], ["'1/x': the value is not finite", "1/x"]),
    ("x/y", ["x=1e300", "y=1e-300"], ["the value is not finite"]),
    ("x**x", ["x=-1"], ["the gradient df/dx is nan at x = -1"]),
])
def test_engine_failures_are_one_line_and_print_nothing(capsys, cmd, expr, sets, fragments):
    code, out, err = run(capsys, cmd, expr, "--set", *sets)
    one_line_error(code, err, *fragments)
    assert out == ""  # refused before the steps or the table


@pytest.mark.parametrize("cmd", ["render", "explain"])
@pytest.mark.parametrize("expr, sets", [("x", ["x=1e300"]), ("x*1", ["x=1e300"]),
                                        ("exp(x)", ["x=709"]), ("x*x", ["x=1e150"])])
def test_huge_finite_numbers_print_in_e_notation(capsys, cmd, expr, sets):
    code, out, err = run(capsys, cmd, expr, "--set", *sets)
    assert code == 0, err
    assert not LONG_DIGITS.search(out), out
    value, grad = table(out)["x"]
    assert float(value) == float(sets[0].split("=")[1])
    f, leaves = cli._build(expr, sets)
    f.backward()
    assert float(grad) == pytest.approx(leaves["x"].grad, rel=1e-4)


# --- formulas -------------------------------------------------------------------------------

@pytest.mark.parametrize("cmd", ["render", "explain"])
@pytest.mark.parametrize("expr, grad", [("-x*2", "-2.0000"), ("-x", "-1.0000"),
                                        ("-(x+1)", "-1.0000"), ("-exp(x)", "-2.7183")])
def test_a_formula_may_start_with_minus(capsys, cmd, expr, grad):
    code, out, err = run(capsys, cmd, expr, "--set", "x=1")
    assert code == 0, err
    assert table(out)["x"] == ("1.0000", grad)


def test_a_formula_starting_with_minus_and_an_output_file(capsys, tmp_path):
    code, _out, err = run(capsys, "render", "-x*2", "-o", "f.svg", "--set", "x=3")
    assert code == 0, err
    assert "</svg>" in (tmp_path / "f.svg").read_text()


def test_a_formula_after_set_says_to_put_it_first(capsys):
    code, _, err = run(capsys, "render", "--set", "x=1", "-x*2")
    one_line_error(code, err, "give the formula first")


def test_a_flat_500_term_sum_works(capsys):
    expr = "+".join(["x"] * 500)
    code, out, err = run(capsys, "explain", expr, "--set", "x=0.5")
    assert code == 0, err
    assert table(out)["x"] == ("0.5000", "+500.0000")


def test_deep_nesting_is_one_line(capsys):
    code, _, err = run(capsys, "render", "exp(" * 150 + "x" + ")" * 150, "--set", "x=0")
    one_line_error(code, err, "nested too deeply")


def test_undecodable_bytes_in_a_formula_are_one_line(capsys):
    # argv bytes that are not UTF-8 reach Python as lone surrogates
    code, _, err = run(capsys, "render", "x\udcff", "--set", "x=1")
    one_line_error(code, err, "not text", "column 2")


# --- output files ---------------------------------------------------------------------------

@pytest.mark.parametrize("argv, fragments", [
    (["render", "x", "--set", "x=1", "-o", ""], ["-o", "empty"]),
    (["render", "x", "--set", "x=1", "--steps", " "], ["--steps", "empty"]),
    (["render", "x", "--set", "x=1", "-o", "a\nb.svg"], ["-o", "control", "\\n"]),
    (["render", "x", "--set", "x=1", "-o", "a\x1b[2Jb.svg"], ["-o", "\\x1b"]),
    (["render", "x", "--set", "x=1", "-o", "a\udcffb.svg"], ["-o", "\\udcff"]),
    (["train", "--steps", "1", "--save", ""], ["--save", "empty"]),
    (["train", "--steps", "1", "--plot", "p\tq.png"], ["--plot", "\\t"]),
    (["demo", "--out", ""], ["--out", "empty"]),
    (["demo", "--out", "d\nd"], ["--out", "\\n"]),
])
def test_bad_file_names_are_refused(capsys, tmp_path, argv, fragments):
    code, out, err = run(capsys, *argv)
    one_line_error(code, err, *fragments)
    assert list(tmp_path.iterdir()) == []
    assert "trained" not in out


def test_a_folder_as_output_file_is_refused_before_any_output(capsys, tmp_path):
    (tmp_path / "f.svg").mkdir()
    code, out, err = run(capsys, "render", "x", "--set", "x=1", "-o", "f.svg")
    one_line_error(code, err, "-o 'f.svg' is a folder")
    assert out == ""


def test_a_graph_over_the_steppers_cap_is_refused_before_writing(capsys, tmp_path):
    from visualize import stepper
    cap = inspect.signature(stepper).parameters["max_nodes"].default
    expr = "+".join(["x"] * (cap + 2))  # cap+2 nodes: one input and cap+1 sums
    code, _out, err = run(capsys, "render", expr, "--set", "x=1", "-o", "f.svg",
                         "--steps", "s.html")
    one_line_error(code, err, "--steps 's.html'", str(cap))
    assert list(tmp_path.iterdir()) == []  # not even the diagram


@pytest.mark.parametrize("option, name", [("-o", "f.svg"), ("--steps", "s.html")])
def test_render_without_dot_is_one_line_before_writing(capsys, tmp_path, no_dot, option,
                                                       name):
    code, _out, err = run(capsys, "render", "x*y", "--set", "x=1", "y=2", option, name)
    one_line_error(code, err, f"{option} needs Graphviz", "dot")
    assert list(tmp_path.iterdir()) == [tmp_path / "empty-bin"]


def test_a_full_disk_on_save_names_the_option(capsys, tmp_path, monkeypatch):
    import nn

    def full(self, path):
        raise OSError(28, "No space left on device", str(tmp_path / ".m.json.1234.tmp"))
    monkeypatch.setattr(nn.MLP, "save", full)
    code, _out, err = run(capsys, "train", "--steps", "1", "--no-progress",
                         "--save", "m.json")
    one_line_error(code, err, "--save 'm.json': cannot write: No space left on device")
    assert ".tmp" not in err


# --- demo -----------------------------------------------------------------------------------

def test_demo_without_dot_writes_nothing(capsys, tmp_path, no_dot):
    code, _out, err = run(capsys, "demo", "--out", "demo-out")
    one_line_error(code, err, "demo needs Graphviz", "dot")
    assert not (tmp_path / "demo-out").exists()


def test_demo_without_matplotlib_writes_nothing(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib fails
    code, _out, err = run(capsys, "demo", "--out", "demo-out")
    one_line_error(code, err, "demo needs matplotlib", "pip install")
    assert not (tmp_path / "demo-out").exists()


def test_write_demo_without_dot_raises_before_creating_the_folder(tmp_path, no_dot):
    from visualize.demo import write_demo
    from visualize.diagram import GraphvizNotFound
    with pytest.raises(GraphvizNotFound, match="dot"):
        write_demo(str(tmp_path / "d"))
    assert not (tmp_path / "d").exists()


# --- train ----------------------------------------------------------------------------------

@pytest.mark.parametrize("argv, fragments", [
    (["--seed", "-1"], ["--seed", "'-1'"]),
    (["--seed", str(2 ** 64)], ["--seed"]),
    (["--noise", "1e308"], ["--noise", "<= 100", "'1e308'"]),
    (["--samples", "10000000"], ["--samples", "10,000", "'10000000'"]),
    (["--steps", "10000000000"], ["--steps", "100,000"]),
    (["--hidden", ",".join(["1024"] * 50)], ["--hidden", "parameters (at most 100,000)"]),
    (["--hidden", "64,64", "--samples", "10000"],
     ["one step would run 10,000 points through 4,417 parameters", "--batch-size"]),
    (["--dataset", "spiral", "--samples", "1"], ["--samples 1: spiral needs at least 3"]),
    (["--dataset", "blobs", "--samples", "2"], ["--samples 2: blobs needs at least 3"]),
    (["--lr", "1e308", "--save", "m.json"], ["training diverged", "--lr"]),
    (["--lr", "1e308", "--compile"], ["training diverged", "--lr"]),
    (["--lr", "1e308", "--optimizer", "adam", "--loss", "bce"], ["diverged", "--lr"]),
    (["--l2", "1e308"], ["diverged", "--l2"]),
])
def test_train_hostile_options(capsys, tmp_path, argv, fragments):
    code, out, err = run(capsys, "train", "--steps", "3", "--no-progress", *argv)
    one_line_error(code, err, *fragments)
    assert "trained" not in out
    assert not LONG_DIGITS.search(out + err)
    assert list(tmp_path.iterdir()) == []  # nothing saved


def test_train_noise_minus_zero_is_zero(capsys):
    code, out, err = run(capsys, "train", "--steps", "2", "--no-progress", "--noise", "-0.0")
    assert code == 0, err
    assert "trained MLP 2-16-16-1 on moons (100 points)" in out


def test_train_spiral_with_few_samples_says_how_many(capsys):
    code, out, err = run(capsys, "train", "--dataset", "spiral", "--samples", "4",
                         "--steps", "1", "--no-progress", "--hidden", "4")
    assert code == 0, err
    assert "on spiral (4 points)" in out  # exactly as asked, not silently more or fewer


def test_train_plot_without_matplotlib_is_refused_before_training(capsys, tmp_path,
                                                                  monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    code, out, err = run(capsys, "train", "--steps", "2", "--no-progress",
                         "--plot", "p.png", "--save", "m.json")
    one_line_error(code, err, "--plot needs matplotlib")
    assert out == "" and list(tmp_path.iterdir()) == []


def test_train_without_tqdm_names_the_extra(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    code, _out, err = run(capsys, "train", "--steps", "2")
    assert code == 0
    assert err.strip().splitlines() == [
        "gradwire: no progress bar without tqdm: pip install 'gradwire[progress]'"]


def test_an_unexpected_library_error_is_still_one_line(capsys, monkeypatch):
    import nn

    def broken(*args, **kwargs):
        raise KeyError("layers")
    monkeypatch.setattr(nn, "fit", broken)
    code, _, err = run(capsys, "train", "--steps", "1", "--no-progress")
    one_line_error(code, err, "training failed", "layers")


# --- packaging ------------------------------------------------------------------------------

def test_matplotlib_is_a_core_dependency():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = [re.split(r"[<>=!~ ;\[]", d)[0].lower() for d in project["dependencies"]]
    assert {"numpy", "graphviz", "matplotlib"} <= set(core)
    extras = project["optional-dependencies"]
    assert any(d.startswith("ipywidgets") for d in extras["notebook"])
    assert any(d.startswith("tqdm") for d in extras["progress"])


# --- the installed console script: no traceback -------------------------------------------

@pytest.mark.parametrize("argv, env_path_without_dot, fragment", [
    (["render", "sqrt(x)", "--set", "x=0"], False, "sqrt"),
    (["explain", "sqrt(x)", "--set", "x=0"], False, "sqrt"),
    (["train", "--seed", "-1"], False, "--seed"),
    (["train", "--lr", "1e308", "--steps", "3", "--no-progress", "--save", "m.json"], False,
     "--lr"),
    (["demo", "--out", "d"], True, "Graphviz"),
])
def test_console_script_gives_one_line_and_no_traceback(tmp_path, argv,
                                                        env_path_without_dot, fragment):
    import os
    exe = Path(sys.executable).parent / "gradwire"
    assert exe.exists(), "the package is not installed beside this Python (pip install -e .)"
    env = dict(os.environ)
    if env_path_without_dot:
        (tmp_path / "bin").mkdir()
        env["PATH"] = str(tmp_path / "bin")
    r = subprocess.run([str(exe), *argv], capture_output=True, text=True, timeout=120,
                       cwd=tmp_path, env=env)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert r.stderr.startswith("gradwire: error: ") and fragment in r.stderr
    assert not (tmp_path / "d").exists() and not (tmp_path / "m.json").exists()


@pytest.mark.parametrize("error", [FloatingPointError("loss is nan at step 3"),
                                   ValueError("fit: the loss became inf at step 3")])
def test_fit_stopping_on_a_non_finite_loss_names_lr(capsys, monkeypatch, error):
    import nn

    def stops(*args, **kwargs):
        raise error
    monkeypatch.setattr(nn, "fit", stops)
    code, _, err = run(capsys, "train", "--steps", "5", "--no-progress", "--lr", "50")
    one_line_error(code, err, "training diverged", "at step 3", "try a smaller --lr than 50")
