"""The ``gradwire`` command line, run in-process through ``main([...])`` (and once through
the installed console script)."""
import html
import re
import subprocess
import sys
from pathlib import Path

import pytest

from visualize.cli import SIGMOID_EXPR, SIGMOID_SET, main, sigmoid_circuit

ROOT = Path(__file__).resolve().parents[1]
LECTURE_GRADS = {"w0": -0.1966, "x0": 0.3932, "w1": -0.3932, "x1": -0.5898, "w2": 0.1966}


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def table(out):
    """The gradient table rows: name -> (value, gradient)."""
    rows = {}
    for line in out.splitlines():
        m = re.fullmatch(r"\s+(\w+)\s+(-?\d+\.\d+)\s+([+-]\d+\.\d+)", line)
        if m:
            rows[m.group(1)] = (float(m.group(2)), float(m.group(3)))
    return rows


def one_line_error(code, err, *fragments):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("gradwire: error: ")
    assert "Traceback" not in err
    for frag in fragments:
        assert frag in lines[0], lines[0]
    return lines[0]


# --- help -----------------------------------------------------------------------------------

@pytest.mark.parametrize("argv", [["--help"], ["render", "--help"], ["explain", "--help"],
                                  ["train", "--help"], ["demo", "--help"]])
def test_help_on_every_subcommand(capsys, argv):
    code, out, _err = run(capsys, *argv)
    assert code == 0 and out.startswith("usage: gradwire")
    if len(argv) == 2:
        assert f"gradwire {argv[0]}" in out.splitlines()[0]
    else:
        for cmd in ("render", "explain", "train", "demo"):
            assert cmd in out


def test_no_command_and_unknown_command(capsys):
    one_line_error(*run(capsys)[::2], "required: COMMAND")
    one_line_error(*run(capsys, "bogus")[::2], "invalid choice: 'bogus'")


# --- render / explain: the table ----------------------------------------------------------

def test_render_table_matches_the_lecture_and_the_engine(capsys):
    code, out, err = run(capsys, "render", SIGMOID_EXPR, "--set", *SIGMOID_SET)
    assert code == 0 and err == ""
    f, inputs = sigmoid_circuit()
    f.backward()
    assert f"= {f.data:.4f}" in out.splitlines()[0]
    rows = table(out)
    assert list(rows) == ["w0", "x0", "w1", "x1", "w2"]
    for v in inputs:
        assert rows[v.label] == (round(v.data, 4), round(v.grad, 4))
        assert rows[v.label][1] == LECTURE_GRADS[v.label]


def test_explain_prints_forward_backward_and_products(capsys):
    code, out, err = run(capsys, "explain", "x*x + y", "--set", "x=3", "y=1")
    assert code == 0 and err == ""
    fwd, bwd = out.split("backward pass")
    assert "n1 = 3.00 * 3.00 = 9.00" in fwd and "f = 9.00 + 1.00 = 10.00" in fwd
    # each input of x*x gets 1.00 x 3.00, and x sums the two uses
    assert bwd.count("1.00 x 3.00 = 3.00  -> x") == 2
    assert "df/dx = 3.00 + 3.00 = 6.00" in bwd
    assert table(out) == {"x": (3.0, 6.0), "y": (1.0, 1.0)}


def test_explain_sigmoid_circuit_has_the_lecture_numbers(capsys):
    code, out, _ = run(capsys, "explain", SIGMOID_EXPR, "--set", *SIGMOID_SET)
    assert code == 0
    assert "f = 1/1.37 = 0.73" in out
    assert "d(1/x)/dx = -1/x^2 = -0.53;  1.00 x -0.53 = -0.53" in out
    assert "d(exp(x))/dx = e^x = 0.37;  -0.53 x 0.37 = -0.20" in out
    assert "= -0.59  -> x1" in out
    assert table(out)["x1"] == (-2.0, -0.5898)


def test_explain_precision(capsys):
    code, out, _ = run(capsys, "explain", "x/3", "--set", "x=1", "--precision", "4")
    assert code == 0 and "f = 1.0000 / 3 = 0.3333" in out


# --- errors: one line, status 2 -------------------------------------------------------------

@pytest.mark.parametrize("cmd", ["render", "explain"])
@pytest.mark.parametrize("expr, sets, fragments", [
    ("__import__('os')", [], ["unknown function '__import__'", "at column 1"]),
    ("x.real", ["x=1"], ["attribute access is not allowed", "at column 1"]),
    ("x[0]", ["x=1"], ["subscript is not allowed", "at column 1"]),
    ("(lambda: x)()", ["x=1"], ["not lambda", "at column 1"]),
    ("x + 'a'", ["x=1"], ["string 'a' is not allowed", "at column 5"]),
    ("exp(x=1)", [], ["keyword argument 'x='", "at column 5"]),
    ("2**2**100 + x", ["x=1"], ["exponent 1.268e+30 is too large", "at column 4"]),
    ("x*q", ["x=1"], ["name 'q' has no value; give it one with --set q=...", "at column 3"]),
    ("foo(x)", ["x=1"], ["unknown function 'foo'", "at column 1"]),
    ("x +", ["x=1"], ["incomplete expression", "at column 4"]),
    ("x", ["x=1", "z=2"], ["--set z=...: the expression does not use 'z'"]),
    ("x", ["x"], ["--set 'x': expected name=value"]),
    ("x", ["x=one"], ["'one' is not a number"]),
    ("x", ["x=1", "x=2"], ["'x' is set twice"]),
    ("x", ["2x=1"], ["'2x' is not a valid variable name"]),
    ("log(x)", ["x=-1"], ["log (natural logarithm): outside the domain", "at column 1"]),
])
def test_expression_errors(capsys, tmp_path, cmd, expr, sets, fragments):
    target = tmp_path / "f.svg"
    argv = [cmd, expr, "--set", *sets] if sets else [cmd, expr]
    if cmd == "render":
        argv += ["-o", str(target)]
    code, _out, err = run(capsys, *argv)
    one_line_error(code, err, *fragments)
    assert not target.exists()


def test_render_unknown_extensions(capsys, tmp_path):
    code, _, err = run(capsys, "render", "x", "--set", "x=1", "-o", str(tmp_path / "f.txt"))
    one_line_error(code, err, "unknown extension '.txt'", ".svg")
    code, _, err = run(capsys, "render", "x", "--set", "x=1", "-o", str(tmp_path / "f"))
    one_line_error(code, err, "has no extension")
    code, _, err = run(capsys, "render", "x", "--set", "x=1", "--steps",
                       str(tmp_path / "s.svg"))
    one_line_error(code, err, "--steps", "unknown extension '.svg'", ".html")


def test_bad_option_values(capsys):
    one_line_error(*run(capsys, "render", "x", "--set", "x=1", "--style", "fancy")[::2],
                   "invalid choice: 'fancy'")
    one_line_error(*run(capsys, "explain", "x", "--set", "x=1", "--precision", "99")[::2],
                   "--precision")


def console_script():
    """The installed ``gradwire`` script beside the Python running the tests (.venv/bin)."""
    return Path(sys.executable).parent / "gradwire"


def test_console_script_is_installed_and_exits_2_on_bad_input():
    exe = console_script()
    assert exe.exists(), "the package is not installed in .venv (pip install -e .)"
    ok = subprocess.run([str(exe), "render", SIGMOID_EXPR, "--set", *SIGMOID_SET],
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert table(ok.stdout)["w0"] == (2.0, -0.1966)
    bad = subprocess.run([str(exe), "render", "__import__('os').system('echo hi')"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "gradwire: error: only calls of a plain function name are allowed, not attribute "
        "access at column 1 of \"__import__('os').system('echo hi')\""]
    assert "hi" not in bad.stdout


# --- render: the diagram file ---------------------------------------------------------------

@pytest.mark.parametrize("style", ["circuit", "record"])
def test_render_writes_the_diagram_creating_folders(capsys, tmp_path, style):
    target = tmp_path / "deep" / "er" / "sigmoid.svg"
    code, out, err = run(capsys, "render", SIGMOID_EXPR, "--set", *SIGMOID_SET,
                         "-o", str(target), "--style", style)
    assert code == 0, err
    assert f"wrote {target} ({style} style)" in out
    svg = html.unescape(target.read_text())
    assert svg.lstrip().startswith("<?xml") and "</svg>" in svg
    for name in ("w0", "x0", "w1", "x1", "w2"):
        assert re.search(rf">\s*{name}\s*<", svg), name
    # the forward value and a gradient the lecture shows, and the 1/x gate
    assert "0.73" in svg and "-0.59" in svg and "1/x" in svg


def test_render_png(capsys, tmp_path):
    target = tmp_path / "f.png"
    code, _, err = run(capsys, "render", "x*y", "--set", "x=2", "y=3", "-o", str(target))
    assert code == 0, err
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_render_steps_page(capsys, tmp_path):
    page = tmp_path / "pages" / "steps.html"
    code, out, err = run(capsys, "render", SIGMOID_EXPR, "--set", *SIGMOID_SET,
                         "--steps", str(page))
    assert code == 0, err
    assert f"wrote {page}" in out
    text = page.read_text()
    assert 'id="stepper"' in text and "<svg" in text
    assert "-0.53" in html.unescape(text)  # the 1/x gate's local gradient, in the steps


# --- train ----------------------------------------------------------------------------------

def test_train_prints_loss_and_accuracy_and_saves_the_model(capsys, tmp_path):
    import nn
    target = tmp_path / "models" / "moons.json"
    code, out, err = run(capsys, "train", "--dataset", "moons", "--hidden", "8,8",
                         "--steps", "60", "--seed", "1", "--save", str(target))
    assert code == 0, err
    assert "trained MLP 2-8-8-1 on moons (100 points) for 60 steps" in out
    m = re.search(r"loss (\d+\.\d+) -> (\d+\.\d+), final accuracy (\d+\.\d)%", out)
    assert m, out
    first, last, acc = map(float, m.groups())
    assert last < first and 50.0 < acc <= 100.0
    assert f"wrote {target}" in out
    model = nn.MLP.load(str(target))
    assert [len(layer.neurons) for layer in model.layers] == [8, 8, 1]
    X, y = nn.datasets.moons(100, seed=1, labels="pm1")
    assert nn.accuracy(model, X, y) > 0.7
    assert "60/60" in err  # the progress bar (on stderr)


def test_train_multiclass_defaults_to_cross_entropy(capsys):
    code, out, err = run(capsys, "train", "--dataset", "spiral", "--hidden", "8",
                         "--steps", "5", "--optimizer", "adam", "--no-progress")
    assert code == 0, err
    assert "trained MLP 2-8-3 on spiral (100 points) for 5 steps" in out
    assert err == ""


@pytest.mark.parametrize("argv, fragments", [
    (["--hidden", "8,x"], ["--hidden: '8,x': expected layer sizes separated by commas"]),
    (["--hidden", "8,0"], ["each layer size must be between 1 and 1024"]),
    (["--dataset", "mnist"], ["invalid choice: 'mnist'", "moons"]),
    (["--dataset", "spiral", "--loss", "hinge"], ["--loss hinge is for two classes"]),
    (["--dataset", "blobs", "--loss", "bce"], ["--loss bce is for two classes; blobs has 3"]),
    (["--optimizer", "rmsprop"], ["invalid choice: 'rmsprop'"]),
    (["--steps", "0"], ["--steps: must be an integer from 1 to 100,000, got '0'"]),
    (["--lr", "fast"], ["--lr: must be a number > 0, got 'fast'"]),
    (["--batch-size", "-3"], ["--batch-size: must be an integer from 1 to 10,000, got '-3'"]),
    (["--save", "model.pkl"], ["--save 'model.pkl': unknown extension '.pkl'", ".json"]),
    (["--plot", "boundary.gif"], ["--plot 'boundary.gif': unknown extension '.gif'"]),
])
def test_train_errors(capsys, argv, fragments):
    code, out, err = run(capsys, "train", "--steps", "2", "--no-progress", *argv)
    one_line_error(code, err, *fragments)
    assert "trained" not in out


def test_train_plot_writes_a_png(capsys, tmp_path):
    target = tmp_path / "plots" / "boundary.png"
    code, out, err = run(capsys, "train", "--dataset", "xor", "--hidden", "4",
                         "--steps", "3", "--no-progress", "--plot", str(target))
    assert code == 0, err
    assert f"wrote {target}" in out
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --- demo -----------------------------------------------------------------------------------

def test_demo_writes_every_file_and_says_where(capsys, tmp_path):
    import nn
    out_dir = tmp_path / "demo-out"
    code, out, err = run(capsys, "demo", "--out", str(out_dir))
    assert code == 0, err
    assert "= 0.7311" in out and "df/dx1 = -0.5898" in out
    names = ["sigmoid.svg", "sigmoid-record.svg", "steps.html", "network.svg",
             "moons-model.json", "moons-boundary.png"]
    for name in names:
        path = out_dir / name
        assert path.is_file() and path.stat().st_size > 0, name
        assert str(path) in out, name  # printed where it is
    assert "</svg>" in (out_dir / "sigmoid.svg").read_text()
    assert 'id="stepper"' in (out_dir / "steps.html").read_text()
    m = re.search(r"trained MLP 2-8-8-1 on moons for 50 steps .* accuracy (\d+)%", out)
    assert m and int(m.group(1)) >= 80
    model = nn.MLP.load(str(out_dir / "moons-model.json"))
    assert model.nin == 2 and model.nouts == [8, 8, 1]
